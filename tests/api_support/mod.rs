//! The real `qf` service under test: a deployment (a data directory and a database, SQLite or
//! PostgreSQL), `qf serve` and `qf worker` as child processes, and an HTTP client (ureq) that
//! speaks to them over loopback.
//!
//! Every test runs once per backend: [`backend_tests!`] turns `fn name(backend: Backend)` into
//! the tests `sqlite::name` and `postgres::name`. The PostgreSQL ones get a fresh database from
//! `qf_store::testing`, which skips them with a notice when no server is reachable (and fails
//! them under CI, where `CI` is set).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The password of every account the tests create (`QF_ADMIN_PASSWORD`).
pub const PASSWORD: &str = "correct horse battery staple";

/// Which database a deployment runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares one test per backend for each `fn name(backend: Backend)` listed (the test
/// crate declares `#[macro_use] mod api_support;`).
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(crate::api_support::Backend::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(crate::api_support::Backend::Postgres)
            })*
        }
    };
}

/// The `qf` under test: this build's, or the one named by `QF_TEST_BIN` — to show that a
/// test fails on an older build (the binary before a fix), for instance.
pub fn qf_binary() -> PathBuf {
    std::env::var_os("QF_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_qf")))
}

/// A place to run the service: a temporary directory holding the data directory (the SQLite
/// database, the object store) and the logs, plus the database URL for PostgreSQL.
pub struct Deployment {
    pub backend: Backend,
    dir: tempfile::TempDir,
    /// `QF_DATA_DIR`.
    pub data_dir: PathBuf,
    /// `QF_DATABASE_URL`, or `None` for SQLite in the data directory.
    pub database_url: Option<String>,
    env: Vec<(String, String)>,
}

