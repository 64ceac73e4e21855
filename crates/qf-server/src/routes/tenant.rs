//! The tenant itself, its members and invitations, and its API keys.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use qf_store::{ApiKey, ApiKeyId, CreatedBy, Invitation, InvitationId, Membership, Role, UserId};

use crate::app::AppState;
use crate::auth::{
    Actor, Principal, Scope, SecretKind, days_from_now, hash_secret, key_prefix, new_secret,
};
use crate::problem::{ApiJson, Problem};

/// The caller's tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// The caller's role in it.
    pub role: String,
    /// The caller's scopes.
    pub scopes: Vec<String>,
}

impl TenantView {
    /// The tenant as `p` sees it.
    fn new(t: qf_store::Tenant, p: &Principal) -> Self {
        TenantView {
            id: t.id.to_string(),
            name: t.name,
            created_at: t.created_at,
            role: p.role.as_str().into(),
            scopes: Scope::names(&p.scopes),
        }
    }
}

/// The caller's tenant, role and scopes.
#[utoipa::path(get, path = "/v1/tenant", tag = "tenant", responses((status = 200, body = TenantView)))]
pub async fn get_tenant(
    State(app): State<AppState>,
    p: Principal,
) -> Result<Json<TenantView>, Problem> {
    p.require(Scope::Read)?;
    let t = app.store.tenant(&p.tenant).await?;
    Ok(Json(TenantView::new(t, &p)))
}

/// `PATCH /v1/tenant` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rename {
    /// The new name, 1 to 100 characters.
    pub name: String,
}

/// Renames the tenant (owner).
#[utoipa::path(patch, path = "/v1/tenant", tag = "tenant", request_body = Rename, responses((status = 200, body = TenantView)))]
pub async fn rename_tenant(
    State(app): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<Rename>,
) -> Result<Json<TenantView>, Problem> {
    p.require(Scope::Owner)?;
    let name = check_name("name", &body.name)?;
    let t = app.store.rename_tenant(&p.tenant, name).await?;
    Ok(Json(TenantView::new(t, &p)))
}

/// Checks a human-given name: trimmed, 1 to 100 characters, no control characters.
pub fn check_name<'a>(field: &str, name: &'a str) -> Result<&'a str, Problem> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Problem::validation(
            field,
            format!("{field} must be 1 to 100 characters without control characters"),
        ));
    }
    Ok(name)
}

fn parse_role(field: &str, s: &str) -> Result<Role, Problem> {
    Role::parse(s).ok_or_else(|| {
        Problem::validation(
            field,
            format!("{field} must be one of owner, admin, developer, viewer; not {s:?}"),
        )
    })
}

/// A member of the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user_id: String,
    pub email: String,
    pub name: String,
    pub role: String,
    pub created_at: i64,
}

impl From<Membership> for MemberView {
    fn from(m: Membership) -> Self {
        MemberView {
            user_id: m.user_id.to_string(),
            email: m.email,
            name: m.name,
            role: m.role.as_str().into(),
            created_at: m.created_at,
        }
    }
}

/// Lists the tenant's members.
#[utoipa::path(get, path = "/v1/members", tag = "members", responses((status = 200, body = [MemberView])))]
pub async fn list_members(
    State(app): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<MemberView>>, Problem> {
    p.require(Scope::Read)?;
    Ok(Json(
        app.store
            .members(&p.tenant)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// `PATCH /v1/members/{user_id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRole {
    /// owner, admin, developer or viewer.
    pub role: String,
}

fn member_id(id: &str) -> Result<UserId, Problem> {
    UserId::parse(id).ok_or_else(|| Problem::not_found("no such member in this tenant"))
}

/// Only an owner may make or unmake owners; a tenant always keeps one.
async fn check_owner_change(
    app: &AppState,
    p: &Principal,
    target: &Membership,
    new_role: Option<Role>,
) -> Result<(), Problem> {
    let touches_owner = target.role == Role::Owner || new_role == Some(Role::Owner);
    if touches_owner && !p.scopes.contains(&Scope::Owner) {
        return Err(Problem::forbidden(
            "only an owner may grant or take away the owner role",
        ));
    }
    if target.role == Role::Owner && new_role != Some(Role::Owner) {
        let owners = app
            .store
            .members(&p.tenant)
            .await?
            .iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        if owners <= 1 {
            return Err(Problem::conflict(
                "the tenant's last owner cannot be demoted or removed",
            ));
        }
    }
    Ok(())
}

/// Changes a member's role (admin; owner for the owner role).
#[utoipa::path(patch, path = "/v1/members/{user_id}", tag = "members", request_body = SetRole,
    params(("user_id" = String, Path)), responses((status = 200, body = MemberView), (status = 404),
        (status = 409, description = "the tenant's last owner cannot be demoted")))]
pub async fn set_member_role(
    State(app): State<AppState>,
    p: Principal,
    Path(user_id): Path<String>,
    ApiJson(body): ApiJson<SetRole>,
) -> Result<Json<MemberView>, Problem> {
    p.require(Scope::Manage)?;
    let role = parse_role("role", &body.role)?;
    let user = member_id(&user_id)?;
    let target = app
        .store
        .member(&p.tenant, &user)
        .await?
        .ok_or_else(|| Problem::not_found("no such member in this tenant"))?;
    check_owner_change(&app, &p, &target, Some(role)).await?;
    Ok(Json(
        app.store
            .set_member_role(&p.tenant, &user, role)
            .await?
            .into(),
    ))
}

/// Removes a member (admin; owner to remove an owner).
#[utoipa::path(delete, path = "/v1/members/{user_id}", tag = "members",
    params(("user_id" = String, Path)), responses((status = 204), (status = 404),
        (status = 409, description = "the tenant's last owner cannot be removed")))]
