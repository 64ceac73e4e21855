//! Who is calling: bearer credentials (API keys and session tokens), the principal they
//! resolve to, and the permission checks every handler makes.
//!
//! API keys and session tokens are long random secrets, so they are stored as SHA-256
//! hashes: a slow password hash (argon2id) adds nothing against guessing 190 random bits and
//! would put milliseconds on every request. Passwords, which people choose, get argon2id.

use std::fmt;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};

use qf_store::{ApiKeyId, Role, SessionId, TenantId, UserId, now_ns};

use crate::app::AppState;
use crate::problem::Problem;
use crate::rate_limit::RateKey;

/// What a credential may do. A role grants a set of scopes; an API key may carry fewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read everything in the tenant.
    Read,
    /// Upload data, save strategies, run and cancel backtests and sweeps.
    Run,
    /// Manage API keys, members and invitations.
    Manage,
    /// Manage the tenant itself (rename, grant the owner role).
    Owner,
}

impl Scope {
    /// Every scope, weakest first.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Run, Scope::Manage, Scope::Owner];

    /// The scope's name in API keys and error messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Run => "run",
            Scope::Manage => "manage",
            Scope::Owner => "owner",
        }
    }

    /// Parses a scope name.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Scope names, as API keys store them.
    pub fn names(scopes: &[Scope]) -> Vec<String> {
        scopes.iter().map(|s| s.as_str().to_string()).collect()
    }

    /// The scopes a role grants: viewer reads; developer runs; admin manages keys and
    /// members; owner manages the tenant.
    pub fn of_role(role: Role) -> &'static [Scope] {
        match role {
            Role::Viewer => &Scope::ALL[..1],
            Role::Developer => &Scope::ALL[..2],
            Role::Admin => &Scope::ALL[..3],
            Role::Owner => &Scope::ALL[..],
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made the request.
#[derive(Debug, Clone)]
pub enum Actor {
    /// An API key.
    Key(ApiKeyId),
    /// A person signed in with a session token.
    User { user: UserId, session: SessionId },
}

/// The authenticated caller, put in request extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant every query of this request is scoped to.
    pub tenant: TenantId,
    /// The role of the key or member.
    pub role: Role,
    /// What this credential may do (a key's scopes, or the member's role's scopes).
    pub scopes: Vec<Scope>,
    /// The key or the person.
    pub actor: Actor,
}

impl Principal {
    /// Fails with 403 unless the credential carries `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Problem> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "this credential lacks the `{scope}` scope (role {}); ask an admin of the tenant",
                self.role.as_str()
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| Problem::unauthorized("send `Authorization: Bearer <API key or token>`"))
    }
}

/// Kinds of bearer secrets, told apart by their prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `qf_…`: an API key.
    ApiKey,
    /// `qfs_…`: a session (access) token.
    Session,
    /// `qfr_…`: a refresh token.
    Refresh,
    /// `qfi_…`: an invitation token.
    Invitation,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::ApiKey => "qf_",
            SecretKind::Session => "qfs_",
            SecretKind::Refresh => "qfr_",
            SecretKind::Invitation => "qfi_",
        }
    }
}

/// A new random secret of `kind`: the prefix and 32 random bytes, URL-safe base64.
pub fn new_secret(kind: SecretKind) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{}{}",
        kind.prefix(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Lower-case hex of `bytes`. Runs on every authenticated request (the key's hash), so it
/// writes into one buffer instead of formatting byte by byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Hex SHA-256 of `bytes`: the stored form of a secret, and a strategy version's `sha256`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The stored form of a secret: hex SHA-256.
pub fn hash_secret(secret: &str) -> String {
    sha256_hex(secret.as_bytes())
}

/// The time `days` days from now, ns since the epoch (key and invitation expiry).
pub fn days_from_now(days: u32) -> i64 {
    qf_store::now_ns() + i64::from(days) * 86_400 * 1_000_000_000
}

/// The part of an API key shown in listings, enough to recognise it: `qf_` and 8 characters.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(11).collect()
}

/// An argon2id hash of a password, PHC string format.
pub fn hash_password(password: &str) -> Result<String, Problem> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Problem::internal(format!("password hashing failed: {e}")))
}

/// Checks a password against its stored argon2id hash.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a new password: long enough to be worth hashing.
pub fn check_password(password: &str) -> Result<(), Problem> {
    if password.chars().count() < 10 {
        return Err(Problem::validation(
            "password",
            "a password needs at least 10 characters",
        ));
    }
    if password.len() > 1024 {
        return Err(Problem::validation(
            "password",
            "a password may have at most 1024 bytes",
        ));
    }
    Ok(())
}

