//! Jobs: the queue entries behind runs, for watching and cancelling work.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use qf_store::{Job, JobId, JobState};

use crate::app::AppState;
use crate::auth::{Principal, Scope};
use crate::problem::{ApiQuery, Problem};
use crate::routes::{ListQuery, Listed};

/// A queued unit of work.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    /// backtest or sweep.
    pub kind: String,
    pub run_id: Option<String>,
    /// queued, running, succeeded, failed, cancelled or dead (retries exhausted).
    pub state: String,
    pub priority: i32,
    pub attempts: i32,
    pub max_attempts: i32,
    /// Not started before this time (ns), after a retry's backoff.
    pub run_after: i64,
    pub cancel_requested: bool,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        JobView {
            id: j.id.to_string(),
            kind: j.kind,
            run_id: j.run_id.map(|r| r.to_string()),
            state: j.state.as_str().into(),
            priority: j.priority,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_after: j.run_after,
            cancel_requested: j.cancel_requested,
            last_error: j.last_error,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
        }
    }
}

fn job_id(id: &str) -> Result<JobId, Problem> {
    JobId::parse(id).ok_or_else(|| Problem::not_found("no such job in this tenant"))
}

/// Lists jobs, newest first; `status` filters by state.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(ListQuery),
    responses((status = 200, body = inline(Listed<JobView>))))]
pub async fn list(
    State(app): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Listed<JobView>>, Problem> {
    p.require(Scope::Read)?;
    let page = q.page("jobs")?;
    let state = match q.status.as_deref() {
        None => None,
        Some(s) => Some(JobState::parse(s).ok_or_else(|| {
            Problem::validation(
                "status",
                format!("status must be queued, running, succeeded, failed, cancelled or dead, not {s:?}"),
            )
        })?),
    };
    let l = app.store.jobs(&p.tenant, state, &page).await?;
    Ok(Json(q.listed("jobs", l, JobView::from)))
}

/// One job.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 404)))]
pub async fn get_one(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<JobView>, Problem> {
    p.require(Scope::Read)?;
    Ok(Json(app.store.job(&p.tenant, &job_id(&id)?).await?.into()))
}

/// Cancels a queued or running job and its run.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 404), (status = 409)))]
pub async fn cancel(
    State(app): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<JobView>, Problem> {
    p.require(Scope::Read)?;
    let id = job_id(&id)?;
    // 404 before 403: another tenant's id must look like no id at all.
    app.store.job(&p.tenant, &id).await?;
    p.require(Scope::Run)?;
    Ok(Json(app.store.cancel_job(&p.tenant, &id).await?.into()))
}
