//! The defects found by testing the service from outside, each shown fixed the way it was
//! found: through the real `qf serve` over real HTTP (and raw TCP where the defect lived
//! below HTTP), on SQLite and on PostgreSQL where the database is involved.

#[macro_use]
mod api_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use api_support::{Backend, Deployment, PASSWORD, Server, sma_cross_py, str_of};

backend_tests!(
    concurrent_requests_with_one_idempotency_key_create_once,
    nul_characters_are_422_naming_the_field,
    key_revocation_keeps_the_role_order_and_keys_record_their_creator,
    a_reused_refresh_token_revokes_the_session,
    a_cancel_accepted_while_running_wins,
);

/// Connection-level behaviour does not depend on the database: SQLite only.
mod sqlite_only {
    #[test]
    fn slow_and_greedy_clients_are_cut_off() {
        super::slow_and_greedy_clients_are_cut_off();
    }
    #[test]
    fn uploads_cut_off_by_a_kill_are_swept_at_start() {
        super::uploads_cut_off_by_a_kill_are_swept_at_start();
    }
    #[test]
    fn responses_carry_cache_sniffing_csp_and_cors_headers() {
        super::responses_carry_cache_sniffing_csp_and_cors_headers();
    }
    #[test]
    fn a_flood_of_429s_is_logged_once_per_interval() {
        super::a_flood_of_429s_is_logged_once_per_interval();
    }
}

fn count(server: &Server, key: &str, path: &str) -> usize {
    server
        .get(&format!("{path}?limit=200"))
        .auth(key)
        .send()
        .ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len)
}

/// A dataset of `bars` sample bars and the Python SMA strategy, in `key`'s tenant:
/// `(dataset id, strategy id)`.
fn dataset_and_strategy(d: &Deployment, server: &Server, key: &str, bars: usize) -> (Value, Value) {
    let bytes = std::fs::read(sample_csv(d, bars)).expect("csv");
    let ds = server
        .post("/v1/datasets")
        .auth(key)
        .body("text/csv", bytes)
        .send()
        .ok(201);
    let st = server
        .post("/v1/strategies")
        .auth(key)
        .json(&json!({"name": "sma py", "kind": "python", "source": sma_cross_py()}))
        .send()
        .ok(201);
    (ds["id"].clone(), st["id"].clone())
}

/// A sample CSV of `bars` bars in the deployment's directory.
fn sample_csv(d: &Deployment, bars: usize) -> std::path::PathBuf {
    let path = d.path(&format!("bars-{bars}.csv"));
    api_support::write_sample_csv(&path, bars, 3);
    path
}

// ---------------------------------------------------------------- 1. Idempotency-Key race

