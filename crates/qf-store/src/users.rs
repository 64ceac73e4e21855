//! Users: people who log in. A user is global and joins tenants through memberships
//! ([`crate::members`]); the `users` table is the one table without a tenant.

use serde::Serialize;
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::Store;
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::UserId;
use crate::tenants::clean_name;

/// A person who can log in.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Their id.
    pub id: UserId,
    /// Their email address, lowercased; unique across the store.
    pub email: String,
    /// Their display name.
    pub name: String,
    /// When they signed up (ns since the epoch).
    pub created_at: i64,
}

const COLUMNS: &str = "id, email, name, created_at";

impl User {
    fn from_row(row: &AnyRow) -> Result<User> {
        Ok(User {
            id: UserId::from_db(decode::text(row, "id")?),
            email: decode::text(row, "email")?,
            name: decode::text(row, "name")?,
            created_at: decode::int(row, "created_at")?,
        })
    }
}

/// The canonical form of an email address: trimmed and lowercased, with one `@` that has
/// text on both sides. Deliverability is the caller's business; this only keeps one address
/// from being stored under two spellings.
pub(crate) fn normalize_email(email: &str) -> Result<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 320
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        });
    if valid {
        Ok(email)
    } else {
        Err(StoreError::Invalid(format!(
            "{email:?} is not an email address"
        )))
    }
}

impl Store {
    /// Creates a user. The email is stored lowercased; `Conflict` when another user has it.
    /// `password_hash` is stored as given (hash it before calling; the store never sees a
    /// password).
    pub async fn create_user(&self, email: &str, name: &str, password_hash: &str) -> Result<User> {
        let email = normalize_email(email)?;
        let name = clean_name("user", name)?;
        let row = sqlx::query(&format!(
            "INSERT INTO users (id, email, name, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .bind(UserId::new().as_str())
        .bind(&email)
        .bind(&name)
        .bind(password_hash)
        .bind(now_ns())
        .fetch_one(self.pool())
        .await
        .map_err(|e| StoreError::unique(e, || format!("a user with email {email} exists")))?;
        User::from_row(&row)
    }

    /// The user with `email` (any case) and their password hash, for login.
    pub async fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let email = email.trim().to_lowercase();
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS}, password_hash FROM users WHERE email = $1"
        ))
        .bind(&email)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| Ok((User::from_row(&r)?, decode::text(&r, "password_hash")?)))
            .transpose()
    }

    /// The user `id`.
    pub async fn user(&self, id: &UserId) -> Result<User> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        User::from_row(&row)
    }

    /// Replaces the password hash of user `id` (after a password change or a rehash with
    /// stronger parameters).
    pub async fn set_password_hash(&self, id: &UserId, password_hash: &str) -> Result<()> {
        let done = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
            .bind(id.as_str())
            .bind(password_hash)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            normalize_email("  Ada@Example.COM ").unwrap(),
            "ada@example.com"
        );
        for bad in ["", "ada", "@x", "ada@", "a b@x", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }
}
