//! The job queue as workers drive it: claim a job under a lease, renew the lease while
//! working, then complete, fail (with retry and backoff) or acknowledge a cancel.
//!
//! # Leases
//!
//! A claimed job is `running` with `lease_owner` = the worker and `lease_expires_at` = now +
//! lease. The worker renews the lease with [`Store::heartbeat`]; if it dies, the lease runs
//! out and the next claim takes the job over (counting another attempt). A job whose lease
//! ran out on its last allowed attempt becomes `dead` (its run `failed` with a
//! `lease-expired` error) instead, and one whose cancel was requested becomes `cancelled`.
//! Every write a worker makes is conditional on still owning the lease, so a worker that was
//! presumed dead cannot overwrite the work of the one that took over.
//!
//! # Claim order and fairness
//!
//! Highest `priority` first, then earliest `run_after`, then oldest. A tenant that already
//! has `tenant_limit` jobs running under live leases is passed over, so one tenant's sweep
//! cannot occupy every worker. On PostgreSQL concurrent claimers do not see each other's
//! uncommitted claims, so a tenant can briefly exceed its limit by up to the number of
//! claimers racing at that instant; the limit is a fairness rule, not a security one.
//!
//! # Speed
//!
//! On PostgreSQL a claim is one autocommitted statement (expired-lease sweep, pick with
//! `FOR UPDATE SKIP LOCKED`, job and run update, all as data-modifying CTEs): one round
//! trip. Completion and heartbeats are one statement each too. The pick reads queued jobs
//! through the partial index `jobs_queue` in claim order and running ones through
//! `jobs_running`, stopping at the first eligible row, so its cost does not grow with the
//! number of queued, running or finished jobs. On SQLite the same steps run as separate
//! statements under one `BEGIN IMMEDIATE`, which is cheap in-process.

use std::sync::LazyLock;
use std::time::Duration;

use serde_json::json;

use crate::clock::{duration_ns, now_ns};
use crate::db::{Dialect, Scope, Store};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{JobId, RunId};
use crate::jobs::{self, Job, JobState};

/// What a worker passes to [`Store::claim`].
#[derive(Debug, Clone, Copy)]
pub struct ClaimOptions<'a> {
    /// The worker's name, unique per process (e.g. `"{hostname}-{pid}-{n}"`): the lease
    /// owner, checked by every later call about the job.
    pub worker: &'a str,
    /// How long the lease lasts without a heartbeat.
    pub lease: Duration,
    /// Pass over tenants with this many running jobs already; `0` or less means no limit.
    pub tenant_limit: i64,
}

/// What a heartbeat tells the worker to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heartbeat {
    /// The lease was renewed; carry on.
    Continue,
    /// The lease was renewed, but the tenant asked to cancel: stop, then call
    /// [`Store::mark_cancelled`].
    Cancel,
    /// The job is no longer this worker's (the lease ran out and another worker took it, or
    /// it finished): stop and write nothing.
    Lost,
}

/// What [`Store::complete`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The job and its run succeeded with the result.
    Succeeded,
    /// A cancel was accepted while the job ran: the job and its run are `cancelled`.
    Cancelled,
    /// The job is not running under this worker (never claimed, lost or already settled):
    /// nothing changed.
    NotHeld,
}

/// Longest retry backoff.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Skips tenants that already have `$4` jobs running under leases still live at `$1`. When
/// there is no limit (`$4` = `i64::MAX`) the first arm short-circuits and the running jobs
/// are not counted at all.
const NOT_BUSY: &str = "($4 = 9223372036854775807 OR tenant_id NOT IN ( \
    SELECT tenant_id FROM jobs WHERE state = 'running' AND lease_expires_at >= $1 \
    GROUP BY tenant_id HAVING COUNT(*) >= $4))";

/// Claim order (matches the index `jobs_queue`).
const CLAIM_ORDER: &str = "ORDER BY priority DESC, run_after, id";

