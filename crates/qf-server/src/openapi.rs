//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa), so it
//! cannot drift from the code; CI checks it against the router (tests/api).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{datasets, jobs, ops, runs, session, strategies, tenant};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Quantforge API",
        description = "Multi-tenant systematic trading: datasets, strategies, backtests, sweeps and jobs. \
            Errors are RFC 9457 application/problem+json with a stable `type`. Lists page with `limit` and \
            `cursor` (the previous page's `next_cursor`). POSTs that create work accept `Idempotency-Key`. \
            Every response carries RateLimit-* headers; over the limit, 429 with Retry-After."
    ),
    paths(
        session::login, session::refresh, session::logout, session::accept_invitation,
        tenant::get_tenant, tenant::rename_tenant, tenant::list_members, tenant::set_member_role,
        tenant::remove_member, tenant::list_invitations, tenant::invite, tenant::revoke_invitation,
        tenant::list_keys, tenant::create_key, tenant::revoke_key,
        datasets::upload, datasets::list, datasets::get_one, datasets::delete,
        strategies::validate, strategies::create, strategies::add_version, strategies::list,
        strategies::get_one, strategies::versions,
        runs::submit_backtest, runs::list_backtests, runs::get_backtest, runs::cancel_backtest,
        runs::report, runs::trades, runs::equity, runs::log,
        runs::submit_sweep, runs::list_sweeps, runs::get_sweep, runs::cancel_sweep, runs::sweep_table,
        jobs::list, jobs::get_one, jobs::cancel,
        ops::healthz, ops::readyz, ops::metrics, ops::openapi, ops::docs,
    ),
    modifiers(&Bearer),
    security(("bearer" = [])),
)]
struct Api;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (qf_…) or a session token (qfs_…)"))
                    .build(),
            ),
        );
    }
}

/// The document served at `/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    Api::openapi()
}