/// Found: 5 keys × 20 concurrent requests made 39 runs on SQLite, 3 × 20 made 31 on
/// PostgreSQL. Now each key makes one run, and every request gets that run's answer.
fn concurrent_requests_with_one_idempotency_key_create_once(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let t = d.create_tenant("Race Inc", None);
    let server = d.serve(&["--workers", "0"]);
    let key = t.key.as_str();
    let (ds, st) = dataset_and_strategy(&d, &server, key, 2_000);
    let body = json!({
        "dataset_id": ds, "strategy_id": st,
        "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10",
    });
    let answers: Vec<(String, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..5)
            .flat_map(|k| (0..20).map(move |_| k))
            .map(|k| {
                let (server, body) = (&server, &body);
                s.spawn(move || {
                    let idem = format!("race-{k}");
                    let r = server
                        .post("/v1/backtests")
                        .auth(key)
                        .header("Idempotency-Key", &idem)
                        .json(body)
                        .send();
                    (idem, r.ok(202))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(count(&server, key, "/v1/backtests"), 5);
    assert_eq!(count(&server, key, "/v1/jobs"), 5);
    for k in 0..5 {
        let idem = format!("race-{k}");
        let ids: std::collections::BTreeSet<&str> = answers
            .iter()
            .filter(|(i, _)| *i == idem)
            .map(|(_, v)| v["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "{idem}: {ids:?}");
    }

    // Concurrent requests with one key and different bodies: one wins, the others are told
    // the key belongs to another request; nothing else is created.
    let outcomes: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let (server, body) = (&server, &body);
                s.spawn(move || {
                    let mut b = body.clone();
                    b["size"] = json!(format!("{}", i + 1));
                    server
                        .post("/v1/backtests")
                        .auth(key)
                        .header("Idempotency-Key", "mixed")
                        .json(&b)
                        .send()
                        .status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        outcomes.iter().filter(|s| **s == 202).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|s| *s == 202 || *s == 409),
        "{outcomes:?}"
    );
    assert_eq!(count(&server, key, "/v1/backtests"), 6);

    // A request that fails gives its key back: the same key then works.
    let mut bad = body.clone();
    bad["cash"] = json!("-5");
    server
        .post("/v1/backtests")
        .auth(key)
        .header("Idempotency-Key", "after-failure")
        .json(&bad)
        .send()
        .problem(422);
    server
        .post("/v1/backtests")
        .auth(key)
        .header("Idempotency-Key", "after-failure")
        .json(&body)
        .send()
        .ok(202);
    assert_eq!(count(&server, key, "/v1/backtests"), 7);
}

// ---------------------------------------------------------------- 2. NUL characters

/// Found: 500 on PostgreSQL (the database refuses the byte), one of them before sign-in.
/// Now a 422 naming the field on both databases, and nothing stored.
fn nul_characters_are_422_naming_the_field(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let t = d.create_tenant("Nul Ltd", Some("owner@nul.test"));
    let server = d.serve(&["--workers", "0"]);
    let key = t.key.as_str();
    let field_of = |r: api_support::Resp| -> String {
        let p = r.problem(422);
        assert_eq!(
            p["type"], "https://quantforge.dev/problems/validation",
            "{p}"
        );
        assert!(str_of(&p, "detail").contains("NUL"), "{p}");
        str_of(&p, "field")
    };
    let login = server
        .post("/v1/auth/login")
        .json(&json!({"email": "a\u{0}@b.test", "password": PASSWORD}))
        .send();
    assert_eq!(field_of(login), "email");
    let accept = server
        .post("/v1/invitations/accept")
        .json(&json!({"token": "qfi_x", "email": "a\u{0}@b.test", "password": PASSWORD}))
        .send();
    assert_eq!(field_of(accept), "email");
    let list = server.get("/v1/datasets?name=a%00b").auth(key).send();
    assert_eq!(field_of(list), "name");
    let source = format!("{}\n# \u{0}\n", sma_cross_py());
    let create = server
        .post("/v1/strategies")
        .auth(key)
        .json(&json!({"name": "nul", "kind": "python", "source": source}))
        .send();
    assert_eq!(field_of(create), "source");
    let rename = server
        .patch("/v1/tenant")
        .auth(key)
        .json(&json!({"name": "x\u{0}y"}))
        .send();
    assert_eq!(field_of(rename), "name");
    assert_eq!(count(&server, key, "/v1/strategies"), 0);
    assert_eq!(
        server.get("/v1/tenant").auth(key).send().ok(200)["name"],
        "Nul Ltd"
    );
    // The sign-in still works for the real address.
    server
        .post("/v1/auth/login")
        .json(&json!({"email": "owner@nul.test", "password": PASSWORD}))
        .send()
        .ok(200);
}

// ---------------------------------------------------------------- 3. Key revocation

/// Found: an admin could revoke the owner's API key, and `created_by` was empty on keys
/// created through the API with a key.
fn key_revocation_keeps_the_role_order_and_keys_record_their_creator(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let t = d.create_tenant("Keys Co", None);
    let server = d.serve(&["--workers", "0"]);
    let new_key = |creator: &str, role: &str| {
        server
            .post("/v1/api-keys")
            .auth(creator)
            .json(&json!({"name": format!("{role} key"), "role": role}))
            .send()
            .ok(201)
    };
    let admin = new_key(&t.key, "admin");
    assert_eq!(admin["created_by"], t.key_id.as_str(), "{admin}");
    let admin_key = str_of(&admin, "key");
    let dev = new_key(&admin_key, "developer");
    assert_eq!(dev["created_by"], admin["id"], "{dev}");
    let second_owner = new_key(&t.key, "owner");

    // The admin cannot touch an owner's key, its own or lower ones it may.
    for owner_key in [&t.key_id, &str_of(&second_owner, "id")] {
        let p = server
            .delete(&format!("/v1/api-keys/{owner_key}"))
            .auth(&admin_key)
            .send()
            .problem(403);
        assert!(str_of(&p, "detail").contains("owner"), "{p}");
    }
    server.get("/v1/tenant").auth(&t.key).send().ok(200);
    let revoked = server
        .delete(&format!("/v1/api-keys/{}", str_of(&dev, "id")))
        .auth(&admin_key)
        .send()
        .ok(200);
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    server
        .get("/v1/tenant")
        .auth(&str_of(&dev, "key"))
        .send()
        .problem(401);
    // The owner may revoke the admin's key.
    server
        .delete(&format!("/v1/api-keys/{}", str_of(&admin, "id")))
        .auth(&t.key)
        .send()
        .ok(200);
    server
        .get("/v1/tenant")
        .auth(&admin_key)
        .send()
        .problem(401);
}

// ---------------------------------------------------------------- 4. Refresh-token reuse

/// Found: a rotated refresh token presented again went unnoticed. Now its reuse revokes the
/// whole session (the token family), for the thief and the owner alike.
fn a_reused_refresh_token_revokes_the_session(backend: Backend) {
    let Some(d) = Deployment::new(backend) else {
        return;
    };
    let _t = d.create_tenant("Tokens Ltd", Some("ada@tokens.test"));
    let server = d.serve(&["--workers", "0"]);
    let login = server
        .post("/v1/auth/login")
        .json(&json!({"email": "ada@tokens.test", "password": PASSWORD}))
        .send()
        .ok(200);
    let refresh = |token: &str| {
        server
            .post("/v1/auth/refresh")
            .json(&json!({"refresh_token": token}))
            .send()
    };
    let stolen = str_of(&login, "refresh_token");
    let rotated = refresh(&stolen).ok(200);
    let access = str_of(&rotated, "token");
    server.get("/v1/tenant").auth(&access).send().ok(200);

    // The copy is used after its owner rotated away from it.
    let p = refresh(&stolen).problem(401);
    assert!(str_of(&p, "detail").contains("already used"), "{p}");
    // The whole family is gone: the newest refresh token and the access token too.
    refresh(&str_of(&rotated, "refresh_token")).problem(401);
    server.get("/v1/tenant").auth(&access).send().problem(401);

    // Routes that need no credential ignore a stale one sent out of habit.
    let fresh = server
        .post("/v1/auth/login")
        .auth(&access)
        .json(&json!({"email": "ada@tokens.test", "password": PASSWORD}))
        .send()
        .ok(200);
    refresh(&str_of(&fresh, "refresh_token")).ok(200);
    server
        .post("/v1/auth/refresh")
        .auth("qf_not_a_key")
        .json(&json!({"refresh_token": "qfr_unknown"}))
        .send()
        .problem(401);
    server.get("/healthz").auth(&access).send().ok(200);

    // Another session of the same person is unaffected, and rotates normally.
    let other = server
        .post("/v1/auth/login")
        .json(&json!({"email": "ada@tokens.test", "password": PASSWORD}))
        .send()
        .ok(200);
    let next = refresh(&str_of(&other, "refresh_token")).ok(200);
    refresh(&str_of(&next, "refresh_token")).ok(200);
}

// ---------------------------------------------------------------- 7. Cancel versus success

/// Found: a cancel answered 200 while the run still ended `succeeded` (a 1.6 s run, shorter
/// than a heartbeat). Now a cancel the server accepted always wins; one that comes too late
/// is a 409. Never both.
fn a_cancel_accepted_while_running_wins(backend: Backend) {
    let Some(mut d) = Deployment::new(backend) else {
        return;
    };
    // A heartbeat far longer than the run: the worker never hears of the cancel before it
    // finishes, which is exactly the race (a short run, or a cancel just after a beat).
    d.set("QF_JOBS_HEARTBEAT_SECS", "60")
        .set("QF_JOBS_LEASE_SECS", "120");
    let t = d.create_tenant("Cancel Co", None);
    let server = d.serve(&["--workers", "1"]);
    let key = t.key.as_str();
    let (ds, st) = dataset_and_strategy(&d, &server, key, 300_000);
    let body = json!({
        "dataset_id": ds, "strategy_id": st,
        "params": {"fast": 10, "slow": 30}, "cash": "100000", "size": "10",
    });
    let mut accepted = 0;
    for attempt in 0..3 {
        let run = server
            .post("/v1/backtests")
            .auth(key)
            .json(&body)
            .send()
            .ok(202);
        let path = format!("/v1/backtests/{}", str_of(&run, "id"));
        server.wait_for(
            key,
            &path,
            "status",
            &["running", "succeeded", "failed"],
            Duration::from_secs(60),
        );
        // Later each attempt, to land at different points of the run.
        std::thread::sleep(Duration::from_millis(100 * attempt));
        let cancel = server.post(&format!("{path}/cancel")).auth(key).send();
        let done = server.wait_for(
            key,
            &path,
            "status",
            &["succeeded", "failed", "cancelled"],
            Duration::from_secs(120),
        );
        match cancel.status {
            200 => {
                accepted += 1;
                assert_eq!(done["status"], "cancelled", "cancel said 200: {done}");
                assert!(done["result"].is_null(), "{done}");
            }
            409 => assert_eq!(done["status"], "succeeded", "cancel said 409: {done}"),
            other => panic!("cancel answered {other}: {cancel:?}"),
        }
    }
    assert!(
        accepted > 0,
        "every run ended before its cancel: give the test more bars"
    );
}

// ---------------------------------------------------------------- 5. Slow clients

fn addr_of(server: &Server) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection or `limit` passes; what it sent.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    stream.set_read_timeout(Some(limit)).expect("read timeout");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&out).into_owned());
            }
            Err(_) => return None,
        }
    }
}

