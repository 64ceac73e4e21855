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
    modifiers(&Bearer, &CommonResponses),
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

/// The answers any operation may give besides its own, added where an operation does not
/// document them itself, so that clients (and schema checkers) know every status they can
/// meet: 429 everywhere (the rate limit applies to every route); 401 and 403 where a
/// credential is needed; 400, 413, 415 and 422 where there is a body; 400 and 422 where
/// there is a query string (a malformed or NUL-holding parameter); 404 where the path names
/// an object.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        for item in doc.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                let public = is_public(op);
                let params = op.parameters.as_deref().unwrap_or_default();
                let in_query = params.iter().any(|p| p.parameter_in == ParameterIn::Query);
                let in_path = params.iter().any(|p| p.parameter_in == ParameterIn::Path);
                let body = op.request_body.is_some();
                let mut add = |code: &str, why: &str| {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| problem_response(why).into());
                };
                add("429", "rate limited; retry after `Retry-After` seconds");
                if !public {
                    add(
                        "401",
                        "no credential, or one that is unknown, expired or revoked",
                    );
                    add("403", "the credential lacks the scope this operation needs");
                }
                if body {
                    add(
                        "400",
                        "the body is not JSON (or not the form) this operation reads",
                    );
                    add("413", "the body is larger than the limit");
                    add(
                        "415",
                        "the body's Content-Type is not one this operation reads",
                    );
                    add(
                        "422",
                        "a field of the body is invalid; the problem names it",
                    );
                }
                if in_query {
                    add(
                        "400",
                        "a query parameter is malformed; the problem names it",
                    );
                    add("422", "a query parameter is invalid; the problem names it");
                }
                if in_path {
                    add("404", "no such object in this tenant");
                }
            }
        }
    }
}

/// Whether an operation needs no credential (`security: [{}]`).
pub fn is_public(op: &utoipa::openapi::path::Operation) -> bool {
    op.security
        .as_ref()
        .is_some_and(|reqs| serde_json::to_value(reqs).is_ok_and(|v| v == serde_json::json!([{}])))
}

fn problem_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, ObjectBuilder, ResponseBuilder, Type};
    let schema = ObjectBuilder::new()
        .property("type", ObjectBuilder::new().schema_type(Type::String))
        .property("title", ObjectBuilder::new().schema_type(Type::String))
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .property("detail", ObjectBuilder::new().schema_type(Type::String))
        .required("type")
        .required("title")
        .required("status");
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
        .build()
}

/// The document served at `/v1/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    Api::openapi()
}

/// The routes that need no credential, as `(METHOD, path template)`: the operations the
/// document marks `security: [{}]`. Authentication ignores any credential sent to them, so
/// that a client with a stale token can still sign in, refresh or check health. A handful,
/// so a list: looking one up allocates nothing.
pub fn public_routes() -> &'static [(&'static str, String)] {
    static PUBLIC: std::sync::OnceLock<Vec<(&'static str, String)>> = std::sync::OnceLock::new();
    PUBLIC.get_or_init(|| {
        let doc = document();
        let mut out = Vec::new();
        for (path, item) in &doc.paths.paths {
            let ops = [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ];
            for (method, op) in ops {
                if op.as_ref().is_some_and(is_public) {
                    out.push((method, path.clone()));
                }
            }
        }
        out
    })
}
