//! Who may call what: every route of the router, with a key of every role. Allowed calls
//! get their normal answer, others a 403 problem; no credential is a 401; and another
//! tenant's ids are answered exactly as ids that do not exist. On SQLite and PostgreSQL.

#[macro_use]
mod api_support;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};

use api_support::{Backend, Deployment, PASSWORD, Resp, Server, sma_cross_py, str_of};

backend_tests!(every_route_with_every_role);

/// What a credential may do; a role grants the scopes up to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    Read,
    Run,
    Manage,
    Owner,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy)]
enum Need {
    /// Anyone, with or without a credential.
    Public,
    /// Any valid credential.
    Credential,
    /// A credential with this scope.
    Scope(Scope),
}

/// The objects of tenant A the routes act on.
struct Ids {
    dataset: String,
    /// Deleted by the first role allowed to.
    spare_dataset: String,
    python: String,
    builtin: String,
    backtest: String,
    sweep: String,
    job: String,
    /// A member whose role is changed, then removed.
    spare_member: String,
    /// Revoked by the first role allowed to.
    invitation: String,
    /// Revoked by the first role allowed to.
    spare_key: String,
}

struct Fixture<'a> {
    server: &'a Server,
    owner_a: String,
    ids: Ids,
    csv: Vec<u8>,
    /// Makes names and emails unique across calls.
    n: Cell<usize>,
}

impl Fixture<'_> {
    fn next(&self) -> usize {
        self.n.set(self.n.get() + 1);
        self.n.get()
    }
}

enum Payload {
    None,
    Json(Value),
    Form(Vec<u8>),
}

/// One route of the table.
struct Row {
    method: &'static str,
    route: &'static str,
    need: Need,
    /// Statuses an allowed call may get (a repeated delete finds nothing, for instance).
    ok: &'static [u16],
    /// The id put in the route's `{…}` segment, if it has one.
    id: fn(&Ids) -> &str,
    body: fn(&Fixture) -> Payload,
}

fn no_id(_: &Ids) -> &str {
    ""
}

fn no_body(_: &Fixture) -> Payload {
    Payload::None
}

fn login_body(_: &Fixture) -> Payload {
    Payload::Json(json!({"email": "reader@a.test", "password": PASSWORD}))
}

fn refresh_body(f: &Fixture) -> Payload {
    let login = f
        .server
        .post("/v1/auth/login")
        .json(&json!({"email": "reader@a.test", "password": PASSWORD}))
        .send()
        .ok(200);
    Payload::Json(json!({"refresh_token": login["refresh_token"]}))
}

fn accept_body(f: &Fixture) -> Payload {
    let email = format!("joiner{}@a.test", f.next());
    let inv = f
        .server
        .post("/v1/invitations")
        .auth(&f.owner_a)
        .json(&json!({"email": email, "role": "viewer"}))
        .send()
        .ok(201);
    Payload::Json(json!({"token": inv["token"], "email": email, "password": PASSWORD}))
}

fn tenant_name(_: &Fixture) -> Payload {
    Payload::Json(json!({"name": "Tenant A"}))
}

fn member_role(_: &Fixture) -> Payload {
    Payload::Json(json!({"role": "developer"}))
}

fn invitation(f: &Fixture) -> Payload {
    Payload::Json(json!({"email": format!("invitee{}@a.test", f.next()), "role": "viewer"}))
}

fn api_key(f: &Fixture) -> Payload {
    Payload::Json(json!({"name": format!("key {}", f.next()), "role": "viewer"}))
}

fn dataset_form(f: &Fixture) -> Payload {
    Payload::Form(f.csv.clone())
}

fn strategy(f: &Fixture) -> Payload {
    Payload::Json(
        json!({"name": format!("strategy {}", f.next()), "kind": "builtin", "source": "sma_cross"}),
    )
}