/// Found: connections trickling headers stayed open indefinitely (500 for 35 s, one for
/// 100 s). Now headers have a deadline, idle connections are closed, silent bodies time out
/// and one address holds a bounded number of connections.
fn slow_and_greedy_clients_are_cut_off() {
    let Some(mut d) = Deployment::new(Backend::Sqlite) else {
        return;
    };
    d.set("QF_HTTP_HEADER_TIMEOUT_SECS", "1")
        .set("QF_HTTP_BODY_TIMEOUT_SECS", "1")
        .set("QF_HTTP_MAX_CONNECTIONS_PER_IP", "4");
    let server = d.serve(&["--workers", "0"]);
    let addr = addr_of(&server);
    let connect = || TcpStream::connect(&addr).expect("connect");
    // Far above the configured second, far below "indefinitely".
    let patience = Duration::from_secs(10);

    // The per-address cap: four held connections, the fifth is refused with a 503.
    let held: Vec<TcpStream> = (0..4).map(|_| connect()).collect();
    let mut fifth = connect();
    let answer = read_until_closed(&mut fifth, patience).expect("the fifth is closed");
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "over the cap: {answer:?}"
    );
    assert!(answer.contains("too-many-connections"), "{answer:?}");

    // Give the slots back before the next part.
    drop(held);
    std::thread::sleep(Duration::from_millis(300));

    // Headers trickled byte by byte, never finished: closed after the header timeout.
    let mut trickle = connect();
    let started = Instant::now();
    trickle
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .ok();
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        if trickle.write_all(b"X").is_err() {
            break;
        }
    }
    // Any reply is an error status, never the health answer; then the close.
    let rest = read_until_closed(&mut trickle, patience).expect("closed");
    assert!(
        !rest.contains("200 OK") && !rest.contains("503"),
        "{rest:?}"
    );
    assert!(started.elapsed() < patience);

    // A kept-alive connection that goes quiet after a request is closed.
    let mut idle = connect();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let text = read_until_closed(&mut idle, patience).expect("an idle connection is closed");
    assert!(text.starts_with("HTTP/1.1 200"), "{text:?}");

    // A body that stops half-way: answered with an error, not left hanging.
    let mut body = connect();
    body.write_all(
        b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"email\": ",
    )
    .expect("request");
    let text = read_until_closed(&mut body, patience).expect("a silent body ends the request");
    let status: u16 = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{text:?}"));
    assert!((400..500).contains(&status), "{text:?}");

    // The server still serves.
    server.get("/healthz").send().ok(200);
}