impl Deployment {
    /// A fresh deployment, or `None` when PostgreSQL is asked for and not reachable (after
    /// `qf_store::testing` printed why).
    pub fn new(backend: Backend) -> Option<Deployment> {
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_postgres()?),
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        Some(Deployment {
            backend,
            dir,
            data_dir,
            database_url,
            env: vec![
                ("QF_LOG_FORMAT".into(), "json".into()),
                ("QF_LOG_LEVEL".into(), "info".into()),
                ("QF_JOBS_POLL_MS".into(), "50".into()),
            ],
        })
    }

    /// Sets a `QF_*` variable for every process started from now on.
    pub fn set(&mut self, key: &str, value: &str) -> &mut Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// A path in the deployment's temporary directory (outside the data directory).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The database URL the service uses.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("qf.db").display()))
    }

    /// `qf ARGS` with this deployment's configuration and nothing from the caller's: no
    /// stray `QF_*` or `RUST_LOG`, and a working directory without a `qf.toml`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(qf_binary());
        c.args(args).current_dir(self.dir.path());
        for (k, _) in std::env::vars() {
            if (k.starts_with("QF_") && !k.starts_with("QF_TEST_")) || k == "RUST_LOG" {
                c.env_remove(&k);
            }
        }
        c.env("QF_DATA_DIR", &self.data_dir);
        if let Some(url) = &self.database_url {
            c.env("QF_DATABASE_URL", url);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs `qf ARGS --json` to success and parses its one JSON object.
    pub fn qf_json(&self, args: &[&str]) -> Value {
        let out = self
            .command(args)
            .env("QF_ADMIN_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .expect("qf runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "qf {args:?} failed ({}):\n{}\n{stdout}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("qf {args:?} printed no JSON object ({e}): {stdout}"))
    }

    /// `qf admin tenant create NAME --json` (with an owner account when `owner_email` is
    /// given).
    pub fn create_tenant(&self, name: &str, owner_email: Option<&str>) -> Tenant {
        let mut args = vec!["admin", "tenant", "create", name, "--json"];
        if let Some(e) = owner_email {
            args.extend(["--owner-email", e]);
        }
        let v = self.qf_json(&args);
        Tenant {
            id: str_of(&v, "tenant_id"),
            key: str_of(&v, "api_key"),
            key_id: str_of(&v, "key_id"),
            owner_user_id: v["owner_user_id"].as_str().map(str::to_string),
        }
    }

    /// `qf admin user create --email E --tenant T --role R --json`.
    pub fn create_user(&self, email: &str, tenant: &str, role: &str) -> Value {
        self.qf_json(&[
            "admin", "user", "create", "--email", email, "--tenant", tenant, "--role", role,
            "--json",
        ])
    }

    /// Starts `qf serve --addr 127.0.0.1:0 ARGS` and waits until it listens.
    pub fn serve(&self, args: &[&str]) -> Server {
        let mut all = vec!["serve", "--addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let (process, addr) = self.start("serve", &all, true);
        let addr = addr.expect("serve prints its address");
        Server {
            base: format!("http://{addr}"),
            agent: agent(),
            process,
        }
    }

    /// Starts `qf worker ARGS`; it has no "ready" line, so this returns at once.
    pub fn worker(&self, name: &str, args: &[&str]) -> Process {
        let mut all = vec!["worker"];
        all.extend_from_slice(args);
        self.start(name, &all, false).0
    }

    fn start(
        &self,
        name: &str,
        args: &[&str],
        wait_for_address: bool,
    ) -> (Process, Option<String>) {
        let n = std::fs::read_dir(self.dir.path()).map_or(0, |d| d.count());
        let stdout_log = self.path(&format!("{name}-{n}.stdout.log"));
        let stderr_log = self.path(&format!("{name}-{n}.stderr.log"));
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_log).expect("stderr log"))
            .spawn()
            .expect("qf starts");
        // Logs go to stdout too; copy every line to the log file, and hand over the address
        // from the one line that announces it.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        let log_path = stdout_log.clone();
        std::thread::spawn(move || {
            let mut log = std::fs::File::create(&log_path).expect("stdout log");
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("qf listening on http://") {
                    let _ = tx.send(addr.trim().to_string());
                }
                let _ = writeln!(log, "{line}");
            }
        });
        let mut process = Process {
            name: name.to_string(),
            child: Some(child),
            stdout_log,
            stderr_log,
        };
        if !wait_for_address {
            return (process, None);
        }
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(addr) => return (process, Some(addr)),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {}
            }
            if let Some(status) = process.try_wait() {
                panic!(
                    "qf {args:?} exited ({status}) before listening:\n{}",
                    process.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "qf {args:?} did not listen within 90 s:\n{}",
                process.logs()
            );
        }
    }

    /// Every file under the object store (`DATA_DIR/objects`) and the upload spool
    /// (`DATA_DIR/tmp`), relative to the data directory, sorted.
    pub fn stored_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["objects", "tmp"] {
            walk(&self.data_dir.join(sub), &mut out);
        }
        let mut rel: Vec<String> = out
            .iter()
            .map(|p| {
                p.strip_prefix(&self.data_dir)
                    .unwrap_or(p)
                    .display()
                    .to_string()
            })
            .collect();
        rel.sort();
        rel
    }

    /// Runs `f` against the deployment's database directly (for what the API cannot do, such
    /// as a key that expired yesterday).
    pub fn with_store<T>(&self, f: impl AsyncFnOnce(&qf_store::Store) -> T) -> T {
        let url = self.database_url();
        runtime().block_on(async move {
            let store = qf_store::Store::connect(&url)
                .await
                .expect("store connects");
            let out = f(&store).await;
            store.close().await;
            out
        })
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A fresh, migrated PostgreSQL database's URL, or `None` (with a notice) when there is no
/// server outside CI.
fn fresh_postgres() -> Option<String> {
    runtime().block_on(async {
        let (store, url) = qf_store::testing::fresh_postgres().await?;
        store.close().await;
        Some(url)
    })
}

impl Drop for Deployment {
    /// Drops the PostgreSQL database (processes are stopped before: they are declared after
    /// their deployment, so dropped first).
    fn drop(&mut self) {
        if let Some(url) = &self.database_url {
            runtime().block_on(qf_store::testing::drop_postgres(url));
        }
    }
}

/// What `qf admin tenant create` made.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub id: String,
    /// The owner API key.
    pub key: String,
    pub key_id: String,
    pub owner_user_id: Option<String>,
}

/// A child `qf` process, stopped when dropped (SIGTERM, then SIGKILL after 5 s).
pub struct Process {
    name: String,
    child: Option<Child>,
    pub stdout_log: PathBuf,
    pub stderr_log: PathBuf,
}