fn validate(_: &Fixture) -> Payload {
    Payload::Json(json!({"name": "check", "kind": "python", "source": sma_cross_py()}))
}

fn version(f: &Fixture) -> Payload {
    Payload::Json(json!({"source": format!("{}\n# version {}\n", sma_cross_py(), f.next())}))
}

fn backtest(f: &Fixture) -> Payload {
    Payload::Json(json!({
        "dataset_id": f.ids.dataset, "strategy_id": f.ids.builtin,
        "params": {"fast": 5, "slow": 20}, "cash": "100000", "size": "10",
    }))
}

fn sweep(f: &Fixture) -> Payload {
    Payload::Json(json!({
        "dataset_id": f.ids.dataset, "strategy_id": f.ids.builtin,
        "grid": {"fast": [5, 10], "slow": [20]}, "cash": "100000", "size": "10",
    }))
}

use Need::{Credential, Public};
const READ: Need = Need::Scope(Scope::Read);
const RUN: Need = Need::Scope(Scope::Run);
const MANAGE: Need = Need::Scope(Scope::Manage);
const OWNER: Need = Need::Scope(Scope::Owner);

macro_rules! row {
    ($method:literal $route:literal, $need:expr, $ok:expr) => {
        row!($method $route, $need, $ok, no_id, no_body)
    };
    ($method:literal $route:literal, $need:expr, $ok:expr, $id:expr) => {
        row!($method $route, $need, $ok, $id, no_body)
    };
    ($method:literal $route:literal, $need:expr, $ok:expr, $id:expr, $body:expr) => {
        Row { method: $method, route: $route, need: $need, ok: $ok, id: $id, body: $body }
    };
}

/// Every route of `routes/mod.rs` (checked against it) with who may call it.
fn table() -> Vec<Row> {
    vec![
        row!("GET" "/healthz", Public, &[200]),
        row!("GET" "/readyz", Public, &[200]),
        row!("GET" "/metrics", Public, &[200]),
        row!("GET" "/v1/openapi.json", Public, &[200]),
        row!("GET" "/v1/docs", Public, &[200]),
        row!("POST" "/v1/auth/login", Public, &[200], no_id, login_body),
        row!("POST" "/v1/auth/refresh", Public, &[200], no_id, refresh_body),
        // An API key has no session to end.
        row!("POST" "/v1/auth/logout", Credential, &[400]),
        row!("POST" "/v1/invitations/accept", Public, &[200], no_id, accept_body),
        row!("GET" "/v1/tenant", READ, &[200]),
        row!("PATCH" "/v1/tenant", OWNER, &[200], no_id, tenant_name),
        row!("GET" "/v1/members", READ, &[200]),
        row!("PATCH" "/v1/members/{user_id}", MANAGE, &[200], |i| i.spare_member.as_str(), member_role),
        row!("DELETE" "/v1/members/{user_id}", MANAGE, &[204, 404], |i| i.spare_member.as_str()),
        row!("GET" "/v1/invitations", MANAGE, &[200]),
        row!("POST" "/v1/invitations", MANAGE, &[201], no_id, invitation),
        row!("DELETE" "/v1/invitations/{id}", MANAGE, &[204, 404, 409], |i| i.invitation.as_str()),
        row!("GET" "/v1/api-keys", MANAGE, &[200]),
        row!("POST" "/v1/api-keys", MANAGE, &[201], no_id, api_key),
        row!("DELETE" "/v1/api-keys/{id}", MANAGE, &[200], |i| i.spare_key.as_str()),
        row!("GET" "/v1/datasets", READ, &[200]),
        row!("POST" "/v1/datasets", RUN, &[201], no_id, dataset_form),
        row!("GET" "/v1/datasets/{id}", READ, &[200], |i| i.dataset.as_str()),
        row!("DELETE" "/v1/datasets/{id}", RUN, &[204, 404], |i| i.spare_dataset.as_str()),
        row!("GET" "/v1/strategies", READ, &[200]),
        row!("POST" "/v1/strategies", RUN, &[201], no_id, strategy),
        row!("POST" "/v1/strategies/validate", READ, &[200], no_id, validate),
        row!("GET" "/v1/strategies/{id}", READ, &[200], |i| i.python.as_str()),
        row!("GET" "/v1/strategies/{id}/versions", READ, &[200], |i| i.python.as_str()),
        row!("POST" "/v1/strategies/{id}/versions", RUN, &[201], |i| i.python.as_str(), version),
        row!("GET" "/v1/backtests", READ, &[200]),
        row!("POST" "/v1/backtests", RUN, &[202], no_id, backtest),
        row!("GET" "/v1/backtests/{id}", READ, &[200], |i| i.backtest.as_str()),
        // Already finished.
        row!("POST" "/v1/backtests/{id}/cancel", RUN, &[409], |i| i.backtest.as_str()),
        row!("GET" "/v1/backtests/{id}/report", READ, &[200], |i| i.backtest.as_str()),
        row!("GET" "/v1/backtests/{id}/trades", READ, &[200], |i| i.backtest.as_str()),
        row!("GET" "/v1/backtests/{id}/equity", READ, &[200], |i| i.backtest.as_str()),
        row!("GET" "/v1/backtests/{id}/log", READ, &[200], |i| i.backtest.as_str()),
        row!("GET" "/v1/sweeps", READ, &[200]),
        row!("POST" "/v1/sweeps", RUN, &[202], no_id, sweep),
        row!("GET" "/v1/sweeps/{id}", READ, &[200], |i| i.sweep.as_str()),
        row!("POST" "/v1/sweeps/{id}/cancel", RUN, &[409], |i| i.sweep.as_str()),
        row!("GET" "/v1/sweeps/{id}/table", READ, &[200], |i| i.sweep.as_str()),
        row!("GET" "/v1/jobs", READ, &[200]),
        row!("GET" "/v1/jobs/{id}", READ, &[200], |i| i.job.as_str()),
        row!("POST" "/v1/jobs/{id}/cancel", RUN, &[409], |i| i.job.as_str()),
    ]
}