// ---------------------------------------------------------------- 6. Upload cleanup

/// Found: a server killed during a 200 MB upload left its temporary file behind. Now the
/// next start sweeps it; a file another live process holds is left alone.
fn uploads_cut_off_by_a_kill_are_swept_at_start() {
    let Some(d) = Deployment::new(Backend::Sqlite) else {
        return;
    };
    let t = d.create_tenant("Upload Ltd", None);
    let mut server = d.serve(&["--workers", "0"]);
    let mut stream = TcpStream::connect(addr_of(&server)).expect("connect");
    let total = 200u64 << 20;
    write!(
        stream,
        "POST /v1/datasets?name=big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: text/csv\r\nContent-Length: {total}\r\n\r\n",
        t.key
    )
    .expect("headers");
    let chunk = vec![b'1'; 1 << 20];
    let tmp = d.data_dir.join("tmp");
    let spooled = || {
        std::fs::read_dir(&tmp)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.metadata().is_ok_and(|m| m.len() > 0))
                    .count()
            })
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while spooled() == 0 {
        stream.write_all(&chunk).expect("body");
        assert!(
            Instant::now() < deadline,
            "the upload never reached the disk"
        );
    }
    server.process.kill_9();
    drop(stream);
    assert_eq!(spooled(), 1, "the killed server left its temporary upload");
    let leftover: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();

    let server = d.serve(&["--workers", "0"]);
    let remaining: Vec<_> = std::fs::read_dir(&tmp).unwrap().flatten().collect();
    assert!(
        remaining.is_empty(),
        "not swept: {remaining:?} (was {leftover:?})"
    );
    let logs = server.process.log_lines();
    assert!(
        logs.iter()
            .any(|l| l["message"] == "removed abandoned temporary uploads" && l["removed"] == 1),
        "{}",
        server.process.logs()
    );
}