pub async fn remove_member(
    State(app): State<AppState>,
    p: Principal,
    Path(user_id): Path<String>,
) -> Result<StatusCode, Problem> {
    p.require(Scope::Manage)?;
    let user = member_id(&user_id)?;
    let target = app
        .store
        .member(&p.tenant, &user)
        .await?
        .ok_or_else(|| Problem::not_found("no such member in this tenant"))?;
    check_owner_change(&app, &p, &target, None).await?;
    app.store.remove_member(&p.tenant, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation to join the tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub role: String,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    /// The secret to give the invitee (shown once, at creation); they accept with
    /// `POST /v1/invitations/accept`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        InvitationView {
            id: i.id.to_string(),
            email: i.email,
            role: i.role.as_str().into(),
            expires_at: i.expires_at,
            accepted_at: i.accepted_at,
            revoked_at: i.revoked_at,
            created_at: i.created_at,
            token: None,
        }
    }
}

/// `POST /v1/invitations` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invite {
    /// The invitee's email address.
    pub email: String,
    /// The role they get: admin, developer or viewer (owner only from an owner).
    pub role: String,
    /// Days until the invitation expires (1 to 30, default 7).
    pub expires_in_days: Option<u32>,
}

/// Lists invitations (admin).
#[utoipa::path(get, path = "/v1/invitations", tag = "members", responses((status = 200, body = [InvitationView])))]
pub async fn list_invitations(
    State(app): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<InvitationView>>, Problem> {
    p.require(Scope::Manage)?;
    Ok(Json(
        app.store
            .invitations(&p.tenant)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Invites someone by email (admin). The response carries the invitation token once.
#[utoipa::path(post, path = "/v1/invitations", tag = "members", request_body = Invite,
    responses((status = 201, body = InvitationView)))]
pub async fn invite(
    State(app): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<Invite>,
) -> Result<(StatusCode, Json<InvitationView>), Problem> {
    p.require(Scope::Manage)?;
    let role = parse_role("role", &body.role)?;
    if role == Role::Owner && !p.scopes.contains(&Scope::Owner) {
        return Err(Problem::forbidden("only an owner may invite an owner"));
    }
    let email = check_email(&body.email)?;
    let days = body.expires_in_days.unwrap_or(7);
    if !(1..=30).contains(&days) {
        return Err(Problem::validation(
            "expires_in_days",
            "expires_in_days must be 1 to 30",
        ));
    }
    let token = new_secret(SecretKind::Invitation);
    let expires_at = days_from_now(days);
    let inv = app
        .store
        .create_invitation(&p.tenant, email, role, &hash_secret(&token), expires_at)
        .await?;
    let mut view = InvitationView::from(inv);
    view.token = Some(token);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Checks an email address loosely: one `@` with something on both sides, no spaces.
pub fn check_email(email: &str) -> Result<&str, Problem> {
    let e = email.trim();
    let ok = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.contains('@'));
    if ok {
        Ok(e)
    } else {
        Err(Problem::validation(
            "email",
            format!("{email:?} is not an email address"),
        ))
    }
}

/// Revokes an invitation (admin).
#[utoipa::path(delete, path = "/v1/invitations/{id}", tag = "members",
    params(("id" = String, Path)), responses((status = 204), (status = 404)))]