impl Row {
    fn path_with(&self, id: &str) -> String {
        match self.route.find('{') {
            Some(open) => {
                let close = self.route[open..]
                    .find('}')
                    .map_or(self.route.len(), |c| open + c + 1);
                format!("{}{id}{}", &self.route[..open], &self.route[close..])
            }
            None => self.route.to_string(),
        }
    }

    fn has_id(&self) -> bool {
        self.route.contains('{')
    }

    fn send(&self, f: &Fixture, path: &str, key: Option<&str>) -> Resp {
        let req = f.server.req(self.method, path).auth_opt(key);
        match (self.body)(f) {
            Payload::None => req.send(),
            Payload::Json(v) => req.json(&v).send(),
            Payload::Form(csv) => req.multipart(&[("file", Some("bars.csv"), &csv)]).send(),
        }
    }
}

/// A well-formed id of the same kind as `id` that names nothing.
fn nonexistent_like(id: &str) -> String {
    let (prefix, _) = id
        .split_once('_')
        .unwrap_or_else(|| panic!("not a prefixed id: {id}"));
    format!("{prefix}_0000000000007000a000000000000000")
}

/// A problem with the id it was asked about replaced, for comparing two 404s.
fn masked(r: &Resp, id: &str) -> String {
    r.text().replace(id, "<id>")
}

