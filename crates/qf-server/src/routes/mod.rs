//! The /v1 routes, one module per resource, and the conventions they share: store errors
//! as problems, cursor pagination.

pub mod datasets;
pub mod jobs;
pub mod ops;
pub mod runs;
pub mod session;
pub mod strategies;
pub mod tenant;

use axum::Router;
use axum::routing::{get, post};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use qf_store::{Page, StoreError};

use crate::app::AppState;
use crate::problem::Problem;

/// Every route of the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/v1/openapi.json", get(ops::openapi))
        .route("/v1/docs", get(crate::docs_page::handler))
        .route("/v1/auth/login", post(session::login))
        .route("/v1/auth/refresh", post(session::refresh))
        .route("/v1/auth/logout", post(session::logout))
        .route("/v1/invitations/accept", post(session::accept_invitation))
        .route(
            "/v1/tenant",
            get(tenant::get_tenant).patch(tenant::rename_tenant),
        )
        .route("/v1/members", get(tenant::list_members))
        .route(
            "/v1/members/{user_id}",
            axum::routing::patch(tenant::set_member_role).delete(tenant::remove_member),
        )
        .route(
            "/v1/invitations",
            get(tenant::list_invitations).post(tenant::invite),
        )
        .route(
            "/v1/invitations/{id}",
            axum::routing::delete(tenant::revoke_invitation),
        )
        .route(
            "/v1/api-keys",
            get(tenant::list_keys).post(tenant::create_key),
        )
        .route(
            "/v1/api-keys/{id}",
            axum::routing::delete(tenant::revoke_key),
        )
        .route(
            "/v1/datasets",
            get(datasets::list)
                .post(datasets::upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/v1/datasets/{id}",
            get(datasets::get_one).delete(datasets::delete),
        )
        .route(
            "/v1/strategies",
            get(strategies::list).post(strategies::create),
        )
        .route("/v1/strategies/validate", post(strategies::validate))
        .route("/v1/strategies/{id}", get(strategies::get_one))
        .route(
            "/v1/strategies/{id}/versions",
            get(strategies::versions).post(strategies::add_version),
        )
        .route(
            "/v1/backtests",
            get(runs::list_backtests).post(runs::submit_backtest),
        )
        .route("/v1/backtests/{id}", get(runs::get_backtest))
        .route("/v1/backtests/{id}/cancel", post(runs::cancel_backtest))
        .route("/v1/backtests/{id}/report", get(runs::report))
        .route("/v1/backtests/{id}/trades", get(runs::trades))
        .route("/v1/backtests/{id}/equity", get(runs::equity))
        .route("/v1/backtests/{id}/log", get(runs::log))
        .route(
            "/v1/sweeps",
            get(runs::list_sweeps).post(runs::submit_sweep),
        )
        .route("/v1/sweeps/{id}", get(runs::get_sweep))
        .route("/v1/sweeps/{id}/cancel", post(runs::cancel_sweep))
        .route("/v1/sweeps/{id}/table", get(runs::sweep_table))
        .route("/v1/jobs", get(jobs::list))
        .route("/v1/jobs/{id}", get(jobs::get_one))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel))
        .fallback(crate::problem::not_found_fallback)
}

impl From<StoreError> for Problem {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Problem::not_found("no such object in this tenant"),
            StoreError::Conflict(m) => Problem::conflict(m),
            StoreError::Invalid(m) => Problem::invalid_body(m),
            other => Problem::internal(other.to_string()),
        }
    }
}

impl From<qf_jobs::execute::StrategyProblem> for Problem {
    fn from(p: qf_jobs::execute::StrategyProblem) -> Self {
        Problem::strategy_invalid(&p.diagnostics)
    }
}

impl From<qf_jobs::execute::RequestProblem> for Problem {
    fn from(p: qf_jobs::execute::RequestProblem) -> Self {
        Problem::validation(p.field, p.message)
    }
}

/// Query parameters every list takes.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page of the same list; absent or empty for the
    /// first page.
    pub cursor: Option<String>,
    /// `desc` (newest first, the default) or `asc`.
    pub order: Option<String>,
    /// Filter by state (runs and jobs).
    pub status: Option<String>,
    /// Filter runs by strategy.
    pub strategy_id: Option<String>,
    /// Filter runs by dataset.
    pub dataset_id: Option<String>,
    /// Filter strategies by kind.
    pub kind: Option<String>,
    /// Filter datasets by name prefix.
    pub name: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Listed<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl ListQuery {
    /// The store page for list `list` (a name baked into its cursors, so that a cursor from
    /// another list, or another order, is refused instead of silently misread).
    pub fn page(&self, list: &str) -> Result<Page, Problem> {
        if let Some(l) = self.limit
            && !(1..=200).contains(&l)
        {
            return Err(Problem::validation("limit", "limit must be 1 to 200"));
        }
        let desc = match self.order.as_deref() {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(o) => {
                return Err(Problem::validation(
                    "order",
                    format!("order must be `asc` or `desc`, not {o:?}"),
                ));
            }
        };
        let after = match self.cursor.as_deref() {
            // `cursor=` is the first page, as if it were absent.
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c, &cursor_scope(list, desc))?),
        };
        Ok(Page {
            limit: self.limit.unwrap_or(50),
            after,
            desc,
        })
    }

    /// Wraps a store page in the API's list shape.
    pub fn listed<S, T>(
        &self,
        list: &str,
        l: qf_store::Listed<S>,
        f: impl FnMut(S) -> T,
    ) -> Listed<T> {
        let desc = self.order.as_deref() != Some("asc");
        Listed {
            items: l.items.into_iter().map(f).collect(),
            next_cursor: l
                .next
                .map(|id| encode_cursor(&cursor_scope(list, desc), &id)),
        }
    }
}

fn cursor_scope(list: &str, desc: bool) -> String {
    format!("{list}:{}", if desc { "desc" } else { "asc" })
}

fn encode_cursor(scope: &str, id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{scope}|{id}"))
}

fn decode_cursor(cursor: &str, scope: &str) -> Result<String, Problem> {
    let bad =
        || Problem::invalid_cursor("the cursor is not a `next_cursor` of this list in this order");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| bad())?;
    let raw = String::from_utf8(raw).map_err(|_| bad())?;
    let (s, id) = raw.split_once('|').ok_or_else(bad)?;
    if s != scope || id.is_empty() {
        return Err(bad());
    }
    Ok(id.to_string())
}
