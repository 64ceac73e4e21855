//! Signing in and out: password login, token refresh, logout, accepting an invitation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use qf_store::{Role, TenantId, User, now_ns};

use crate::app::AppState;
use crate::auth::{
    Actor, Principal, SecretKind, check_password, hash_password, hash_secret, new_secret,
    verify_password,
};
use crate::problem::{ApiJson, Problem};

/// `POST /v1/auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The person's email address.
    pub email: String,
    /// Their password.
    pub password: String,
    /// The tenant to sign in to; needed only by members of several tenants.
    pub tenant_id: Option<String>,
}

/// A signed-in session: a short-lived access token and a refresh token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Exchange at `POST /v1/auth/refresh` for new tokens before `refresh_expires_at`.
    pub refresh_token: String,
    /// When `token` stops working (ns since the epoch).
    pub expires_at: i64,
    /// When `refresh_token` stops working (ns since the epoch).
    pub refresh_expires_at: i64,
    /// The tenant the session belongs to.
    pub tenant_id: String,
    /// The member's role in it.
    pub role: String,
    /// The person.
    pub user_id: String,
}

/// `POST /v1/auth/refresh` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// The refresh token from login or the previous refresh.
    pub refresh_token: String,
}

/// Signs a person in with email and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = Login, security(()),
    responses((status = 200, body = Tokens), (status = 401, description = "wrong email or password")))]
pub async fn login(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<Tokens>, Problem> {
    let wrong = || Problem::unauthorized("wrong email or password");
    let found = app.store.user_by_email(&body.email).await?;
    // Hash even for an unknown email, so the answer takes as long either way.
    let (user, stored) = match found {
        Some(f) => f,
        None => {
            let _ = hash_password(&body.password);
            return Err(wrong());
        }
    };
    let password = body.password.clone();
    let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .map_err(|e| Problem::internal(e.to_string()))?;
    if !ok {
        return Err(wrong());
    }
    let memberships = app.store.memberships_of(&user.id).await?;
    let m = match &body.tenant_id {
        Some(t) => memberships
            .into_iter()
            .find(|m| m.tenant_id.as_str() == t)
            .ok_or_else(|| Problem::forbidden("you are not a member of that tenant"))?,
        None if memberships.len() == 1 => memberships.into_iter().next().ok_or_else(wrong)?,
        None if memberships.is_empty() => {
            return Err(Problem::forbidden("you are not a member of any tenant"));
        }
        None => {
            let ids: Vec<_> = memberships
                .iter()
                .map(|m| m.tenant_id.to_string())
                .collect();
            return Err(Problem::validation(
                "tenant_id",
                format!(
                    "you are a member of several tenants; name one with tenant_id: {}",
                    ids.join(", ")
                ),
            ));
        }
    };
    Ok(Json(
        start_session(&app, &m.tenant_id, &user, m.role).await?,
    ))
}

/// Opens a new session for `user` in `tenant`.
async fn start_session(
    app: &AppState,
    tenant: &TenantId,
    user: &User,
    role: Role,
) -> Result<Tokens, Problem> {
    let (token, refresh) = (
        new_secret(SecretKind::Session),
        new_secret(SecretKind::Refresh),
    );
    let now = now_ns();
    let auth = &app.config.auth;
    let expires_at = now + secs_ns(auth.session_ttl_secs);
    let refresh_expires_at = now + secs_ns(auth.refresh_ttl_secs);
    let s = app
        .store
        .create_session(
            tenant,
            &user.id,
            role,
            &hash_secret(&token),
            &hash_secret(&refresh),
            expires_at,
            refresh_expires_at,
        )
        .await?;
    Ok(Tokens {
        token,
        refresh_token: refresh,
        expires_at: s.expires_at,
        refresh_expires_at: s.refresh_expires_at,
        tenant_id: tenant.to_string(),
        role: role.as_str().to_string(),
        user_id: user.id.to_string(),
    })
}

fn secs_ns(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000_000) * 1_000_000_000
}

/// Exchanges a refresh token for new tokens; the old pair stops working (rotation). A
/// refresh token used a second time revokes the whole session: it was copied.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = Refresh, security(()),
    responses((status = 200, body = Tokens),
        (status = 401, description = "unknown, expired or revoked; or reused, which revokes the session")))]
