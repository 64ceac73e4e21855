//! The one error type of the store, and the mapping of driver errors onto it.

/// The store's result type.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What went wrong in a store call. The HTTP layer maps these onto problem types:
/// `NotFound` → 404, `Conflict` → 409, `Invalid` → 422, `Config` and `Db` → 500/503.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or it belongs to another tenant (the two are
    /// indistinguishable on purpose, so ids of other tenants leak nothing).
    #[error("not found")]
    NotFound,
    /// The change collides with the current state: a unique value is taken, or the row is in
    /// a state that forbids it. The message says which, in words fit for the caller.
    #[error("conflict: {0}")]
    Conflict(String),
    /// An argument is unusable (empty name, malformed email, out-of-range number).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// The store cannot be set up as asked (unsupported or malformed database URL).
    #[error("store configuration: {0}")]
    Config(String),
    /// The database failed or could not be reached.
    #[error("database error: {0}")]
    Db(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    /// Driver errors are [`StoreError::Db`], except text the database refuses to store
    /// (PostgreSQL's SQLSTATE 22021, e.g. a NUL character, which SQLite would have kept):
    /// that is the caller's input, so [`StoreError::Invalid`]. The HTTP layer refuses NUL
    /// first, naming the field; this keeps any path it missed a 422 instead of a 500.
    fn from(err: sqlx::Error) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
                StoreError::Invalid(
                    "text must not contain the NUL character (U+0000) or invalid UTF-8".into(),
                )
            }
            _ => StoreError::Db(err),
        }
    }
}

impl StoreError {
    /// Turns a unique-constraint violation into [`StoreError::Conflict`] with `message`, and
    /// passes every other error through unchanged.
    pub(crate) fn unique(err: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(message())
            }
            _ => StoreError::Db(err),
        }
    }
}