pub async fn revoke_invitation(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    p.require(Scope::Manage)?;
    let id = InvitationId::parse(&id).ok_or_else(|| Problem::not_found("no such invitation"))?;
    app.store.revoke_invitation(&p.tenant, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An API key as listed: never the secret, except once in the creation response.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    pub role: String,
    pub scopes: Vec<String>,
    /// Who created the key: a user id (`usr_…`) for a signed-in person, a key id for a key
    /// made with another key; absent for keys made by `qf admin`.
    pub created_by: Option<String>,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub created_at: i64,
    /// The key itself: shown once, at creation, and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        KeyView {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            role: k.role.as_str().into(),
            scopes: k.scopes,
            created_by: k
                .created_by
                .map(|u| u.to_string())
                .or_else(|| k.created_by_key.map(|id| id.to_string())),
            expires_at: k.expires_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
            created_at: k.created_at,
            key: None,
        }
    }
}

/// `POST /v1/api-keys` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for.
    pub name: String,
    /// The key's role (default developer); never above the creator's.
    pub role: Option<String>,
    /// Narrower scopes than the role grants (read, run, manage, owner).
    pub scopes: Option<Vec<String>>,
    /// Days until the key expires (1 to 3650); no expiry when absent.
    pub expires_in_days: Option<u32>,
}

/// Lists the tenant's API keys (admin).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", responses((status = 200, body = [KeyView])))]
pub async fn list_keys(
    State(app): State<AppState>,
    p: Principal,
) -> Result<Json<Vec<KeyView>>, Problem> {
    p.require(Scope::Manage)?;
    Ok(Json(
        app.store
            .api_keys(&p.tenant)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// Creates an API key (admin). The key is in the response once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", request_body = NewKey,
    responses((status = 201, body = KeyView)))]
pub async fn create_key(
    State(app): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<KeyView>), Problem> {
    p.require(Scope::Manage)?;
    let name = check_name("name", &body.name)?;
    let role = match &body.role {
        Some(r) => parse_role("role", r)?,
        None => Role::Developer,
    };
    if role.rank() > p.role.rank() {
        return Err(Problem::forbidden(format!(
            "a {} cannot create a key with the {} role",
            p.role.as_str(),
            role.as_str()
        )));
    }
    let allowed = Scope::of_role(role);
    let scopes: Vec<String> = match &body.scopes {
        None => Scope::names(allowed),
        Some(list) => {
            let mut out = Vec::new();
            for s in list {
                match Scope::parse(s) {
                    Some(x) if allowed.contains(&x) => out.push(x.as_str().to_string()),
                    Some(_) => {
                        return Err(Problem::validation(
                            "scopes",
                            format!("the {} role does not grant the {s} scope", role.as_str()),
                        ));
                    }
                    None => {
                        return Err(Problem::validation(
                            "scopes",
                            format!("unknown scope {s:?}; scopes are read, run, manage, owner"),
                        ));
                    }
                }
            }
            out
        }
    };
    let expires_at = match body.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(days_from_now(d)),
        Some(_) => {
            return Err(Problem::validation(
                "expires_in_days",
                "expires_in_days must be 1 to 3650",
            ));
        }
    };
    let creator = match &p.actor {
        Actor::User { user, .. } => CreatedBy::User(user),
        Actor::Key(id) => CreatedBy::Key(id),
    };
    let (view, _) = issue_key(
        &app.store,
        &p.tenant,
        name,
        role,
        &scopes,
        Some(creator),
        expires_at,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Creates a key and returns its view with the secret filled in (also used by
/// `qf admin` and the demo).
pub async fn issue_key(
    store: &qf_store::Store,
    tenant: &qf_store::TenantId,
    name: &str,
    role: Role,
    scopes: &[String],
    created_by: Option<CreatedBy<'_>>,
    expires_at: Option<i64>,
) -> Result<(KeyView, String), Problem> {
    let secret = new_secret(SecretKind::ApiKey);
    let k = store
        .create_api_key(
            tenant,
            name,
            &key_prefix(&secret),
            &hash_secret(&secret),
            role,
            scopes,
            created_by,
            expires_at,
        )
        .await?;
    let mut view = KeyView::from(k);
    view.key = Some(secret.clone());
    Ok((view, secret))
}

/// Revokes an API key (admin); it stops working at once. Like creating one, it keeps the
/// role order: an admin cannot revoke an owner's key.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path)), responses((status = 200, body = KeyView),
        (status = 403, description = "the key's role is above the caller's"), (status = 404)))]
pub async fn revoke_key(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<KeyView>, Problem> {
    p.require(Scope::Manage)?;
    let id = ApiKeyId::parse(&id).ok_or_else(|| Problem::not_found("no such API key"))?;
    // A key's role never changes, so checking it before the revocation is race-free.
    let key = app.store.api_key(&p.tenant, &id).await?;
    if key.role.rank() > p.role.rank() {
        return Err(Problem::forbidden(format!(
            "a {} cannot revoke a key with the {} role",
            p.role.as_str(),
            key.role.as_str()
        )));
    }
    Ok(Json(app.store.revoke_api_key(&p.tenant, &id).await?.into()))
}
