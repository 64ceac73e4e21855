//! Runs: a tenant's request to backtest (or sweep) a strategy version on a dataset, with its
//! status and, once done, its result or error. Each run has exactly one queue job
//! ([`crate::jobs`]); the two are created, moved and finished together.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use crate::clock::now_ns;
use crate::db::{Arg, Dialect, Scope, Store, bind_all};
use crate::decode;
use crate::error::{Result, StoreError};
use crate::ids::{DatasetId, JobId, RunId, StrategyId, TenantId};
use crate::jobs::{self, Job, JobState};
use crate::page::{Listed, Page};

/// What a run computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// One backtest.
    Backtest,
    /// A parameter sweep (many backtests, one report).
    Sweep,
}

impl RunKind {
    /// Every kind.
    pub const ALL: [RunKind; 2] = [RunKind::Backtest, RunKind::Sweep];

    /// The kind's name as stored: `"backtest"` or `"sweep"`. Also the kind of its job.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Backtest => "backtest",
            RunKind::Sweep => "sweep",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<RunKind> {
        RunKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a run is in its life. `Queued → Running → Succeeded | Failed | Cancelled`; a
/// retryable failure goes back from `Running` to `Queued`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Waiting for a worker (or for its retry time).
    Queued,
    /// A worker is on it.
    Running,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped at the tenant's request.
    Cancelled,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 5] = [
        Status::Queued,
        Status::Running,
        Status::Succeeded,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The status's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status named `s`.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the run is over (succeeded, failed or cancelled): nothing changes it again.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Cancelled)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// Its owner.
    pub tenant_id: TenantId,
    /// Backtest or sweep.
    pub kind: RunKind,
    /// Where it is in its life.
    pub status: Status,
    /// The market data it runs on.
    pub dataset_id: DatasetId,
    /// The strategy it runs.
    pub strategy_id: StrategyId,
    /// The exact version of that strategy.
    pub strategy_version: i64,
    /// The request as submitted (parameters, period, fill model, …).
    pub request: serde_json::Value,
    /// The result, once succeeded.
    pub result: Option<serde_json::Value>,
    /// The error (a problem document), once failed.
    pub error: Option<serde_json::Value>,
    /// Its queue job.
    pub job_id: JobId,
    /// When it was submitted.
    pub created_at: i64,
    /// When a worker first started it.
    pub started_at: Option<i64>,
    /// When it reached a terminal status.
    pub finished_at: Option<i64>,
}

/// A run to submit.
#[derive(Debug, Clone)]
pub struct NewRun {
    /// Backtest or sweep.
    pub kind: RunKind,
    /// The market data; must exist in the tenant.
    pub dataset_id: DatasetId,
    /// The strategy; must exist in the tenant.
    pub strategy_id: StrategyId,
    /// The version to run; must exist.
    pub strategy_version: i64,
    /// The request as submitted, kept for the report and for the worker.
    pub request: serde_json::Value,
    /// Higher runs first.
    pub priority: i32,
    /// How many times a worker may start it (≥ 1) before a retryable failure is final.
    pub max_attempts: i32,
}

/// Which runs to list.
#[derive(Debug, Clone)]
pub struct RunFilter {
    /// Only runs of this kind (required: backtests and sweeps are listed apart).
    pub kind: RunKind,
    /// Only runs in this status.
    pub status: Option<Status>,
    /// Only runs of this strategy.
    pub strategy_id: Option<StrategyId>,
    /// Only runs on this dataset.
    pub dataset_id: Option<DatasetId>,
}

impl RunFilter {
    /// All runs of `kind`.
    pub fn kind(kind: RunKind) -> RunFilter {
        RunFilter {
            kind,
            status: None,
            strategy_id: None,
            dataset_id: None,
        }
    }
}

pub(crate) const COLUMNS: &str = "id, tenant_id, kind, status, dataset_id, strategy_id, \
     strategy_version, request, result, error, job_id, created_at, started_at, finished_at";

impl Run {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Run> {
        Ok(Run {
            id: RunId::from_db(decode::text(row, "id")?),
            tenant_id: TenantId::from_db(decode::text(row, "tenant_id")?),
            kind: decode::named(row, "kind", RunKind::parse)?,
            status: decode::named(row, "status", Status::parse)?,
            dataset_id: DatasetId::from_db(decode::text(row, "dataset_id")?),
            strategy_id: StrategyId::from_db(decode::text(row, "strategy_id")?),
            strategy_version: decode::int(row, "strategy_version")?,
            request: decode::json(row, "request")?,
            result: decode::json_opt(row, "result")?,
            error: decode::json_opt(row, "error")?,
            job_id: JobId::from_db(decode::text(row, "job_id")?),
            created_at: decode::int(row, "created_at")?,
            started_at: decode::int_opt(row, "started_at")?,
            finished_at: decode::int_opt(row, "finished_at")?,
        })
    }
}

/// Run `id` of `t` read inside `tx`.
pub(crate) async fn fetch(tx: &mut crate::db::Tx, t: &TenantId, id: &RunId) -> Result<Run> {
    let row = crate::db::fetch_row(tx, "runs", COLUMNS, t, id.as_str(), "").await?;
    Run::from_row(&row)
}

impl Store {
    /// Submits a run and queues its job, in one transaction. `Invalid` when the dataset or
    /// the strategy version does not exist in `t` (the request names something unusable;
    /// it is not the URL's resource that is missing) or `max_attempts < 1`.
    pub async fn submit_run(&self, t: &TenantId, new: &NewRun) -> Result<(Run, Job)> {
        if new.max_attempts < 1 {
            return Err(StoreError::Invalid(
                "max_attempts must be at least 1".into(),
            ));
        }
        let now = now_ns();
        let run = Run {
            id: RunId::new(),
            tenant_id: t.clone(),
            kind: new.kind,
            status: Status::Queued,
            dataset_id: new.dataset_id.clone(),
            strategy_id: new.strategy_id.clone(),
            strategy_version: new.strategy_version,
            request: new.request.clone(),
            result: None,
            error: None,
            job_id: JobId::new(),
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        let job = Job {
            id: run.job_id.clone(),
            tenant_id: t.clone(),
            kind: new.kind.as_str().to_owned(),
            run_id: Some(run.id.clone()),
            state: JobState::Queued,
            priority: new.priority,
            attempts: 0,
            max_attempts: new.max_attempts,
            run_after: now,
            lease_owner: None,
            lease_expires_at: None,
            cancel_requested: false,
            last_error: None,
            created_at: now,
            started_at: None,
            finished_at: None,
        };
        let request = new.request.to_string();
        let mut tx = self.write(Scope::Tenant(t)).await?;
        // Checks and inserts are one statement: both references are checked in the tenant,
        // and the dataset row is share-locked (PostgreSQL) until commit, so a concurrent
        // delete_dataset waits, then sees this run and refuses. On SQLite the write
        // transaction already excludes every other writer.
        let created = match self.dialect() {
            Dialect::Postgres => {
                let row = sqlx::query(
                    "WITH refs AS ( \
                        SELECT d.id FROM datasets d \
                        JOIN strategy_versions v \
                          ON v.tenant_id = d.tenant_id AND v.strategy_id = $4 AND v.version = $5 \
                        WHERE d.tenant_id = $2 AND d.id = $3 \
                        FOR SHARE OF d), \
                     new_run AS ( \
                        INSERT INTO runs (id, tenant_id, kind, status, dataset_id, strategy_id, \
                                          strategy_version, request, job_id, created_at) \
                        SELECT $1, $2, $6, 'queued', $3, $4, $5, $7, $8, $9 FROM refs \
                        RETURNING id), \
                     new_job AS ( \
                        INSERT INTO jobs (id, tenant_id, kind, run_id, state, priority, attempts, \
                                          max_attempts, run_after, cancel_requested, created_at) \
                        SELECT $8, $2, $6, new_run.id, 'queued', $10, 0, $11, $9, 0, $9 \
                        FROM new_run \
                        RETURNING id) \
                     SELECT COUNT(*) AS n FROM new_job",
                )
                .bind(run.id.as_str())
                .bind(t.as_str())
                .bind(run.dataset_id.as_str())
                .bind(run.strategy_id.as_str())
                .bind(run.strategy_version)
                .bind(new.kind.as_str())
                .bind(request.as_str())
                .bind(job.id.as_str())
                .bind(now)
                .bind(i64::from(job.priority))
                .bind(i64::from(job.max_attempts))
                .fetch_one(&mut *tx)
                .await?;
                decode::int(&row, "n")? == 1
            }
            Dialect::Sqlite => {
                let found = sqlx::query(
                    "SELECT 1 FROM datasets d \
                     JOIN strategy_versions v \
                       ON v.tenant_id = d.tenant_id AND v.strategy_id = $3 AND v.version = $4 \
                     WHERE d.tenant_id = $1 AND d.id = $2",
                )
                .bind(t.as_str())
                .bind(run.dataset_id.as_str())
                .bind(run.strategy_id.as_str())
                .bind(run.strategy_version)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
                if found {
                    sqlx::query(
                        "INSERT INTO runs (id, tenant_id, kind, status, dataset_id, strategy_id, \
                                           strategy_version, request, job_id, created_at) \
                         VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(run.id.as_str())
                    .bind(t.as_str())
                    .bind(new.kind.as_str())
                    .bind(run.dataset_id.as_str())
                    .bind(run.strategy_id.as_str())
                    .bind(run.strategy_version)
                    .bind(request.as_str())
                    .bind(job.id.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "INSERT INTO jobs (id, tenant_id, kind, run_id, state, priority, attempts, \
                                           max_attempts, run_after, cancel_requested, created_at) \
                         VALUES ($1, $2, $3, $4, 'queued', $5, 0, $6, $7, 0, $7)",
                    )
                    .bind(job.id.as_str())
                    .bind(t.as_str())
                    .bind(new.kind.as_str())
                    .bind(run.id.as_str())
                    .bind(i64::from(job.priority))
                    .bind(i64::from(job.max_attempts))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                found
            }
        };
        if !created {
            // Only on this error path: say which reference is missing.
            let dataset = sqlx::query("SELECT 1 FROM datasets WHERE tenant_id = $1 AND id = $2")
                .bind(t.as_str())
                .bind(run.dataset_id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            return Err(StoreError::Invalid(if dataset.is_none() {
                format!("dataset {} does not exist", run.dataset_id)
            } else {
                format!(
                    "strategy {} has no version {}",
                    run.strategy_id, run.strategy_version
                )
            }));
        }
        tx.commit().await?;
        Ok((run, job))
    }

    /// Run `id` of `t`.
    pub async fn run(&self, t: &TenantId, id: &RunId) -> Result<Run> {
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let run = fetch(&mut tx, t, id).await?;
        tx.commit().await?;
        Ok(run)
    }

    /// A page of the runs of `t` that match `filter`.
    pub async fn runs(&self, t: &TenantId, filter: &RunFilter, page: &Page) -> Result<Listed<Run>> {
        let mut sql = format!("SELECT {COLUMNS} FROM runs WHERE tenant_id = $1 AND kind = $2");
        let mut args = vec![
            Arg::Text(t.to_string()),
            Arg::Text(filter.kind.as_str().to_owned()),
        ];
        let mut and = |column: &str, value: String| {
            args.push(Arg::Text(value));
            sql.push_str(&format!(" AND {column} = ${}", args.len()));
        };
        if let Some(status) = filter.status {
            and("status", status.as_str().to_owned());
        }
        if let Some(s) = &filter.strategy_id {
            and("strategy_id", s.to_string());
        }
        if let Some(d) = &filter.dataset_id {
            and("dataset_id", d.to_string());
        }
        page.push_sql(&mut sql, &mut args);
        let mut tx = self.read(Scope::Tenant(t)).await?;
        let rows = bind_all(sqlx::query(&sql), &args)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let items = rows.iter().map(Run::from_row).collect::<Result<Vec<_>>>()?;
        Ok(page.finish(items, |r| r.id.as_str()))
    }

    /// Cancels run `id` of `t`. A queued run and its job become cancelled at once; for a
    /// running run the job is flagged `cancel_requested` and the run stays running until its
    /// worker sees [`crate::Heartbeat::Cancel`] and calls [`Store::mark_cancelled`].
    /// `Conflict` when the run has already finished.
    pub async fn cancel_run(&self, t: &TenantId, id: &RunId) -> Result<Run> {
        let mut tx = self.write(Scope::Tenant(t)).await?;
        // Lock the job before the run, the order every queue operation uses, so a cancel
        // racing a claim waits instead of deadlocking. A run's job id never changes, so
        // reading it unlocked is safe.
        let job_id = fetch(&mut tx, t, id).await?.job_id;
        let job = jobs::lock(&mut tx, self.dialect(), t, &job_id).await?;
        let run = fetch(&mut tx, t, id).await?;
        if run.status.is_terminal() {
            return Err(StoreError::Conflict(format!(
                "the run has already finished ({})",
                run.status
            )));
        }
        jobs::cancel_locked(&mut tx, t, &job).await?;
        let run = fetch(&mut tx, t, id).await?;
        tx.commit().await?;
        Ok(run)
    }
}