fn every_route_with_every_role(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let a = d.create_tenant("Tenant A", None);
    let b = d.create_tenant("Tenant B", None);
    d.create_user("reader@a.test", &a.id, "viewer");
    let spare = d.create_user("spare@a.test", &a.id, "viewer");
    let server = d.serve(&["--workers", "1"]);
    let owner = a.key.as_str();

    // Keys of every role, made through the API by the owner.
    let mut principals: Vec<(&str, String, Vec<Scope>)> = Vec::new();
    for (role, scopes) in [
        ("viewer", vec![Scope::Read]),
        ("developer", vec![Scope::Read, Scope::Run]),
        ("admin", vec![Scope::Read, Scope::Run, Scope::Manage]),
    ] {
        let k = server
            .post("/v1/api-keys")
            .auth(owner)
            .json(&json!({"name": format!("{role} key"), "role": role}))
            .send()
            .ok(201);
        assert_eq!(k["role"], role, "{k}");
        let key = str_of(&k, "key");
        let me = server.get("/v1/tenant").auth(&key).send().ok(200);
        assert_eq!(
            (me["id"].as_str(), me["role"].as_str()),
            (Some(a.id.as_str()), Some(role)),
            "{me}"
        );
        principals.push((role, key, scopes));
    }
    principals.push((
        "owner",
        a.key.clone(),
        vec![Scope::Read, Scope::Run, Scope::Manage, Scope::Owner],
    ));

    // Tenant A's objects.
    let csv_path = d.path("bars.csv");
    api_support::write_sample_csv(&csv_path, 500, 2);
    let csv = std::fs::read(&csv_path).expect("csv");
    let upload = || {
        str_of(
            &server
                .post("/v1/datasets")
                .auth(owner)
                .multipart(&[("file", Some("bars.csv"), &csv)])
                .send()
                .ok(201),
            "id",
        )
    };
    let (dataset, spare_dataset) = (upload(), upload());
    let create = |body: Value| {
        str_of(
            &server
                .post("/v1/strategies")
                .auth(owner)
                .json(&body)
                .send()
                .ok(201),
            "id",
        )
    };
    let python = create(json!({"name": "py", "kind": "python", "source": sma_cross_py()}));
    let builtin = create(json!({"name": "builtin", "kind": "builtin", "source": "sma_cross"}));
    let run = |path: &str, body: Value| {
        let r = server.post(path).auth(owner).json(&body).send().ok(202);
        let id = str_of(&r, "id");
        let done = server.wait_for(
            owner,
            &format!("{path}/{id}"),
            "status",
            &["succeeded", "failed", "cancelled"],
            Duration::from_secs(120),
        );
        assert_eq!(done["status"], "succeeded", "{done}");
        (id, str_of(&r, "job_id"))
    };
    let common =
        json!({"dataset_id": dataset, "strategy_id": builtin, "cash": "100000", "size": "10"});
    let mut bt = common.clone();
    bt["params"] = json!({"fast": 5, "slow": 20});
    let (backtest, job) = run("/v1/backtests", bt);
    let mut sw = common.clone();
    sw["grid"] = json!({"fast": [5, 10], "slow": [20]});
    let (sweep, _) = run("/v1/sweeps", sw);
    let invitation = str_of(
        &server
            .post("/v1/invitations")
            .auth(owner)
            .json(&json!({"email": "invitee@a.test", "role": "viewer"}))
            .send()
            .ok(201),
        "id",
    );
    let spare_key = str_of(
        &server
            .post("/v1/api-keys")
            .auth(owner)
            .json(&json!({"name": "spare", "role": "viewer"}))
            .send()
            .ok(201),
        "id",
    );
    let f = Fixture {
        server: &server,
        owner_a: a.key.clone(),
        ids: Ids {
            dataset,
            spare_dataset,
            python,
            builtin,
            backtest,
            sweep,
            job,
            spare_member: str_of(&spare, "user_id"),
            invitation,
            spare_key,
        },
        csv,
        n: Cell::new(0),
    };

    // The table is the router: no route missing, none made up.
    let rows = table();
    let listed: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_string(), r.route.to_string()))
        .collect();
    assert_eq!(listed.len(), rows.len(), "a route is listed twice");
    let routed: BTreeSet<(String, String)> = api_support::router_routes().into_iter().collect();
    let unlisted: Vec<_> = routed.difference(&listed).collect();
    let unrouted: Vec<_> = listed.difference(&routed).collect();
    assert!(
        unlisted.is_empty() && unrouted.is_empty(),
        "the table and routes/mod.rs disagree: routes not in the table {unlisted:?}; \
         table rows no route serves {unrouted:?}"
    );

    // Tenant B's owner on A's objects: exactly as on ids that do not exist. First, while
    // every object is still there.
    for row in rows.iter().filter(|r| r.has_id()) {
        let id = (row.id)(&f.ids).to_string();
        let theirs = row.send(&f, &row.path_with(&id), Some(&b.key));
        let missing = nonexistent_like(&id);
        let none = row.send(&f, &row.path_with(&missing), Some(&b.key));
        theirs.problem(404);
        none.problem(404);
        assert_eq!(
            masked(&theirs, &id),
            masked(&none, &missing),
            "{} {}: another tenant's id must look like no id",
            row.method,
            row.route
        );
    }
    // …also when named in a body.
    for (dataset, strategy) in [
        (f.ids.dataset.clone(), f.ids.builtin.clone()),
        (
            nonexistent_like(&f.ids.dataset),
            nonexistent_like(&f.ids.builtin),
        ),
    ] {
        let r = server
            .post("/v1/backtests")
            .auth(&b.key)
            .json(&json!({"dataset_id": dataset, "strategy_id": strategy, "params": {"fast": 5, "slow": 20}}))
            .send();
        let p = r.problem(404);
        assert!(!r.text().contains(&f.ids.dataset), "{p}");
    }
    // B's lists show none of A's objects.
    for path in [
        "/v1/datasets",
        "/v1/strategies",
        "/v1/backtests",
        "/v1/sweeps",
        "/v1/jobs",
        "/v1/api-keys",
        "/v1/members",
        "/v1/invitations",
    ] {
        let r = server.get(path).auth(&b.key).send();
        assert_eq!(r.status, 200, "{r:?}");
        for id in [
            &f.ids.dataset,
            &f.ids.python,
            &f.ids.backtest,
            &f.ids.sweep,
            &f.ids.job,
            &f.ids.invitation,
            &f.ids.spare_key,
            &a.key_id,
            &a.id,
        ] {
            assert!(!r.text().contains(id.as_str()), "B's {path} shows A's {id}");
        }
    }
    let me = server.get("/v1/tenant").auth(&b.key).send().ok(200);
    assert_eq!(me["id"], b.id.as_str());

    // Every route with every role, weakest first; and with no credential.
    for row in &rows {
        let path = row.path_with((row.id)(&f.ids));
        let what = format!("{} {}", row.method, path);
        for (role, key, scopes) in &principals {
            let allowed = match row.need {
                Need::Public | Need::Credential => true,
                Need::Scope(s) => scopes.contains(&s),
            };
            let r = row.send(&f, &path, Some(key));
            if allowed {
                assert!(
                    row.ok.contains(&r.status),
                    "{role} may call {what}: expected one of {:?}, got {r:?}",
                    row.ok
                );
            } else {
                let p = r.problem(403);
                assert!(
                    p["type"]
                        .as_str()
                        .is_some_and(|t| t.ends_with("/forbidden")),
                    "{role} on {what}: {p}"
                );
            }
        }
        let r = row.send(&f, &path, None);
        if matches!(row.need, Need::Public) {
            assert!(
                row.ok.contains(&r.status),
                "{what} without a credential: {r:?}"
            );
        } else {
            r.problem(401);
        }
    }

    // A key never outranks its maker: an admin cannot mint an owner key.
    let admin_key = &principals[2].1;
    server
        .post("/v1/api-keys")
        .auth(admin_key)
        .json(&json!({"name": "escalate", "role": "owner"}))
        .send()
        .problem(403);
}