// ---------------------------------------------------------------- 8. Response headers

/// Found: answers with tokens and keys lacked `Cache-Control: no-store`, JSON lacked
/// `nosniff`, the HTML report had no CSP, and browser clients on another origin had no CORS.
fn responses_carry_cache_sniffing_csp_and_cors_headers() {
    let Some(mut d) = Deployment::new(Backend::Sqlite) else {
        return;
    };
    let t = d.create_tenant("Headers Inc", Some("h@headers.test"));
    let key = t.key.as_str();
    {
        let server = d.serve(&["--workers", "1"]);
        let login = server
            .post("/v1/auth/login")
            .json(&json!({"email": "h@headers.test", "password": PASSWORD}))
            .send();
        login.ok(200);
        let created = server
            .post("/v1/api-keys")
            .auth(key)
            .json(&json!({"name": "ci"}))
            .send();
        created.ok(201);
        let problem = server.get("/v1/tenant").send();
        problem.problem(401);
        for r in [&login, &created, &problem] {
            assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{r:?}");
        }

        // The report: tenant-influenced HTML under a policy that allows no script.
        let (ds, st) = dataset_and_strategy(&d, &server, key, 2_000);
        let run = server
            .post("/v1/backtests")
            .auth(key)
            .json(&json!({"dataset_id": ds, "strategy_id": st, "params": {"fast": 5, "slow": 20}}))
            .send()
            .ok(202);
        let path = format!("/v1/backtests/{}", str_of(&run, "id"));
        server.wait_for(
            key,
            &path,
            "status",
            &["succeeded"],
            Duration::from_secs(60),
        );
        let report = server.get(&format!("{path}/report")).auth(key).send();
        assert_eq!(report.status, 200, "{report:?}");
        let csp = report.header("content-security-policy").expect("CSP");
        for part in ["default-src 'none'", "sandbox", "frame-ancestors 'none'"] {
            assert!(csp.contains(part), "{csp}");
        }
        assert!(!csp.contains("script-src"), "{csp}");
        // The docs page keeps its own hash-based policy.
        let docs = server.get("/v1/docs").send();
        assert!(
            docs.header("content-security-policy")
                .is_some_and(|c| c.contains("script-src 'sha256-")),
            "{docs:?}"
        );

        // CORS is off by default: no Access-Control headers for another origin.
        let r = server
            .get("/v1/tenant")
            .auth(key)
            .header("Origin", "https://app.example.test")
            .send();
        assert_eq!(r.header("access-control-allow-origin"), None, "{r:?}");
    }

    d.set("QF_HTTP_CORS_ORIGINS", "https://app.example.test");
    let server = d.serve(&["--workers", "0"]);
    let preflight = server
        .req("OPTIONS", "/v1/backtests")
        .header("Origin", "https://app.example.test")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,idempotency-key",
        )
        .send();
    assert!(preflight.status < 300, "{preflight:?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some("https://app.example.test"),
        "{preflight:?}"
    );
    let allowed = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(allowed.contains("idempotency-key"), "{preflight:?}");
    let r = server
        .get("/v1/tenant")
        .auth(key)
        .header("Origin", "https://app.example.test")
        .send();
    r.ok(200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.test")
    );
    let exposed = r
        .header("access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("ratelimit-remaining"), "{r:?}");
    let other = server
        .get("/v1/tenant")
        .auth(key)
        .header("Origin", "https://evil.example.test")
        .send();
    assert_eq!(
        other.header("access-control-allow-origin"),
        None,
        "{other:?}"
    );
}