pub async fn refresh(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<Refresh>,
) -> Result<Json<Tokens>, Problem> {
    let invalid = || Problem::unauthorized("the refresh token is unknown, expired or revoked");
    let presented = hash_secret(&body.refresh_token);
    let Some(s) = app.store.session_by_refresh(&presented).await? else {
        // A refresh token that was rotated away from, presented again, was copied: revoke
        // the whole session, so that neither its thief nor its owner can go on with it.
        if let Some(family) = app.store.session_by_retired_refresh(&presented).await? {
            app.store.revoke_session(&family.id).await?;
            tracing::warn!(
                session = %family.id,
                tenant = %family.tenant_id,
                "a rotated refresh token was reused; the session is revoked"
            );
            return Err(Problem::unauthorized(
                "this refresh token was already used, so it may have been copied; the session \
                 has been revoked: sign in again",
            ));
        }
        return Err(invalid());
    };
    let now = now_ns();
    if s.revoked_at.is_some() || s.refresh_expires_at <= now {
        return Err(invalid());
    }
    let m = app
        .store
        .member(&s.tenant_id, &s.user_id)
        .await?
        .ok_or_else(invalid)?;
    let (token, refresh) = (
        new_secret(SecretKind::Session),
        new_secret(SecretKind::Refresh),
    );
    let auth = &app.config.auth;
    let s = app
        .store
        .rotate_session(
            &s.id,
            &presented,
            &hash_secret(&token),
            &hash_secret(&refresh),
            now + secs_ns(auth.session_ttl_secs),
            now + secs_ns(auth.refresh_ttl_secs),
        )
        .await
        .map_err(|e| match e {
            // Revoked meanwhile, or another refresh used this token first (reuse).
            qf_store::StoreError::Conflict(why) => Problem::unauthorized(why),
            other => Problem::from(other),
        })?;
    Ok(Json(Tokens {
        token,
        refresh_token: refresh,
        expires_at: s.expires_at,
        refresh_expires_at: s.refresh_expires_at,
        tenant_id: s.tenant_id.to_string(),
        role: m.role.as_str().to_string(),
        user_id: s.user_id.to_string(),
    }))
}

/// Ends the caller's session: its token and refresh token stop working at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth",
    responses((status = 204), (status = 400, description = "an API key has no session")))]
pub async fn logout(State(app): State<AppState>, p: Principal) -> Result<StatusCode, Problem> {
    match &p.actor {
        Actor::User { session, .. } => {
            app.store.revoke_session(session).await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Actor::Key(_) => Err(Problem::invalid_body(
            "an API key has no session to end; revoke it with DELETE /v1/api-keys/{id}",
        )),
    }
}

/// `POST /v1/invitations/accept` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    /// The invitation token (`qfi_…`) from the invitation.
    pub token: String,
    /// The email the invitation was sent to.
    pub email: String,
    /// Your name (for a new account).
    pub name: Option<String>,
    /// Your password: a new one for a new account, your current one otherwise.
    pub password: String,
}

/// Accepts an invitation: creates the account if the email has none, joins the tenant with
/// the invited role, and signs in.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "members", request_body = Accept, security(()),
    responses((status = 200, body = Tokens),
        (status = 401, description = "the email has an account and the password is not its password"),
        (status = 404, description = "unknown, used, revoked or expired invitation")))]
pub async fn accept_invitation(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<Accept>,
) -> Result<Json<Tokens>, Problem> {
    let user = match app.store.user_by_email(&body.email).await? {
        Some((user, stored)) => {
            let password = body.password.clone();
            let ok = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
                .await
                .map_err(|e| Problem::internal(e.to_string()))?;
            if !ok {
                return Err(Problem::unauthorized(
                    "an account with this email exists; give its password",
                ));
            }
            user
        }
        None => {
            check_password(&body.password)?;
            let hash = hash_password(&body.password)?;
            let name = body.name.clone().unwrap_or_else(|| body.email.clone());
            app.store.create_user(&body.email, &name, &hash).await?
        }
    };
    let m = app
        .store
        .accept_invitation(&hash_secret(&body.token), &user.id)
        .await?;
    Ok(Json(
        start_session(&app, &m.tenant_id, &user, m.role).await?,
    ))
}
