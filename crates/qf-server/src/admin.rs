//! Bootstrapping without the API (`qf admin …`) and the demo tenant (`qf serve --demo`).

use serde::Serialize;

use qf_store::{Role, Store, TenantId};

use crate::auth::{Scope, check_password, hash_password};
use crate::problem::Problem;
use crate::routes::tenant::{check_email, check_name, issue_key};

/// What `qf admin tenant create` made.
#[derive(Debug, Serialize)]
pub struct NewTenant {
    pub tenant_id: String,
    pub name: String,
    /// An owner API key, shown once.
    pub api_key: String,
    pub key_id: String,
    /// The owner account, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<String>,
}

fn parse_role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s)
        .ok_or_else(|| anyhow::anyhow!("role must be owner, admin, developer or viewer, not {s:?}"))
}

fn problem(p: Problem) -> anyhow::Error {
    anyhow::anyhow!("{}", p)
}

/// Creates a tenant with an owner API key, and an owner account if `owner` is given.
pub async fn create_tenant(
    store: &Store,
    name: &str,
    owner: Option<(&str, &str, &str)>,
) -> anyhow::Result<NewTenant> {
    let name = check_name("name", name).map_err(problem)?;
    let tenant = store.create_tenant(name).await?;
    let mut owner_user_id = None;
    if let Some((email, user_name, password)) = owner {
        let user = create_user(store, email, user_name, password).await?;
        store.add_member(&tenant.id, &user, Role::Owner).await?;
        owner_user_id = Some(user.to_string());
    }
    let (view, secret) = issue_key(
        store,
        &tenant.id,
        "owner key (qf admin)",
        Role::Owner,
        &Scope::names(Scope::of_role(Role::Owner)),
        None,
        None,
    )
    .await
    .map_err(problem)?;
    Ok(NewTenant {
        tenant_id: tenant.id.to_string(),
        name: tenant.name,
        api_key: secret,
        key_id: view.id,
        owner_user_id,
    })
}

/// Creates a person's account.
pub async fn create_user(
    store: &Store,
    email: &str,
    name: &str,
    password: &str,
) -> anyhow::Result<qf_store::UserId> {
    let email = check_email(email).map_err(problem)?;
    check_password(password).map_err(problem)?;
    let hash = hash_password(password).map_err(problem)?;
    Ok(store.create_user(email, name, &hash).await?.id)
}

/// What `qf admin user create` made.
#[derive(Debug, Serialize)]
pub struct NewUser {
    pub user_id: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Creates an account and, given a tenant, makes it a member with `role`.
pub async fn create_member(
    store: &Store,
    email: &str,
    name: &str,
    password: &str,
    tenant: Option<&str>,
    role: &str,
) -> anyhow::Result<NewUser> {
    let role = parse_role(role)?;
    let tenant = match tenant {
        Some(t) => Some(tenant_id(store, t).await?),
        None => None,
    };
    let user = create_user(store, email, name, password).await?;
    if let Some(t) = &tenant {
        store.add_member(t, &user, role).await?;
    }
    Ok(NewUser {
        user_id: user.to_string(),
        email: email.trim().to_lowercase(),
        role: tenant.as_ref().map(|_| role.as_str().to_string()),
        tenant_id: tenant.map(|t| t.to_string()),
    })
}

async fn tenant_id(store: &Store, id: &str) -> anyhow::Result<TenantId> {
    let t =
        TenantId::parse(id).ok_or_else(|| anyhow::anyhow!("{id:?} is not a tenant id (ten_…)"))?;
    store
        .tenant(&t)
        .await
        .map_err(|_| anyhow::anyhow!("no tenant {id}"))?;
    Ok(t)
}

/// What `qf admin key create` made.
#[derive(Debug, Serialize)]
pub struct NewKey {
    pub key_id: String,
    pub tenant_id: String,
    pub api_key: String,
    pub prefix: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
}

/// Creates an API key in a tenant.
pub async fn create_key(
    store: &Store,
    tenant: &str,
    name: &str,
    role: &str,
    expires_in_days: Option<u32>,
) -> anyhow::Result<NewKey> {
    let role = parse_role(role)?;
    let t = tenant_id(store, tenant).await?;
    let name = check_name("name", name).map_err(problem)?;
    let expires_at = expires_in_days.map(crate::auth::days_from_now);
    let (view, secret) = issue_key(
        store,
        &t,
        name,
        role,
        &Scope::names(Scope::of_role(role)),
        None,
        expires_at,
    )
    .await
    .map_err(problem)?;
    Ok(NewKey {
        key_id: view.id,
        tenant_id: t.to_string(),
        api_key: secret,
        prefix: view.prefix,
        role: view.role,
        scopes: view.scopes,
        expires_at: view.expires_at,
    })
}
