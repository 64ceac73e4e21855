//! Jobs: the rows of the work queue, as a tenant sees them (read, list, cancel). Workers
//! move jobs through [`crate::queue`].

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Arg, Dialect, Scope, Store, Tx, bind_all};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{JobId, RunId, TenantId};
use crate::page::{Listed, Page};

/// Where a job is in the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting to be claimed (possibly not before `run_after`).
    Queued,
    /// Claimed by a worker holding a lease.
    Running,
    /// Completed.
    Succeeded,
    /// Failed for good (a non-retryable error).
    Failed,
    /// Cancelled at the tenant's request.
    Cancelled,
    /// Failed retryably too often, or its worker died on the last attempt.
    Dead,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Dead,
    ];

    /// The state's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Dead => "dead",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the job is over: nothing moves it again.
    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A queue job.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// What to do, e.g. `"backtest"`.
    pub kind: String,
    /// The run it executes, for run jobs.
    pub run_id: Option<RunId>,
    /// Where it is in the queue.
    pub state: JobState,
    /// Higher is claimed first.
    pub priority: i32,
    /// How many times a worker has claimed it.
    pub attempts: i32,
    /// How many claims it may have before a retryable failure is final.
    pub max_attempts: i32,
    /// Not claimed before this time (ns); set by backoff after a retryable failure.
    pub run_after: i64,
    /// The worker holding (or that last held) the lease.
    pub lease_owner: Option<String>,
    /// When the current lease runs out, while running.
    pub lease_expires_at: Option<i64>,
    /// The tenant asked to cancel it while it was running.
    pub cancel_requested: bool,
    /// The last error reported by a worker (JSON text of the problem document).
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: i64,
    /// When a worker first claimed it.
    pub started_at: Option<i64>,
    /// When it reached a terminal state.
    pub finished_at: Option<i64>,
}

pub(crate) const COLUMNS: &str = "id, tenant_id, kind, run_id, state, priority, attempts, \
     max_attempts, run_after, lease_owner, lease_expires_at, cancel_requested, last_error, \
     created_at, started_at, finished_at";

impl Job {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Job> {
        Ok(Job {
            id: JobId::from_db(decode::text(row, "id")?),
            tenant_id: TenantId::from_db(decode::text(row, "tenant_id")?),
            kind: decode::text(row, "kind")?,
            run_id: decode::text_opt(row, "run_id")?.map(RunId::from_db),
            state: decode::named(row, "state", JobState::parse)?,
            priority: decode::int32(row, "priority")?,
            attempts: decode::int32(row, "attempts")?,
            max_attempts: decode::int32(row, "max_attempts")?,
            run_after: decode::int(row, "run_after")?,
            lease_owner: decode::text_opt(row, "lease_owner")?,
            lease_expires_at: decode::int_opt(row, "lease_expires_at")?,
            cancel_requested: decode::flag(row, "cancel_requested")?,
            last_error: decode::text_opt(row, "last_error")?,
            created_at: decode::int(row, "created_at")?,
            started_at: decode::int_opt(row, "started_at")?,
            finished_at: decode::int_opt(row, "finished_at")?,
        })
    }
}

/// Job `id` of `t`, row-locked until `tx` ends (on SQLite the write transaction is the lock).
pub(crate) async fn lock(tx: &mut Tx, dialect: Dialect, t: &TenantId, id: &JobId) -> Result<Job> {
    let row =
        crate::db::fetch_row(tx, "jobs", COLUMNS, t, id.as_str(), dialect.for_update()).await?;
    Job::from_row(&row)
}

/// Cancels `job` (locked by [`lock`] in `tx`): a queued job and its run become cancelled;
/// a running one is flagged for its worker; a finished one is a `Conflict`.
pub(crate) async fn cancel_locked(tx: &mut Tx, t: &TenantId, job: &Job) -> Result<()> {
    let now = now_ns();
    match job.state {
        JobState::Queued => {
            sqlx::query(
                "UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = $3 \
                 WHERE tenant_id = $1 AND id = $2",
            )
            .bind(t.as_str())
            .bind(job.id.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
            if let Some(run) = &job.run_id {
                sqlx::query(
                    "UPDATE runs SET status = 'cancelled', finished_at = $3 \
                     WHERE tenant_id = $1 AND id = $2",
                )
                .bind(t.as_str())
                .bind(run.as_str())
                .bind(now)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }
        JobState::Running => {
            sqlx::query("UPDATE jobs SET cancel_requested = 1 WHERE tenant_id = $1 AND id = $2")
                .bind(t.as_str())
                .bind(job.id.as_str())
                .execute(&mut **tx)
                .await?;
            Ok(())
        }
        done => Err(StoreError::Conflict(format!(
            "the job has already finished ({done})"
        ))),
    }
}

impl Store {
    /// Job `id` of `t`.
    pub async fn job(&self, t: &TenantId, id: &JobId) -> Result<Job> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let row = crate::db::fetch_row(&mut tx, "jobs", COLUMNS, t, id.as_str(), "").await?;
        tx.commit().await?;
        Job::from_row(&row)
    }

    /// A page of the jobs of `t`, optionally only those in `state`.
    pub async fn jobs(
        &self,
        t: &TenantId,
        state: Option<JobState>,
        page: &Page,
    ) -> Result<Listed<Job>> {
        let mut sql = format!("SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1");
        let mut args = vec![Arg::Text(t.to_string())];
        if let Some(state) = state {
            args.push(Arg::Text(state.as_str().to_owned()));
            sql.push_str(&format!(" AND state = ${}", args.len()));
        }
        page.push_sql(&mut sql, &mut args);
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let items = rows.iter().map(Job::from_row).collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items, |j| j.id.as_str()))
    }

    /// Cancels job `id` of `t` and its run, by the rules of [`Store::cancel_run`].
    /// `Conflict` when the job has already finished.
    pub async fn cancel_job(&self, t: &TenantId, id: &JobId) -> Result<Job> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        let job = lock(&mut tx, self.dialect(), t, id).await?;
        cancel_locked(&mut tx, t, &job).await?;
        let job = lock(&mut tx, self.dialect(), t, id).await?;
        tx.commit().await?;
        Ok(job)
    }
}