/// Middleware: resolves `Authorization: Bearer …` to a [`Principal`] and a [`RateKey`] in
/// the request extensions. A request without the header passes through unauthenticated
/// (public routes need none; the others reject it through the [`Principal`] extractor);
/// a header with a bad, expired or revoked credential is rejected here with 401.
pub async fn authenticate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(value) = req.headers().get(axum::http::header::AUTHORIZATION) else {
        return next.run(req).await;
    };
    if is_public_route(&req) {
        // Sign-in, refresh and health need no credential, so a stale one sent out of habit
        // must not lock the caller out of them.
        return next.run(req).await;
    }
    let secret = match value.to_str().ok().and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
    }) {
        Some(s) => s.trim().to_string(),
        None => {
            return Problem::unauthorized(
                "the Authorization header must be `Bearer <API key or token>`",
            )
            .into_response();
        }
    };
    match resolve(&app, &secret).await {
        Ok(p) => {
            let rate_key = match &p.actor {
                Actor::Key(k) => RateKey(k.as_str().to_string()),
                Actor::User { user, .. } => RateKey(user.as_str().to_string()),
            };
            req.extensions_mut().insert(rate_key);
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(problem) => problem.into_response(),
    }
}

/// Whether the request matched an operation the OpenAPI document marks as needing no
/// credential.
fn is_public_route(req: &Request) -> bool {
    let Some(path) = req.extensions().get::<axum::extract::MatchedPath>() else {
        return false;
    };
    let (method, path) = (req.method().as_str(), path.as_str());
    crate::openapi::public_routes()
        .iter()
        .any(|(m, p)| *m == method && p == path)
}

/// Looks a bearer secret up. Every failure reads the same to the caller, so a guesser
/// learns nothing about which keys exist.
async fn resolve(app: &AppState, secret: &str) -> Result<Principal, Problem> {
    let invalid = || Problem::unauthorized("the credential is unknown, expired or revoked");
    let now = now_ns();
    if secret.starts_with(SecretKind::Session.prefix()) {
        let s = app
            .store
            .session_by_token(&hash_secret(secret))
            .await
            .map_err(Problem::from)?
            .ok_or_else(invalid)?;
        if s.revoked_at.is_some() || s.expires_at <= now {
            return Err(invalid());
        }
        // The member's role now, not at sign-in: a demotion or removal takes effect at once.
        let m = app
            .store
            .member(&s.tenant_id, &s.user_id)
            .await
            .map_err(Problem::from)?
            .ok_or_else(invalid)?;
        Ok(Principal {
            tenant: s.tenant_id,
            role: m.role,
            scopes: Scope::of_role(m.role).to_vec(),
            actor: Actor::User {
                user: s.user_id,
                session: s.id,
            },
        })
    } else if secret.starts_with(SecretKind::ApiKey.prefix()) {
        let k = app
            .store
            .api_key_by_hash(&hash_secret(secret))
            .await
            .map_err(Problem::from)?
            .ok_or_else(invalid)?;
        if k.revoked_at.is_some() || k.expires_at.is_some_and(|e| e <= now) {
            return Err(invalid());
        }
        let allowed = Scope::of_role(k.role);
        let scopes = k
            .scopes
            .iter()
            .filter_map(|s| Scope::parse(s))
            .filter(|s| allowed.contains(s))
            .collect();
        // Last use is kept to the minute: most requests write nothing, and the rest write
        // off the request's path.
        if k.last_used_at.is_none_or(|t| now - t >= 60_000_000_000) {
            let store = app.store.clone();
            let id = k.id.clone();
            tokio::spawn(async move {
                if let Err(e) = store.touch_api_key(&id, now).await {
                    tracing::warn!(error = %e, "cannot record an API key's last use");
                }
            });
        }
        Ok(Principal {
            tenant: k.tenant_id,
            role: k.role,
            scopes,
            actor: Actor::Key(k.id),
        })
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hex_is_plain_sha256() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
    }

    #[test]
    fn roles_grant_nested_scopes() {
        assert_eq!(Scope::names(Scope::of_role(Role::Viewer)), ["read"]);
        assert_eq!(
            Scope::names(Scope::of_role(Role::Admin)),
            ["read", "run", "manage"]
        );
        assert_eq!(Scope::of_role(Role::Owner), Scope::ALL);
    }
}