impl Process {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.try_wait().is_none()
    }

    /// `kill -9`: no chance to clean up, release leases or flush anything.
    pub fn kill_9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reaped");
        }
    }

    /// SIGTERM and wait (graceful shutdown); SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        if c.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if c.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = c.kill();
        let _ = c.wait();
    }

    /// Everything it logged so far (stdout, where the JSON logs go, then stderr).
    pub fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- {} stdout ---\n{}--- {} stderr ---\n{}",
            self.name,
            read(&self.stdout_log),
            self.name,
            read(&self.stderr_log)
        )
    }

    /// Its JSON log lines, parsed (other lines are skipped).
    pub fn log_lines(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for p in [&self.stdout_log, &self.stderr_log] {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            out.extend(
                text.lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(Value::is_object),
            );
        }
        out
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
        // A failing test shows what the process said (the temporary directory goes away).
        if std::thread::panicking() {
            let logs = self.logs();
            let lines: Vec<&str> = logs.lines().collect();
            let tail = &lines[lines.len().saturating_sub(120)..];
            eprintln!("last lines of {}'s logs:\n{}", self.name, tail.join("\n"));
        }
    }
}

/// The HTTP client: statuses are answers, not errors; one connection per request. (hyper
/// closes a connection whose request body it did not read, e.g. after an early 401, without
/// saying `Connection: close`, as HTTP allows; ureq would reuse it from its pool and fail
/// the next request with "Peer disconnected".)
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A running `qf serve`.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    agent: ureq::Agent,
    pub process: Process,
}

impl Server {
    /// A request; `path` starts with `/`.
    pub fn req(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            agent: &self.agent,
            method: method.to_string(),
            url: format!("{}{path}", self.base),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req("GET", path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.req("POST", path)
    }

    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req("DELETE", path)
    }

    pub fn patch(&self, path: &str) -> Req<'_> {
        self.req("PATCH", path)
    }

    /// Polls `GET path` with `key` until `field` of the answer is one of `done` (returned),
    /// failing after `timeout`.
    pub fn wait_for(
        &self,
        key: &str,
        path: &str,
        field: &str,
        done: &[&str],
        timeout: Duration,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.get(path).auth(key).send().ok(200);
            if v[field].as_str().is_some_and(|s| done.contains(&s)) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: {field} did not become one of {done:?} within {timeout:?}; last: {v}\n{}",
                self.process.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One request being built.
pub struct Req<'a> {
    agent: &'a ureq::Agent,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Req<'_> {
    /// `Authorization: Bearer SECRET`.
    pub fn auth(self, secret: &str) -> Self {
        self.header("Authorization", &format!("Bearer {secret}"))
    }

    /// `Authorization: Bearer SECRET` when there is one.
    pub fn auth_opt(self, secret: Option<&str>) -> Self {
        match secret {
            Some(s) => self.auth(s),
            None => self,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// A JSON body.
    pub fn json(self, v: &Value) -> Self {
        self.body("application/json", v.to_string().into_bytes())
    }

    /// A body of any type. Past 16 KiB it goes with `Expect: 100-continue`, as curl sends
    /// large bodies: a server that refuses the request before reading the body (a 403 on an
    /// upload) then answers before the body is sent, instead of closing the connection under
    /// a client still sending, which ureq reports as a disconnection instead of the answer.
    pub fn body(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        let large = bytes.len() > 16 * 1024;
        self.body = Some(bytes);
        let req = self.header("Content-Type", content_type);
        if large {
            req.header("Expect", "100-continue")
        } else {
            req
        }
    }

    /// A `multipart/form-data` body: `(name, file name, content)` per field.
    pub fn multipart(self, fields: &[(&str, Option<&str>, &[u8])]) -> Self {
        let boundary = "qf-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (name, file_name, content) in fields {
            body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match file_name {
                Some(f) => body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        self.body(&format!("multipart/form-data; boundary={boundary}"), body)
    }

    /// Sends it; a transport failure fails the test (statuses never do).
    pub fn send(self) -> Resp {
        let what = format!("{} {}", self.method, self.url);
        let mut b = ureq::http::Request::builder()
            .method(self.method.as_str())
            .uri(&self.url);
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        let result = match self.body {
            Some(bytes) => self.agent.run(b.body(bytes).expect("request")),
            None => self.agent.run(b.body(()).expect("request")),
        };
        let resp = result.unwrap_or_else(|e| panic!("{what}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .into_body()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{what}: reading the body: {e}"));
        Resp {
            what,
            status,
            headers,
            body,
        }
    }
}

/// A response, read whole.
pub struct Resp {
    /// `METHOD URL`, for messages.
    pub what: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Resp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text();
        let cut: String = text.chars().take(2000).collect();
        write!(
            f,
            "{} → {} ({}) {cut}",
            self.what,
            self.status,
            self.header("content-type").unwrap_or("no content type")
        )
    }
}

impl Resp {
    /// A header's value (names are case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (fails the test if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// Asserts the status, returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        if self.body.is_empty() {
            Value::Null
        } else {
            self.json()
        }
    }

    /// Asserts an RFC 9457 problem with this status: `application/problem+json`, a `type`,
    /// a `title`, and `status` repeated in the body. Returns the body.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        self.any_problem()
    }

    /// Asserts an RFC 9457 problem with a 4xx status; returns the body.
    #[track_caller]
    pub fn client_problem(&self) -> Value {
        assert!(
            (400..500).contains(&self.status),
            "expected a 4xx: {self:?}"
        );
        self.any_problem()
    }

    #[track_caller]
    fn any_problem(&self) -> Value {
        let ct = self.header("content-type").unwrap_or_default();
        assert!(
            ct.starts_with("application/problem+json"),
            "expected application/problem+json: {self:?}"
        );
        let v = self.json();
        let ty = v["type"].as_str().unwrap_or_default();
        assert!(!ty.is_empty(), "a problem needs a type: {self:?}");
        assert!(
            v["title"].as_str().is_some_and(|t| !t.is_empty()),
            "a problem needs a title: {self:?}"
        );
        assert_eq!(v["status"], self.status, "the body's status: {self:?}");
        v
    }
}