/// The id of the job to claim at `$1`: the first in claim order among the queued jobs that
/// are due and the running jobs whose worker is gone (lease expired) with attempts left and
/// no cancel pending; expired jobs that may not run again are settled by [`EXPIRED_FINAL`]
/// first. The two kinds are searched apart, each through its own partial index, so a claim
/// never walks past the running jobs to reach a queued one; each search stops at its first
/// eligible row, locked with `lock` (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
fn pick_sql(lock: &str) -> String {
    format!(
        "SELECT id FROM ( \
            SELECT * FROM ( \
                SELECT id, priority, run_after FROM jobs \
                WHERE state = 'queued' AND run_after <= $1 AND {NOT_BUSY} \
                {CLAIM_ORDER} LIMIT 1{lock}) AS due \
            UNION ALL \
            SELECT * FROM ( \
                SELECT id, priority, run_after FROM jobs \
                WHERE state = 'running' AND lease_expires_at < $1 \
                  AND attempts < max_attempts AND cancel_requested = 0 AND {NOT_BUSY} \
                {CLAIM_ORDER} LIMIT 1{lock}) AS orphaned \
         ) AS candidates {CLAIM_ORDER} LIMIT 1"
    )
}

/// Running jobs at `$1` whose worker is gone and that must not run again.
const EXPIRED_FINAL: &str = "state = 'running' AND lease_expires_at < $1 \
    AND (attempts >= max_attempts OR cancel_requested = 1)";

/// The new state of a job settled by [`EXPIRED_FINAL`]; `$5` is the error text for dead jobs
/// (also recorded on their runs).
const SETTLE_EXPIRED: &str = "SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' ELSE 'dead' END, \
        finished_at = $1, lease_expires_at = NULL, \
        last_error = CASE WHEN cancel_requested = 1 THEN last_error ELSE $5 END";

/// The update that hands a job to worker `$2` until `$3`.
const TAKE: &str = "SET state = 'running', lease_owner = $2, lease_expires_at = $3, \
        attempts = attempts + 1, started_at = COALESCE(started_at, $1)";

/// The problem document recorded on a run whose worker vanished on its last attempt.
fn lease_expired_error() -> serde_json::Value {
    json!({
        "type": "lease-expired",
        "title": "The worker running this job stopped responding",
        "detail": "The job's lease expired on its last allowed attempt, so it was not retried.",
    })
}

/// `base * 2^(attempts - 1)`, capped at [`MAX_BACKOFF`].
fn backoff(base: Duration, attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    base.saturating_mul(1u32 << exp).min(MAX_BACKOFF)
}

/// The PostgreSQL claim, built once: sweep, pick, take, and the run update as one statement.
static PG_CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH swept AS ( \
            UPDATE jobs {SETTLE_EXPIRED} \
            WHERE id IN (SELECT id FROM jobs WHERE {EXPIRED_FINAL} FOR UPDATE SKIP LOCKED) \
            RETURNING run_id, state), \
         swept_runs AS ( \
            UPDATE runs SET \
                status = CASE WHEN s.state = 'cancelled' THEN 'cancelled' ELSE 'failed' END, \
                error = CASE WHEN s.state = 'cancelled' THEN runs.error ELSE $5 END, \
                finished_at = $1 \
            FROM swept s WHERE runs.id = s.run_id), \
         picked AS ({pick}), \
         claimed AS ( \
            UPDATE jobs {TAKE} WHERE id IN (SELECT id FROM picked) \
            RETURNING {cols}), \
         claimed_run AS ( \
            UPDATE runs SET status = 'running', started_at = COALESCE(runs.started_at, $1) \
            FROM claimed c WHERE runs.id = c.run_id) \
         SELECT {cols} FROM claimed",
        pick = pick_sql(" FOR UPDATE SKIP LOCKED"),
        cols = jobs::COLUMNS
    )
});

/// The SQLite claim: [`TAKE`] applied to the row [`pick_sql`] chooses. SQLite needs no row
/// locks; the `BEGIN IMMEDIATE` transaction around it excludes every other writer.
static SQLITE_CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs {TAKE} WHERE id = ({pick}) RETURNING {cols}",
        pick = pick_sql(""),
        cols = jobs::COLUMNS
    )
});