// ---------------------------------------------------------------- 9. Log volume

/// Found: every 429 was logged at INFO (427 MB in 3 minutes under a flood). Now one line per
/// interval carries the count; the metrics still count each one.
fn a_flood_of_429s_is_logged_once_per_interval() {
    let Some(mut d) = Deployment::new(Backend::Sqlite) else {
        return;
    };
    d.set("QF_RATE_LIMIT_REQUESTS_PER_SECOND", "1")
        .set("QF_RATE_LIMIT_BURST", "1");
    let t = d.create_tenant("Flood Co", None);
    let server = d.serve(&["--workers", "0"]);
    let mut limited = 0;
    for _ in 0..300 {
        if server.get("/v1/tenant").auth(&t.key).send().status == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 290, "{limited}");
    // Let the log lines reach the file.
    std::thread::sleep(Duration::from_millis(300));
    let lines = server.process.log_lines();
    let rejected: Vec<&Value> = lines.iter().filter(|l| l["status"] == 429).collect();
    assert!(
        (1..=3).contains(&rejected.len()),
        "{} lines for {limited} rejections",
        rejected.len()
    );
    let counted: u64 = rejected.iter().filter_map(|l| l["rejected"].as_u64()).sum();
    assert!(counted >= 1, "{rejected:?}");
    let metrics = server.get("/metrics").send().text();
    assert!(metrics.contains("status=\"429\""), "the metrics count them");
}