/// `v[key]` as a string (fails the test if absent).
#[track_caller]
pub fn str_of(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {v}"))
        .to_string()
}

/// `n` bars of sample data (`qf_data::sample_bars`) as a CSV file at `path`.
pub fn write_sample_csv(path: &Path, bars: usize, seed: u64) {
    let series = qf_data::sample_bars("TEST", bars, seed);
    qf_data::write_bars(path, &[series]).expect("sample CSV written");
}

/// Runs the `qf` CLI (outside any deployment) to success; returns stdout.
pub fn cli(args: &[&str]) -> String {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_qf"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("qf runs");
    assert!(
        out.status.success(),
        "qf {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The strategy example every test uses.
pub fn sma_cross_py() -> String {
    std::fs::read_to_string(sma_cross_path()).expect("examples/python/sma_cross.py")
}

pub fn sma_cross_path() -> String {
    format!(
        "{}/examples/python/sma_cross.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Every `(METHOD, path)` the router serves, read from `crates/qf-server/src/routes/mod.rs`
/// so that a route added there is covered here without anyone remembering to.
pub fn router_routes() -> Vec<(String, String)> {
    let src = std::fs::read_to_string(format!(
        "{}/crates/qf-server/src/routes/mod.rs",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("routes/mod.rs");
    let body = src
        .split_once("pub fn router()")
        .and_then(|(_, rest)| rest.split_once("\n}\n"))
        .map(|(body, _)| body)
        .expect("fn router() in routes/mod.rs");
    let mut out = Vec::new();
    for chunk in body.split(".route(").skip(1) {
        let mut parts = chunk.splitn(3, '"');
        let (Some(_), Some(path), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        for method in ["get", "post", "put", "patch", "delete"] {
            let call = format!("{method}(");
            let mut from = 0;
            while let Some(i) = rest[from..].find(&call) {
                let at = from + i;
                let before = rest[..at].chars().next_back();
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    out.push((method.to_ascii_uppercase(), path.to_string()));
                }
                from = at + call.len();
            }
        }
    }
    assert!(
        out.len() > 30,
        "found only {} routes in routes/mod.rs: {out:?}",
        out.len()
    );
    out
}