impl Store {
    /// Claims the next job for `opts.worker`, or `None` when nothing is eligible. Also
    /// settles expired jobs that may not run again (see the module docs). The claimed job and
    /// its run become `running`; the returned job shows the new lease and attempt count.
    pub async fn claim(&self, opts: &ClaimOptions<'_>) -> Result<Option<Job>> {
        let now = now_ns();
        let lease_until = now.saturating_add(duration_ns(opts.lease));
        let limit = if opts.tenant_limit <= 0 {
            i64::MAX
        } else {
            opts.tenant_limit
        };
        let dead_text = lease_expired_error().to_string();
        let row = match self.dialect() {
            Dialect::Postgres => {
                sqlx::query(&PG_CLAIM)
                    .bind(now)
                    .bind(opts.worker)
                    .bind(lease_until)
                    .bind(limit)
                    .bind(dead_text.as_str())
                    // One statement is one transaction: no BEGIN/COMMIT round trips.
                    .fetch_optional(self.system())
                    .await?
            }
            Dialect::Sqlite => {
                let mut tx = self.write(Scope::System).await?;
                let swept = sqlx::query(&format!(
                    "UPDATE jobs {SETTLE_EXPIRED} WHERE {EXPIRED_FINAL} RETURNING run_id, state"
                ))
                .bind(now)
                .bind(None::<String>) // $2..$4 unused here, but SQLite numbers by position
                .bind(None::<i64>)
                .bind(None::<i64>)
                .bind(dead_text.as_str())
                .fetch_all(&mut *tx)
                .await?;
                for s in &swept {
                    let Some(run) = decode::text_opt(s, "run_id")? else {
                        continue;
                    };
                    let cancelled = decode::text(s, "state")? == "cancelled";
                    sqlx::query(
                        "UPDATE runs SET status = $2, finished_at = $1, \
                                         error = CASE WHEN $2 = 'failed' THEN $3 ELSE error END \
                         WHERE id = $4",
                    )
                    .bind(now)
                    .bind(if cancelled { "cancelled" } else { "failed" })
                    .bind(dead_text.as_str())
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
                }
                let claimed = sqlx::query(&SQLITE_CLAIM)
                    .bind(now)
                    .bind(opts.worker)
                    .bind(lease_until)
                    .bind(limit)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(job) = &claimed
                    && let Some(run) = decode::text_opt(job, "run_id")?
                {
                    sqlx::query(
                        "UPDATE runs SET status = 'running', \
                                         started_at = COALESCE(started_at, $1) \
                         WHERE id = $2",
                    )
                    .bind(now)
                    .bind(run)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                claimed
            }
        };
        row.map(|r| Job::from_row(&r)).transpose()
    }

    /// Renews the lease of `job` held by `worker` for another `lease`, and reports whether
    /// the tenant asked to cancel or the job is no longer this worker's.
    pub async fn heartbeat(&self, job: &JobId, worker: &str, lease: Duration) -> Result<Heartbeat> {
        let now = now_ns();
        // A single statement: atomic on its own, and on SQLite it takes the write lock at
        // its start (waiting under busy_timeout), so it needs no transaction around it.
        let row = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $3 \
             WHERE id = $1 AND state = 'running' AND lease_owner = $2 \
             RETURNING cancel_requested",
        )
        .bind(job.as_str())
        .bind(worker)
        .bind(now.saturating_add(duration_ns(lease)))
        .fetch_optional(self.system())
        .await?;
        Ok(match row {
            None => Heartbeat::Lost,
            Some(r) if decode::flag(&r, "cancel_requested")? => Heartbeat::Cancel,
            Some(_) => Heartbeat::Continue,
        })
    }

