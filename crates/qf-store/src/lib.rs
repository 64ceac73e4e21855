//! The Quantforge SQL store: one database for tenants, users, keys, sessions, datasets,
//! strategies, runs, the job queue and idempotency records.
//!
//! One implementation runs over [`sqlx::AnyPool`] and speaks to either SQLite (the embedded
//! default, in WAL mode) or PostgreSQL (production); the few places where the SQL differs
//! switch on [`Dialect`]. Both backends pass the same test suite (`tests/store.rs`).
//!
//! What it guarantees:
//! - **Tenancy.** Every tenant-owned row carries `tenant_id`, and every method that touches
//!   tenant data takes the [`TenantId`] and filters by it: another tenant's row is
//!   [`StoreError::NotFound`], never visible. On PostgreSQL row-level security enforces the
//!   same rule a second time (see [`db`]).
//! - **Runs and jobs move together.** A run and its queue job are created, claimed, completed,
//!   failed and cancelled in the same transaction.
//! - **The queue hands a job to one worker at a time** (leases, `FOR UPDATE SKIP LOCKED` on
//!   PostgreSQL, `BEGIN IMMEDIATE` on SQLite), retries with exponential backoff and reclaims
//!   the jobs of dead workers (see [`queue`]).
//!
//! What it is not: it knows nothing of HTTP, password hashing, token generation or encryption.
//! Callers hash secrets (passwords, API keys, session tokens, invitation tokens) before they
//! reach the store, and encrypt what must be encrypted at rest.
//!
//! Times are `i64` nanoseconds since the Unix epoch, UTC, everywhere ([`now_ns`]).

pub mod api_keys;
pub mod clock;
pub mod datasets;
pub mod db;
mod decode;
pub mod error;
pub mod idempotency;
pub mod ids;
pub mod invitations;
pub mod jobs;
pub mod members;
pub mod migrate;
pub mod page;
pub mod queue;
pub mod roles;
pub mod runs;
pub mod sessions;
pub mod strategies;
pub mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
pub mod users;

pub use api_keys::{ApiKey, CreatedBy};
pub use clock::now_ns;
pub use datasets::{Dataset, NewDataset};
pub use db::{Dialect, Store};
pub use error::{Result, StoreError};
pub use idempotency::{Idem, Reservation};
pub use ids::{
    ApiKeyId, DatasetId, InvalidId, InvitationId, JobId, RunId, SessionId, StrategyId, TenantId,
    UserId,
};
pub use invitations::Invitation;
pub use jobs::{Job, JobState};
pub use members::Membership;
pub use page::{Listed, Page};
pub use queue::{ClaimOptions, Completion, Heartbeat};
pub use roles::Role;
pub use runs::{NewRun, Run, RunFilter, RunKind, Status};
pub use sessions::Session;
pub use strategies::{Strategy, StrategySummary, StrategyVersion};
pub use tenants::Tenant;
pub use users::User;