    /// Records the success of `job` with `result` on its run. Only the worker holding the job
    /// can complete it, and only once: [`Completion::NotHeld`] and no change otherwise.
    ///
    /// A cancel accepted while the job ran wins over its success: the job and run become
    /// `cancelled` ([`Completion::Cancelled`]) and the result is dropped. The check is part
    /// of the same statement that settles the job, and a cancel locks the job row first, so
    /// a cancel either lands before this (and is honoured) or finds the run finished (and is
    /// answered 409) — never both.
    pub async fn complete(
        &self,
        job: &JobId,
        worker: &str,
        result: serde_json::Value,
    ) -> Result<Completion> {
        let now = now_ns();
        let result = result.to_string();
        let settle = "UPDATE jobs SET state = CASE WHEN cancel_requested = 1 THEN 'cancelled' \
                                                     ELSE 'succeeded' END, \
                                      finished_at = $1, lease_expires_at = NULL \
                      WHERE id = $2 AND state = 'running' AND lease_owner = $3 \
                      RETURNING run_id, state";
        let settled = match self.dialect() {
            Dialect::Postgres => {
                let row = sqlx::query(&format!(
                    "WITH done AS ({settle}), \
                     r AS ( \
                        UPDATE runs SET status = done.state, \
                               result = CASE WHEN done.state = 'succeeded' THEN $4 \
                                             ELSE runs.result END, \
                               finished_at = $1 \
                        FROM done WHERE runs.id = done.run_id AND runs.status <> 'succeeded') \
                     SELECT state FROM done"
                ))
                .bind(now)
                .bind(job.as_str())
                .bind(worker)
                .bind(result.as_str())
                .fetch_optional(self.system())
                .await?;
                row.map(|r| decode::text(&r, "state")).transpose()?
            }
            Dialect::Sqlite => {
                let mut tx = self.write(Scope::System).await?;
                let row = sqlx::query(settle)
                    .bind(now)
                    .bind(job.as_str())
                    .bind(worker)
                    .fetch_optional(&mut *tx)
                    .await?;
                let state = match row {
                    None => None,
                    Some(row) => {
                        let state = decode::text(&row, "state")?;
                        if let Some(run) = decode::text_opt(&row, "run_id")? {
                            let kept = (state == "succeeded").then_some(result.as_str());
                            sqlx::query(
                                "UPDATE runs SET status = $4, result = COALESCE($2, result), \
                                                 finished_at = $1 \
                                 WHERE id = $3 AND status <> 'succeeded'",
                            )
                            .bind(now)
                            .bind(kept)
                            .bind(run)
                            .bind(state.as_str())
                            .execute(&mut *tx)
                            .await?;
                        }
                        Some(state)
                    }
                };
                tx.commit().await?;
                state
            }
        };
        Ok(match settled.as_deref() {
            None => Completion::NotHeld,
            Some("cancelled") => Completion::Cancelled,
            Some(_) => Completion::Succeeded,
        })
    }

    /// Records a failure of `job` held by `worker` and returns the job's new state:
    ///
    /// - retryable with attempts left: `Queued` again after `backoff_base · 2^(attempts−1)`
    ///   (at most 10 minutes), lease cleared, run back to `queued`;
    /// - retryable but out of attempts: `Dead`, run `failed` with `error`;
    /// - not retryable: `Failed`, run `failed` with `error`;
    /// - retryable while a cancel is pending: `Cancelled` (no point retrying), run `cancelled`.
    ///
    /// `NotFound` for an unknown job; `Conflict` when the job is not running under `worker`
    /// (its lease was lost), in which case nothing changes.
    pub async fn fail(
        &self,
        job: &JobId,
        worker: &str,
        error: serde_json::Value,
        retryable: bool,
        backoff_base: Duration,
    ) -> Result<JobState> {
        let now = now_ns();
        let error = error.to_string();
        let mut tx = self.write(Scope::System).await?;
        let row = sqlx::query(&format!(
            "SELECT state, lease_owner, attempts, max_attempts, cancel_requested, run_id \
             FROM jobs WHERE id = $1{}",
            self.dialect().for_update()
        ))
        .bind(job.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let ours = decode::text(&row, "state")? == "running"
            && decode::text_opt(&row, "lease_owner")?.as_deref() == Some(worker);
        if !ours {
            return Err(StoreError::Conflict(format!(
                "job {job} is not running under worker {worker:?}; its lease was lost"
            )));
        }
        let attempts = decode::int32(&row, "attempts")?;
        let max_attempts = decode::int32(&row, "max_attempts")?;
        let cancel_requested = decode::flag(&row, "cancel_requested")?;
        let run = decode::text_opt(&row, "run_id")?.map(RunId::from_db);

        let state = match (retryable, attempts < max_attempts, cancel_requested) {
            (true, _, true) => JobState::Cancelled,
            (true, true, false) => JobState::Queued,
            (true, false, false) => JobState::Dead,
            (false, _, _) => JobState::Failed,
        };
        if state == JobState::Queued {
            let run_after = now.saturating_add(duration_ns(backoff(backoff_base, attempts)));
            sqlx::query(
                "UPDATE jobs SET state = 'queued', run_after = $2, lease_owner = NULL, \
                                 lease_expires_at = NULL, last_error = $3 \
                 WHERE id = $1",
            )
            .bind(job.as_str())
            .bind(run_after)
            .bind(error.as_str())
            .execute(&mut *tx)
            .await?;
        } else {
            sqlx::query(
                "UPDATE jobs SET state = $2, finished_at = $3, lease_expires_at = NULL, \
                                 last_error = $4 \
                 WHERE id = $1",
            )
            .bind(job.as_str())
            .bind(state.as_str())
            .bind(now)
            .bind(error.as_str())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(run) = run {
            let (status, finished, run_error) = match state {
                JobState::Queued => ("queued", None, None),
                JobState::Cancelled => ("cancelled", Some(now), None),
                _ => ("failed", Some(now), Some(error.as_str())),
            };
            sqlx::query(
                "UPDATE runs SET status = $2, finished_at = $3, error = COALESCE($4, error) \
                 WHERE id = $1",
            )
            .bind(run.as_str())
            .bind(status)
            .bind(finished)
            .bind(run_error)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(state)
    }

    /// The worker holding `job` acknowledges a cancel: the job and its run become
    /// `cancelled`. Returns `false` and changes nothing when the job is not running under
    /// `worker`.
    pub async fn mark_cancelled(&self, job: &JobId, worker: &str) -> Result<bool> {
        let now = now_ns();
        let mut tx = self.write(Scope::System).await?;
        let row = sqlx::query(
            "UPDATE jobs SET state = 'cancelled', finished_at = $1, lease_expires_at = NULL \
             WHERE id = $2 AND state = 'running' AND lease_owner = $3 RETURNING run_id",
        )
        .bind(now)
        .bind(job.as_str())
        .bind(worker)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        if let Some(run) = decode::text_opt(&row, "run_id")? {
            sqlx::query("UPDATE runs SET status = 'cancelled', finished_at = $1 WHERE id = $2")
                .bind(now)
                .bind(run)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The number of jobs in each state, every state listed (zeros included) in the order of
    /// [`JobState::ALL`], for the queue-depth metric that autoscaling watches.
    pub async fn queue_depth(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")
            .fetch_all(self.system())
            .await?;
        let mut depth: Vec<(String, i64)> = JobState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        for r in &rows {
            let state = decode::text(r, "state")?;
            let n = decode::int(r, "n")?;
            match depth.iter_mut().find(|(s, _)| *s == state) {
                Some(slot) => slot.1 = n,
                None => depth.push((state, n)),
            }
        }
        Ok(depth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::from_millis(100);
        assert_eq!(backoff(base, 1), Duration::from_millis(100));
        assert_eq!(backoff(base, 2), Duration::from_millis(200));
        assert_eq!(backoff(base, 4), Duration::from_millis(800));
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
        assert_eq!(backoff(base, 0), Duration::from_millis(100));
        assert_eq!(backoff(Duration::from_secs(3600), 1), MAX_BACKOFF);
    }
}
