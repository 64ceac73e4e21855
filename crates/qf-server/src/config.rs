//! Layered configuration for `qf serve` and `qf worker`.
//!
//! Each key takes the first value found in this order (later wins):
//!
//! 1. the built-in default (below);
//! 2. `qf.toml`: the path given with `--config`, else `QF_CONFIG`, else `./qf.toml` when that
//!    file exists (a missing file is an error only when it was named);
//! 3. the environment: `QF_<KEY>` for top-level keys and `QF_<SECTION>_<KEY>` for keys in a
//!    section, upper-cased, e.g. `workers` → `QF_WORKERS`, `jobs.lease_secs` →
//!    `QF_JOBS_LEASE_SECS`, `rate_limit.burst` → `QF_RATE_LIMIT_BURST`;
//! 4. command-line flags (`--addr`, `--data-dir`, `--workers`), which the caller sets on the
//!    loaded [`Config`] before calling [`Config::validate`].
//!
//! | key | env | default |
//! | --- | --- | --- |
//! | `addr` | `QF_ADDR` | `127.0.0.1:8080` |
//! | `data_dir` | `QF_DATA_DIR` | `./qf-data` |
//! | `database_url` | `QF_DATABASE_URL` | `sqlite://{data_dir}/qf.db` |
//! | `object_store` | `QF_OBJECT_STORE` | `{data_dir}/objects` |
//! | `workers` | `QF_WORKERS` | `2` |
//! | `limits.upload_max_bytes` | `QF_LIMITS_UPLOAD_MAX_BYTES` | 2 GiB |
//! | `limits.json_max_bytes` | `QF_LIMITS_JSON_MAX_BYTES` | 1 MiB |
//! | `rate_limit.requests_per_second` | `QF_RATE_LIMIT_REQUESTS_PER_SECOND` | `100` |
//! | `rate_limit.burst` | `QF_RATE_LIMIT_BURST` | `200` |
//! | `http.header_timeout_secs` | `QF_HTTP_HEADER_TIMEOUT_SECS` | `10` |
//! | `http.body_timeout_secs` | `QF_HTTP_BODY_TIMEOUT_SECS` | `30` |
//! | `http.max_connections_per_ip` | `QF_HTTP_MAX_CONNECTIONS_PER_IP` | `256` (0: no cap) |
//! | `http.cors_origins` | `QF_HTTP_CORS_ORIGINS` | empty (CORS off) |
//! | `auth.session_ttl_secs` | `QF_AUTH_SESSION_TTL_SECS` | `900` |
//! | `auth.refresh_ttl_secs` | `QF_AUTH_REFRESH_TTL_SECS` | 30 days |
//! | `jobs.lease_secs` | `QF_JOBS_LEASE_SECS` | `30` |
//! | `jobs.heartbeat_secs` | `QF_JOBS_HEARTBEAT_SECS` | `5` |
//! | `jobs.poll_ms` | `QF_JOBS_POLL_MS` | `250` |
//! | `jobs.max_attempts` | `QF_JOBS_MAX_ATTEMPTS` | `3` |
//! | `jobs.backoff_base_ms` | `QF_JOBS_BACKOFF_BASE_MS` | `1000` |
//! | `jobs.tenant_concurrency` | `QF_JOBS_TENANT_CONCURRENCY` | `4` |
//! | `sandbox.call_ms` | `QF_SANDBOX_CALL_MS` | sandbox default (100) |
//! | `sandbox.run_seconds` | `QF_SANDBOX_RUN_SECONDS` | sandbox default (300) |
//! | `sandbox.wall_seconds` | `QF_SANDBOX_WALL_SECONDS` | sandbox default (600) |
//! | `sandbox.memory_mb` | `QF_SANDBOX_MEMORY_MB` | sandbox default (1024) |
//! | `log.format` | `QF_LOG_FORMAT` | `json` |
//! | `log.level` | `QF_LOG_LEVEL` | `info` (`RUST_LOG`, when set, wins) |
//!
//! Sizes (`*_bytes`) take a whole number of bytes or a string with a binary suffix:
//! `"512KiB"`, `"64MiB"`, `"2GiB"`.
//!
//! An environment variable that starts with `QF_` but names no key is an error when it looks
//! like a misspelt key: it starts with a section's prefix (`QF_JOBS_…`) or is a couple of
//! letters away from a real name. `QF_CONFIG` and `QF_TEST_*` are never checked (they belong
//! to the loader and to the test suites); other `QF_*` names are left to whoever reads them.
//! An empty `QF_DATABASE_URL` or `QF_OBJECT_STORE` means "use the default"; any other empty
//! variable is an error.
//!
//! Every problem found while loading is reported at once, each naming the key and where its
//! value came from: `QF_WORKERS: expected a whole number, found "two"`,
//! `qf.toml: jobs.lease_secs (3) must be greater than jobs.heartbeat_secs (5)`.
//!
//! Secrets (the password in a database URL, credentials in an object-store URL, any key whose
//! name holds `secret`, `key`, `password` or `token`) are masked by [`Config::show`] and by
//! `Debug`, so a configuration can be logged or printed safely.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use qf_jobs::worker::WorkerSettings;

/// The file looked for in the working directory when neither `--config` nor `QF_CONFIG` names
/// one.
pub const DEFAULT_FILE: &str = "qf.toml";

/// Everything `qf serve` and `qf worker` can be configured with. See the module docs for the
/// layering and the environment names.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP API listens on (`QF_ADDR`, `--addr`).
    pub addr: SocketAddr,
    /// Directory for the embedded database and the local object store (`QF_DATA_DIR`,
    /// `--data-dir`).
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://USER:PASSWORD@HOST/DB` (`QF_DATABASE_URL`); unset means
    /// `sqlite://{data_dir}/qf.db`. Read it through [`Config::database_url`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// A local directory or `s3://bucket/prefix` (`QF_OBJECT_STORE`); unset means
    /// `{data_dir}/objects`. Read it through [`Config::object_store`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_store: Option<String>,
    /// Job workers run inside `qf serve` (`QF_WORKERS`, `--workers`); 0 makes an API-only
    /// replica that leaves jobs to `qf worker` processes.
    pub workers: usize,
    /// Request size limits.
    pub limits: LimitsConfig,
    /// Per-principal request rate limit.
    pub rate_limit: RateLimitConfig,
    /// Connection handling: slow clients, connection caps, browser origins.
    pub http: HttpConfig,
    /// Session lifetimes.
    pub auth: AuthConfig,
    /// The job queue.
    pub jobs: JobsConfig,
    /// Budgets for tenant code.
    pub sandbox: SandboxConfig,
    /// Log output.
    pub log: LogConfig,
    /// Where each value came from, for error messages; not configuration itself.
    #[serde(skip)]
    provenance: Provenance,
}

/// `[limits]`: how large a request body may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest upload (market data, models) in bytes (`QF_LIMITS_UPLOAD_MAX_BYTES`); default
    /// 2 GiB.
    pub upload_max_bytes: u64,
    /// Largest JSON request body in bytes (`QF_LIMITS_JSON_MAX_BYTES`); default 1 MiB.
    pub json_max_bytes: u64,
}

/// `[rate_limit]`: a token bucket per principal (API key, user, or client address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Sustained requests per second (`QF_RATE_LIMIT_REQUESTS_PER_SECOND`); default 100.
    pub requests_per_second: u32,
    /// Requests that may arrive at once after a quiet spell (`QF_RATE_LIMIT_BURST`); default
    /// 200.
    pub burst: u32,
}

/// `[http]`: how long a client may take, how many connections one address may hold, and
/// which browser origins may call the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Seconds a client has to send a request's headers; also how long a kept-alive
    /// connection may sit idle between requests (`QF_HTTP_HEADER_TIMEOUT_SECS`); default 10.
    pub header_timeout_secs: u64,
    /// Seconds a request body may go without sending a byte before the request is dropped
    /// (`QF_HTTP_BODY_TIMEOUT_SECS`); default 30.
    pub body_timeout_secs: u64,
    /// Open connections one client address may hold (an IPv6 client counts by its /64);
    /// more are refused (`QF_HTTP_MAX_CONNECTIONS_PER_IP`); default 256, 0 for no cap (behind
    /// a proxy every client has the proxy's address: cap there instead).
    pub max_connections_per_ip: u32,
    /// Origins allowed to call the API from a browser (CORS), comma-separated, e.g.
    /// `https://app.example.com,https://admin.example.com`, or `*` for any
    /// (`QF_HTTP_CORS_ORIGINS`); empty (the default) sends no CORS headers.
    pub cors_origins: String,
}

impl HttpConfig {
    /// The CORS origins, trimmed, empty entries dropped.
    pub fn cors_origin_list(&self) -> Vec<&str> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .collect()
    }
}

/// `[auth]`: how long credentials issued at login last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of an access (session) token in seconds (`QF_AUTH_SESSION_TTL_SECS`);
    /// default 900.
    pub session_ttl_secs: u64,
    /// Lifetime of a refresh token in seconds (`QF_AUTH_REFRESH_TTL_SECS`); default 30 days.
    /// Must exceed `session_ttl_secs`.
    pub refresh_ttl_secs: u64,
}

/// `[jobs]`: leasing, retries and fairness of the job queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobsConfig {
    /// How long a claimed job stays leased without a heartbeat before another worker may
    /// re-claim it, in seconds (`QF_JOBS_LEASE_SECS`); default 30. Must exceed
    /// `heartbeat_secs`.
    pub lease_secs: u64,
    /// How often a worker renews its lease, in seconds (`QF_JOBS_HEARTBEAT_SECS`); default 5.
    pub heartbeat_secs: u64,
    /// How often an idle worker polls the queue, in milliseconds (`QF_JOBS_POLL_MS`); default
    /// 250.
    pub poll_ms: u64,
    /// Attempts before a failing job is given up on (`QF_JOBS_MAX_ATTEMPTS`); default 3.
    pub max_attempts: u32,
    /// First retry delay in milliseconds, doubled on each retry (`QF_JOBS_BACKOFF_BASE_MS`);
    /// default 1000.
    pub backoff_base_ms: u64,
    /// Jobs of one tenant running at once across all workers
    /// (`QF_JOBS_TENANT_CONCURRENCY`); default 4.
    pub tenant_concurrency: u32,
}

/// `[sandbox]`: budgets for tenant code; defaults are those of
/// [`qf_sandbox::limits::Limits`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Longest one call into tenant code, in milliseconds (`QF_SANDBOX_CALL_MS`).
    pub call_ms: u64,
    /// Total time in tenant code over one run, in seconds (`QF_SANDBOX_RUN_SECONDS`).
    pub run_seconds: u64,
    /// Wall-clock time for one run, start-up included, in seconds
    /// (`QF_SANDBOX_WALL_SECONDS`); at least `run_seconds`.
    pub wall_seconds: u64,
    /// Memory of one sandbox worker process in MiB (`QF_SANDBOX_MEMORY_MB`).
    pub memory_mb: u64,
}

/// `[log]`: where and how much to log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `json` (one object per line, for collectors) or `pretty` (for a terminal)
    /// (`QF_LOG_FORMAT`); default `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `info,qf_server=debug` (`QF_LOG_LEVEL`); default
    /// `info`. `RUST_LOG`, when set, takes precedence.
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, span fields (such as `request_id`) flattened into it.
    Json,
    /// Human-readable lines for a terminal.
    Pretty,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./qf-data"),
            database_url: None,
            object_store: None,
            workers: 2,
            limits: LimitsConfig::default(),
            rate_limit: RateLimitConfig::default(),
            http: HttpConfig::default(),
            auth: AuthConfig::default(),
            jobs: JobsConfig::default(),
            sandbox: SandboxConfig::default(),
            log: LogConfig::default(),
            provenance: Provenance::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            upload_max_bytes: 2 << 30,
            json_max_bytes: 1 << 20,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_second: 100,
            burst: 200,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections_per_ip: 256,
            cors_origins: String::new(),
        }
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            session_ttl_secs: 900,
            refresh_ttl_secs: 30 * 24 * 3600,
        }
    }
}

impl Default for JobsConfig {
    fn default() -> Self {
        JobsConfig {
            lease_secs: 30,
            heartbeat_secs: 5,
            poll_ms: 250,
            max_attempts: 3,
            backoff_base_ms: 1000,
            tenant_concurrency: 4,
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let l = qf_sandbox::limits::Limits::default();
        SandboxConfig {
            call_ms: l.call_time.as_millis() as u64,
            run_seconds: l.run_cpu.as_secs(),
            wall_seconds: l.run_wall.as_secs(),
            memory_mb: (l.memory_bytes >> 20) as u64,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Json,
            level: "info".to_string(),
        }
    }
}

impl LimitsConfig {
    /// `json_max_bytes` as a `usize` for `DefaultBodyLimit`, saturating on 32-bit targets.
    pub fn json_max(&self) -> usize {
        usize::try_from(self.json_max_bytes).unwrap_or(usize::MAX)
    }

    /// `upload_max_bytes` as a `usize` for `DefaultBodyLimit`, saturating on 32-bit targets.
    pub fn upload_max(&self) -> usize {
        usize::try_from(self.upload_max_bytes).unwrap_or(usize::MAX)
    }
}

impl AuthConfig {
    /// Lifetime of an access token.
    pub fn session_ttl(&self) -> Duration {
        Duration::from_secs(self.session_ttl_secs)
    }

    /// Lifetime of a refresh token.
    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_ttl_secs)
    }
}

impl JobsConfig {
    /// The lease length.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    /// The heartbeat interval.
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_secs)
    }

    /// The idle poll interval.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }

    /// Delay before retry number `attempt` (1-based): `backoff_base_ms * 2^(attempt-1)`,
    /// capped at one hour.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u64 << attempt.saturating_sub(1).min(20);
        Duration::from_millis(self.backoff_base_ms.saturating_mul(factor))
            .min(Duration::from_secs(3600))
    }

    /// What the job workers take from this section.
    pub fn worker_settings(&self) -> WorkerSettings {
        WorkerSettings {
            lease: self.lease(),
            heartbeat: self.heartbeat(),
            poll: self.poll(),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            tenant_concurrency: self.tenant_concurrency,
        }
    }
}

impl SandboxConfig {
    /// The sandbox budgets these settings describe; the keys not configurable here
    /// (recursion depth, log size) keep the sandbox's defaults.
    pub fn limits(&self) -> qf_sandbox::limits::Limits {
        let memory_bytes = self.memory_mb.saturating_mul(1 << 20);
        qf_sandbox::limits::Limits {
            call_time: Duration::from_millis(self.call_ms),
            run_cpu: Duration::from_secs(self.run_seconds),
            run_wall: Duration::from_secs(self.wall_seconds),
            memory_bytes: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
            ..qf_sandbox::limits::Limits::default()
        }
    }
}

/// Some problems with the configuration; every one found is listed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// One entry per problem, in the order found.
    pub issues: Vec<ConfigIssue>,
}

/// One problem: where the offending value came from, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// `default`, the file path, the environment variable, or the command-line flag.
    pub origin: String,
    /// What is wrong, naming the key when the origin does not.
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.message)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.issues.as_slice() {
            [one] => write!(f, "{one}"),
            many => {
                write!(f, "{} problems in the configuration:", many.len())?;
                for issue in many {
                    write!(f, "\n  {issue}")?;
                }
                Ok(())
            }
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Default,
    File(String),
    Env(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => f.write_str(path),
            Origin::Env(name) => f.write_str(name),
        }
    }
}

/// The origin and loaded value of every key, so that [`Config::validate`] can still say where
/// a value came from, and tell a value set later (by a flag) from a loaded one.
#[derive(Clone, Default)]
struct Provenance(BTreeMap<&'static str, (Origin, toml::Value)>);

/// What a key holds, for checking and converting raw values before serde sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Addr,
    Text,
    /// An optional text: an empty environment value unsets it.
    OptText,
    /// A comma-separated list in one string; empty means none.
    List,
    Whole {
        max: u64,
    },
    Bytes,
    Format,
}

struct Key {
    path: &'static str,
    kind: Kind,
    /// The command-line flag that sets it, if any.
    flag: Option<&'static str>,
}

const U32: Kind = Kind::Whole {
    max: u32::MAX as u64,
};
const U64: Kind = Kind::Whole {
    max: i64::MAX as u64,
};

/// Every key, in the order `show` prints them. A test checks it against the struct.
const KEYS: &[Key] = &[
    key("addr", Kind::Addr, Some("--addr")),
    key("data_dir", Kind::Text, Some("--data-dir")),
    key("database_url", Kind::OptText, None),
    key("object_store", Kind::OptText, None),
    key("workers", U32, Some("--workers")),
    key("limits.upload_max_bytes", Kind::Bytes, None),
    key("limits.json_max_bytes", Kind::Bytes, None),
    key("rate_limit.requests_per_second", U32, None),
    key("rate_limit.burst", U32, None),
    key("http.header_timeout_secs", U64, None),
    key("http.body_timeout_secs", U64, None),
    key("http.max_connections_per_ip", U32, None),
    key("http.cors_origins", Kind::List, None),
    key("auth.session_ttl_secs", U64, None),
    key("auth.refresh_ttl_secs", U64, None),
    key("jobs.lease_secs", U64, None),
    key("jobs.heartbeat_secs", U64, None),
    key("jobs.poll_ms", U64, None),
    key("jobs.max_attempts", U32, None),
    key("jobs.backoff_base_ms", U64, None),
    key("jobs.tenant_concurrency", U32, None),
    key("sandbox.call_ms", U64, None),
    key("sandbox.run_seconds", U64, None),
    key("sandbox.wall_seconds", U64, None),
    key("sandbox.memory_mb", U64, None),
    key("log.format", Kind::Format, None),
    key("log.level", Kind::Text, None),
];

const SECTIONS: &[&str] = &[
    "limits",
    "rate_limit",
    "http",
    "auth",
    "jobs",
    "sandbox",
    "log",
];

const fn key(path: &'static str, kind: Kind, flag: Option<&'static str>) -> Key {
    Key { path, kind, flag }
}

fn find_key(path: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.path == path)
}

/// `jobs.lease_secs` → `QF_JOBS_LEASE_SECS`.
fn env_name(path: &str) -> String {
    format!("QF_{}", path.replace('.', "_").to_ascii_uppercase())
}

impl Config {
    /// Loads defaults < `file` (or the file named by `QF_CONFIG` in `env`, or `./qf.toml` if
    /// present) < the `QF_*` variables in `env`, and validates the result. Reads nothing from
    /// the process environment, so tests pass their own `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let env: Vec<(String, String)> = env.filter(|(k, _)| k.starts_with("QF_")).collect();
        let mut issues = Vec::new();

        let mut values = flatten(&Config::default()).map_err(|message| ConfigError {
            issues: vec![ConfigIssue {
                origin: "default".into(),
                message,
            }],
        })?;
        let mut origins: BTreeMap<&'static str, Origin> =
            values.keys().map(|k| (*k, Origin::Default)).collect();

        let file_path: Option<PathBuf> = match file {
            Some(path) => Some(path.to_path_buf()),
            None => match env.iter().find(|(k, v)| k == "QF_CONFIG" && !v.is_empty()) {
                Some((_, v)) => Some(PathBuf::from(v)),
                None => {
                    let default = Path::new(DEFAULT_FILE);
                    default.is_file().then(|| default.to_path_buf())
                }
            },
        };
        if let Some(path) = &file_path {
            let name = path.display().to_string();
            match std::fs::read_to_string(path) {
                Err(e) => issues.push(ConfigIssue {
                    origin: name,
                    message: format!("cannot read the configuration file: {e}"),
                }),
                Ok(text) => match text.parse::<toml::Table>() {
                    Err(e) => issues.push(ConfigIssue {
                        origin: name,
                        message: format!("not valid TOML: {}", e.to_string().trim_end()),
                    }),
                    Ok(table) => {
                        for (path, raw) in file_entries(&table, &mut issues, &name) {
                            match normalize(path.kind, raw) {
                                Ok(v) => {
                                    values.insert(path.path, v);
                                    origins.insert(path.path, Origin::File(name.clone()));
                                }
                                Err(message) => issues.push(ConfigIssue {
                                    origin: name.clone(),
                                    message: format!("{}: {message}", path.path),
                                }),
                            }
                        }
                    }
                },
            }
        }

        for (name, raw) in &env {
            if name == "QF_CONFIG" || name.starts_with("QF_TEST_") {
                continue;
            }
            let Some(key) = KEYS.iter().find(|k| env_name(k.path) == *name) else {
                if looks_like_ours(name) {
                    let hint = suggest_env(name)
                        .map(|s| format!(" (did you mean {s}?)"))
                        .unwrap_or_default();
                    issues.push(ConfigIssue {
                        origin: name.clone(),
                        message: format!("not a Quantforge setting{hint}"),
                    });
                }
                continue;
            };
            if raw.is_empty() && key.kind == Kind::OptText {
                values.remove(key.path);
                origins.insert(key.path, Origin::Env(name.clone()));
                continue;
            }
            match normalize(key.kind, &env_value(key.kind, raw)) {
                Ok(v) => {
                    values.insert(key.path, v);
                    origins.insert(key.path, Origin::Env(name.clone()));
                }
                Err(message) => issues.push(ConfigIssue {
                    origin: name.clone(),
                    message,
                }),
            }
        }

        if !issues.is_empty() {
            return Err(ConfigError { issues });
        }
        let mut config: Config = unflatten(&values)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError {
                issues: vec![ConfigIssue {
                    origin: "configuration".into(),
                    message: e.message().to_string(),
                }],
            })?;
        config.provenance = Provenance(
            origins
                .into_iter()
                .filter_map(|(k, o)| Some((k, (o, values.get(k)?.clone()))))
                .collect(),
        );
        config.validate()?;
        Ok(config)
    }

    /// [`Config::load`] with this process's environment.
    pub fn from_process_env(file: Option<&Path>) -> Result<Config, ConfigError> {
        // A non-UTF-8 variable cannot be one of ours unless its name is; keep it, lossily, so
        // that a QF_ one is still checked (and fails with a readable message).
        let env = std::env::vars_os().filter_map(|(k, v)| {
            let k = k.into_string().ok()?;
            let v = v
                .into_string()
                .unwrap_or_else(|v| v.to_string_lossy().into_owned());
            Some((k, v))
        });
        Config::load(file, env)
    }

    /// Checks every cross-key rule and every value that has a shape (URLs, the log filter).
    /// [`Config::load`] calls it; call it again after setting fields from command-line flags.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let current = match flatten(self) {
            Ok(v) => v,
            Err(message) => {
                return Err(ConfigError {
                    issues: vec![ConfigIssue {
                        origin: "configuration".into(),
                        message,
                    }],
                });
            }
        };
        let mut check = Checker {
            config: self,
            current: &current,
            issues: Vec::new(),
        };
        check.all();
        if check.issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError {
                issues: check.issues,
            })
        }
    }

    /// The database to use: `database_url`, or SQLite in `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("qf.db").display()),
        }
    }

    /// The object store to use: `object_store`, or `objects` in `data_dir`.
    pub fn object_store(&self) -> String {
        match &self.object_store {
            Some(store) => store.clone(),
            None => self.data_dir.join("objects").display().to_string(),
        }
    }

    /// The effective configuration as TOML, secrets masked, each value not from its default
    /// followed by a comment saying where it came from. Safe to print and to log.
    pub fn show(&self) -> String {
        let mut readable = self.clone();
        readable.data_dir = PathBuf::from(self.data_dir.to_string_lossy().into_owned());
        let mut effective = readable.clone();
        effective.database_url = Some(self.database_url());
        effective.object_store = Some(self.object_store());
        let (values, current) = match (flatten(&effective), flatten(&readable)) {
            (Ok(v), Ok(c)) => (v, c),
            // Cannot happen once data_dir is UTF-8; say so rather than print half a file.
            (Err(e), _) | (_, Err(e)) => {
                return format!("# the configuration cannot be shown: {e}\n");
            }
        };
        let mut out = String::new();
        let mut section = "";
        for key in KEYS {
            let Some(value) = values.get(key.path) else {
                continue;
            };
            let (sec, name) = key.path.split_once('.').unwrap_or(("", key.path));
            if sec != section {
                out.push_str(&format!("\n[{sec}]\n"));
                section = sec;
            }
            out.push_str(&format!("{name} = {}", mask_value(name, value)));
            let derived = match key.path {
                "database_url" => self.database_url.is_none(),
                "object_store" => self.object_store.is_none(),
                _ => false,
            };
            let origin = readable.origin(key, &current);
            if derived {
                out.push_str("  # from data_dir");
            } else if origin != "default" {
                out.push_str(&format!("  # {origin}"));
            }
            out.push('\n');
        }
        out
    }

    /// Where the current value of `key` came from: its loaded origin if unchanged since
    /// loading, else the flag that sets it, else "set in code".
    fn origin(&self, key: &Key, current: &BTreeMap<&'static str, toml::Value>) -> String {
        let now = current.get(key.path);
        let changed = || key.flag.unwrap_or("set in code").to_string();
        match self.provenance.0.get(key.path) {
            Some((origin, loaded)) if Some(loaded) == now => origin.to_string(),
            Some(_) => changed(),
            None => {
                // Never loaded (built from Config::default()), or loaded unset.
                let default = flatten(&Config::default()).ok();
                if default.as_ref().and_then(|d| d.get(key.path)) == now {
                    "default".into()
                } else {
                    changed()
                }
            }
        }
    }
}

impl fmt::Debug for Config {
    /// Secrets masked, as in [`Config::show`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(mask_url))
            .field("object_store", &self.object_store.as_deref().map(mask_url))
            .field("workers", &self.workers)
            .field("limits", &self.limits)
            .field("rate_limit", &self.rate_limit)
            .field("http", &self.http)
            .field("auth", &self.auth)
            .field("jobs", &self.jobs)
            .field("sandbox", &self.sandbox)
            .field("log", &self.log)
            .finish()
    }
}

impl PartialEq for Config {
    /// Compares configuration only, not where it came from.
    fn eq(&self, other: &Self) -> bool {
        self.addr == other.addr
            && self.data_dir == other.data_dir
            && self.database_url == other.database_url
            && self.object_store == other.object_store
            && self.workers == other.workers
            && self.limits == other.limits
            && self.rate_limit == other.rate_limit
            && self.http == other.http
            && self.auth == other.auth
            && self.jobs == other.jobs
            && self.sandbox == other.sandbox
            && self.log == other.log
    }
}

/// Why `origin` is not a browser origin (`scheme://host[:port]`, no path), if it is not;
/// `*` allows every origin.
fn origin_problem(origin: &str) -> Option<&'static str> {
    if origin == "*" {
        return None;
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return Some(
            "is not an origin: expected scheme://host[:port], e.g. https://app.example.com",
        );
    };
    if scheme != "http" && scheme != "https" {
        return Some("is not an origin: the scheme must be http or https");
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '@']) {
        return Some("is not an origin: only scheme://host[:port], with no path, query or user");
    }
    None
}

/// The cross-key and shape rules, reporting each against where its value came from.
struct Checker<'a> {
    config: &'a Config,
    current: &'a BTreeMap<&'static str, toml::Value>,
    issues: Vec<ConfigIssue>,
}

impl Checker<'_> {
    fn origin(&self, path: &str) -> String {
        match find_key(path) {
            Some(key) => self.config.origin(key, self.current),
            None => "configuration".into(),
        }
    }

    /// Reports against the origins of `paths` that are not defaults (all of them if every
    /// one is a default), so the message points at what the operator wrote.
    fn fail(&mut self, paths: &[&str], message: String) {
        let origins: Vec<String> = paths.iter().map(|p| self.origin(p)).collect();
        let mut named: Vec<String> = origins
            .iter()
            .filter(|o| *o != "default")
            .cloned()
            .collect();
        named.dedup();
        let origin = if named.is_empty() {
            "default".to_string()
        } else {
            named.join(", ")
        };
        self.issues.push(ConfigIssue { origin, message });
    }

    fn at_least(&mut self, path: &str, value: u64, min: u64) {
        if value < min {
            self.fail(
                &[path],
                format!("{path} must be at least {min}, found {value}"),
            );
        }
    }

    fn greater(&mut self, big: (&str, u64), small: (&str, u64)) {
        if big.1 <= small.1 {
            self.fail(
                &[big.0, small.0],
                format!(
                    "{} ({}) must be greater than {} ({})",
                    big.0, big.1, small.0, small.1
                ),
            );
        }
    }

    fn all(&mut self) {
        let c = self.config;
        if c.data_dir.as_os_str().is_empty() {
            self.fail(&["data_dir"], "data_dir must not be empty".into());
        }
        if let Some(url) = &c.database_url {
            let ok = ["sqlite:", "postgres://", "postgresql://"]
                .iter()
                .any(|p| url.starts_with(p));
            if !ok {
                self.fail(
                    &["database_url"],
                    format!(
                        "database_url: expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DB, found {:?}",
                        mask_url(url)
                    ),
                );
            }
        }
        if let Some(message) = c.object_store.as_deref().and_then(object_store_problem) {
            self.fail(&["object_store"], message);
        }
        let l = &c.limits;
        self.at_least("limits.upload_max_bytes", l.upload_max_bytes, 1);
        self.at_least("limits.json_max_bytes", l.json_max_bytes, 1);
        let r = &c.rate_limit;
        self.at_least(
            "rate_limit.requests_per_second",
            r.requests_per_second.into(),
            1,
        );
        self.at_least("rate_limit.burst", r.burst.into(), 1);
        let h = &c.http;
        self.at_least("http.header_timeout_secs", h.header_timeout_secs, 1);
        self.at_least("http.body_timeout_secs", h.body_timeout_secs, 1);
        for origin in h.cors_origin_list() {
            if let Some(why) = origin_problem(origin) {
                self.fail(
                    &["http.cors_origins"],
                    format!("http.cors_origins: {origin:?} {why}"),
                );
            }
        }
        let a = &c.auth;
        self.at_least("auth.session_ttl_secs", a.session_ttl_secs, 1);
        self.greater(
            ("auth.refresh_ttl_secs", a.refresh_ttl_secs),
            ("auth.session_ttl_secs", a.session_ttl_secs),
        );
        let j = &c.jobs;
        self.at_least("jobs.heartbeat_secs", j.heartbeat_secs, 1);
        self.greater(
            ("jobs.lease_secs", j.lease_secs),
            ("jobs.heartbeat_secs", j.heartbeat_secs),
        );
        self.at_least("jobs.poll_ms", j.poll_ms, 1);
        self.at_least("jobs.max_attempts", j.max_attempts.into(), 1);
        self.at_least("jobs.tenant_concurrency", j.tenant_concurrency.into(), 1);
        let s = &c.sandbox;
        self.at_least("sandbox.call_ms", s.call_ms, 1);
        self.at_least("sandbox.run_seconds", s.run_seconds, 1);
        self.at_least("sandbox.memory_mb", s.memory_mb, 1);
        if s.wall_seconds < s.run_seconds {
            self.fail(
                &["sandbox.wall_seconds", "sandbox.run_seconds"],
                format!(
                    "sandbox.wall_seconds ({}) must be at least sandbox.run_seconds ({})",
                    s.wall_seconds, s.run_seconds
                ),
            );
        }
        if let Some(word) = bare_word_directive(&c.log.level) {
            self.fail(
                &["log.level"],
                format!(
                    "log.level: {word:?} is not a level; expected error, warn, info, debug, trace or off, or TARGET=LEVEL"
                ),
            );
        } else if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&c.log.level) {
            self.fail(
                &["log.level"],
                format!(
                    "log.level: {e} in {:?}; expected a level (error, warn, info, debug, trace) or directives like \"info,qf_server=debug\"",
                    c.log.level
                ),
            );
        }
    }
}

/// A directive with no `=` that is not a level: `tracing` reads it as "everything from the
/// target of that name", which is never what `QF_LOG_LEVEL=verbose` meant.
fn bare_word_directive(filter: &str) -> Option<&str> {
    const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace", "off"];
    filter
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty() && !d.contains('=') && !d.contains('['))
        .find(|d| !LEVELS.contains(&d.to_ascii_lowercase().as_str()))
}

fn object_store_problem(store: &str) -> Option<String> {
    if store.is_empty() {
        return Some("object_store must not be empty".into());
    }
    let Some((scheme, rest)) = store.split_once("://") else {
        return None; // a local directory
    };
    if scheme != "s3" {
        return Some(format!(
            "object_store: expected a local directory or s3://BUCKET/PREFIX, found a {scheme}:// URL"
        ));
    }
    let bucket = rest.split(['/', '?']).next().unwrap_or_default();
    if bucket.is_empty() {
        return Some("object_store: an s3:// URL needs a bucket, as in s3://BUCKET/PREFIX".into());
    }
    if !cfg!(feature = "s3") {
        return Some(
            "object_store: s3:// needs a qf built with the `s3` feature (cargo build --features qf-server/s3)"
                .into(),
        );
    }
    None
}

/// The known keys in a parsed `qf.toml`, reporting unknown ones and misplaced tables.
fn file_entries<'t>(
    table: &'t toml::Table,
    issues: &mut Vec<ConfigIssue>,
    file: &str,
) -> Vec<(&'static Key, &'t toml::Value)> {
    let mut found = Vec::new();
    let unknown = |path: String, issues: &mut Vec<ConfigIssue>| {
        let hint = suggest_key(&path)
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        issues.push(ConfigIssue {
            origin: file.to_string(),
            message: format!("unknown key {path}{hint}"),
        });
    };
    for (name, value) in table {
        if let Some(key) = find_key(name) {
            found.push((key, value));
        } else if SECTIONS.contains(&name.as_str()) {
            let Some(inner) = value.as_table() else {
                issues.push(ConfigIssue {
                    origin: file.to_string(),
                    message: format!(
                        "{name}: expected a table ([{name}]), found {}",
                        show_raw(value)
                    ),
                });
                continue;
            };
            for (leaf, value) in inner {
                let path = format!("{name}.{leaf}");
                match find_key(&path) {
                    Some(key) => found.push((key, value)),
                    None => unknown(path, issues),
                }
            }
        } else if value.is_table() {
            let hint = closest(name, SECTIONS.iter().copied())
                .map(|s| format!(" (did you mean [{s}]?)"))
                .unwrap_or_default();
            issues.push(ConfigIssue {
                origin: file.to_string(),
                message: format!("unknown section [{name}]{hint}"),
            });
        } else {
            unknown(name.clone(), issues);
        }
    }
    found
}

/// For an unknown `section.key` (or `key`), the closest known key: a sibling in the same
/// section by its short name (`burst`), else any key by its full path (`jobs.lease_secs`).
fn suggest_key(path: &str) -> Option<String> {
    let (section, leaf) = path.split_once('.').unwrap_or(("", path));
    let siblings = KEYS.iter().filter_map(|k| {
        let (s, l) = k.path.split_once('.').unwrap_or(("", k.path));
        (s == section).then_some(l)
    });
    if let Some(s) = closest(leaf, siblings) {
        return Some(s.to_string());
    }
    // A key put in the wrong place: match on the short name, suggest the full path.
    KEYS.iter()
        .find(|k| k.path.rsplit('.').next() == Some(leaf))
        .or_else(|| {
            let leaves = KEYS
                .iter()
                .map(|k| k.path.rsplit('.').next().unwrap_or(k.path));
            let best = closest(leaf, leaves)?;
            KEYS.iter().find(|k| k.path.ends_with(best))
        })
        .map(|k| k.path.to_string())
}

/// An environment variable is "ours" when it starts with a section's prefix or is a small
/// typo away from one of our names; anything else under `QF_` is left alone.
fn looks_like_ours(name: &str) -> bool {
    SECTIONS
        .iter()
        .any(|s| name.starts_with(&env_name(&format!("{s}."))))
        || {
            let known: Vec<String> = KEYS.iter().map(|k| env_name(k.path)).collect();
            closest(name, known.iter().map(String::as_str)).is_some()
        }
}

/// The known variable a misspelt one most likely meant: the nearest by edit distance, else
/// the one it is the start of (`QF_JOBS_LEASE` → `QF_JOBS_LEASE_SECS`).
fn suggest_env(name: &str) -> Option<String> {
    let known: Vec<String> = KEYS.iter().map(|k| env_name(k.path)).collect();
    closest(name, known.iter().map(String::as_str))
        .map(str::to_string)
        .or_else(|| known.iter().find(|k| k.starts_with(name)).cloned())
}

/// The candidate nearest to `word` by edit distance, if near enough to be a typo.
fn closest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 4).clamp(1, 3);
    candidates
        .map(|c| {
            (
                edit_distance(&word.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of neighbours as one edit (optimal string alignment), in
/// characters: `burts` is one edit from `burst`.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// An environment string as the TOML value it stands for: numbers become integers so that a
/// number and a string in `qf.toml` and in the environment are checked the same way.
fn env_value(kind: Kind, raw: &str) -> toml::Value {
    match kind {
        Kind::Whole { .. } | Kind::Bytes => match raw.trim().parse::<i64>() {
            Ok(n) => toml::Value::Integer(n),
            Err(_) => toml::Value::String(raw.to_string()),
        },
        _ => toml::Value::String(raw.to_string()),
    }
}

/// Checks a raw value against its key's kind and converts it to what serde expects.
fn normalize(kind: Kind, value: &toml::Value) -> Result<toml::Value, String> {
    let found = show_raw(value);
    match (kind, value) {
        (Kind::Addr, toml::Value::String(s)) => match s.parse::<SocketAddr>() {
            Ok(_) => Ok(value.clone()),
            Err(_) => Err(format!(
                "expected an address like 127.0.0.1:8080 or [::]:8080, found {found}"
            )),
        },
        (Kind::Addr, _) => Err(format!(
            "expected an address like \"127.0.0.1:8080\", found {found}"
        )),
        (Kind::Text | Kind::OptText, toml::Value::String(s)) if s.is_empty() => {
            Err("must not be empty".into())
        }
        (Kind::Text | Kind::OptText, toml::Value::String(_)) => Ok(value.clone()),
        (Kind::Text | Kind::OptText, _) => Err(format!("expected a string, found {found}")),
        (Kind::List, toml::Value::String(_)) => Ok(value.clone()),
        (Kind::List, _) => Err(format!(
            "expected a comma-separated list in a string, found {found}"
        )),
        (Kind::Whole { max }, toml::Value::Integer(n)) => whole(*n, max),
        (Kind::Whole { .. }, _) => Err(format!("expected a whole number, found {found}")),
        (Kind::Bytes, toml::Value::Integer(n)) => whole(*n, i64::MAX as u64),
        (Kind::Bytes, toml::Value::String(s)) => match parse_size(s) {
            Some(n) => Ok(toml::Value::Integer(n)),
            None => Err(format!(
                "expected a size in bytes like 1048576 or \"1MiB\", found {found}"
            )),
        },
        (Kind::Bytes, _) => Err(format!(
            "expected a size in bytes like 1048576 or \"1MiB\", found {found}"
        )),
        (Kind::Format, toml::Value::String(s)) if s == "json" || s == "pretty" => Ok(value.clone()),
        (Kind::Format, _) => Err(format!("expected \"json\" or \"pretty\", found {found}")),
    }
}

fn whole(n: i64, max: u64) -> Result<toml::Value, String> {
    match u64::try_from(n) {
        Err(_) => Err(format!("expected a whole number, found {n}")),
        Ok(u) if u > max => Err(format!("{u} is too large (at most {max})")),
        Ok(_) => Ok(toml::Value::Integer(n)),
    }
}

/// `"2GiB"`, `"512 KiB"`, `"100"`, `"1MB"` (read as MiB: nobody means 10^6 here) → bytes.
fn parse_size(s: &str) -> Option<i64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(digits);
    let number: i64 = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    number.checked_mul(1i64 << shift)
}

/// A raw value for an error message: strings quoted, tables and arrays named.
fn show_raw(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Table(_) => "a table".into(),
        toml::Value::Array(_) => "an array".into(),
        other => other.to_string(),
    }
}

/// The configuration as `path → value`, one level of sections deep.
fn flatten(config: &Config) -> Result<BTreeMap<&'static str, toml::Value>, String> {
    let table = toml::Table::try_from(config).map_err(|e| {
        if config.data_dir.to_str().is_none() {
            "data_dir: the path must be valid UTF-8".to_string()
        } else {
            e.to_string()
        }
    })?;
    let mut flat = BTreeMap::new();
    for key in KEYS {
        let value = match key.path.split_once('.') {
            Some((section, leaf)) => table
                .get(section)
                .and_then(|s| s.as_table())
                .and_then(|s| s.get(leaf)),
            None => table.get(key.path),
        };
        if let Some(value) = value {
            flat.insert(key.path, value.clone());
        }
    }
    Ok(flat)
}

fn unflatten(values: &BTreeMap<&'static str, toml::Value>) -> toml::Value {
    let mut table = toml::Table::new();
    for (path, value) in values {
        match path.split_once('.') {
            Some((section, leaf)) => {
                let entry = table
                    .entry(section.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(inner) = entry {
                    inner.insert(leaf.to_string(), value.clone());
                }
            }
            None => {
                table.insert(path.to_string(), value.clone());
            }
        }
    }
    toml::Value::Table(table)
}

const MASK: &str = "****";

/// Words that make a key's value a secret.
fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    ["secret", "key", "password", "token", "credential"]
        .iter()
        .any(|w| name.contains(w))
}

fn mask_value(name: &str, value: &toml::Value) -> toml::Value {
    match value {
        toml::Value::String(s) if is_secret_name(name) => toml::Value::String(if s.is_empty() {
            String::new()
        } else {
            MASK.into()
        }),
        toml::Value::String(s) if s.contains("://") => toml::Value::String(mask_url(s)),
        other => other.clone(),
    }
}

/// A URL with the password of its user-info and the values of secret-looking query
/// parameters replaced by `****`: `postgres://qf:****@db/qf`,
/// `s3://bucket/p?region=eu&secret_access_key=****`.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{MASK}@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let mut out = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_name(k) || k.eq_ignore_ascii_case("sig") => {
                    format!("{k}={MASK}")
                }
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&masked.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qf.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn err(result: Result<Config, ConfigError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://./qf-data/qf.db");
        assert_eq!(c.object_store(), "./qf-data/objects");
        assert_eq!(c.limits.upload_max_bytes, 2 * 1024 * 1024 * 1024);
        assert_eq!(c.limits.json_max_bytes, 1024 * 1024);
        assert_eq!(
            (c.rate_limit.requests_per_second, c.rate_limit.burst),
            (100, 200)
        );
        assert_eq!(c.auth.refresh_ttl_secs, 2_592_000);
        assert_eq!(c.jobs, JobsConfig::default());
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.sandbox.limits(), qf_sandbox::limits::Limits::default());
    }

    #[test]
    fn the_key_table_matches_the_struct() {
        // Every key the struct serializes is in KEYS, and every key in KEYS exists.
        let c = Config {
            database_url: Some("sqlite://x".into()),
            object_store: Some("x".into()),
            ..Config::default()
        };
        let table = toml::Table::try_from(&c).unwrap();
        let mut paths = Vec::new();
        for (k, v) in &table {
            match v.as_table() {
                Some(inner) => paths.extend(inner.keys().map(|l| format!("{k}.{l}"))),
                None => paths.push(k.clone()),
            }
        }
        let known: Vec<String> = KEYS.iter().map(|k| k.path.to_string()).collect();
        paths.sort();
        let mut sorted = known.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        // Environment names are unique.
        let mut names: Vec<String> = KEYS.iter().map(|k| env_name(k.path)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KEYS.len());
    }

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        let (_dir, path) = file(
            "workers = 8\naddr = \"0.0.0.0:9000\"\n[jobs]\nlease_secs = 60\npoll_ms = 100\n\
             [limits]\nupload_max_bytes = \"64MiB\"\n[log]\nformat = \"pretty\"\n",
        );
        let c = Config::load(
            Some(&path),
            env(&[
                ("QF_WORKERS", "3"),
                ("QF_JOBS_POLL_MS", "50"),
                ("QF_RATE_LIMIT_BURST", "7"),
                ("QF_DATABASE_URL", "postgres://qf:hunter2@db:5432/qf"),
                ("PATH", "/usr/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(c.workers, 3);
        assert_eq!(c.addr.port(), 9000);
        assert_eq!(c.jobs.lease_secs, 60);
        assert_eq!(c.jobs.poll_ms, 50);
        assert_eq!(c.rate_limit.burst, 7);
        assert_eq!(c.limits.upload_max_bytes, 64 << 20);
        assert_eq!(c.log.format, LogFormat::Pretty);
        assert_eq!(c.database_url(), "postgres://qf:hunter2@db:5432/qf");
    }

    #[test]
    fn qf_config_names_the_file_and_a_named_missing_file_is_an_error() {
        let (_dir, path) = file("workers = 5\n");
        let c = Config::load(None, env(&[("QF_CONFIG", path.to_str().unwrap())])).unwrap();
        assert_eq!(c.workers, 5);
        let missing = Path::new("/nonexistent/qf.toml");
        let e = err(Config::load(Some(missing), env(&[])));
        assert!(e.starts_with("/nonexistent/qf.toml: cannot read"), "{e}");
    }

    #[test]
    fn environment_type_errors_name_the_variable() {
        let e = err(Config::load(None, env(&[("QF_WORKERS", "two")])));
        assert_eq!(e, r#"QF_WORKERS: expected a whole number, found "two""#);
        let e = err(Config::load(None, env(&[("QF_ADDR", "localhost")])));
        assert!(e.starts_with("QF_ADDR: expected an address"), "{e}");
        let e = err(Config::load(None, env(&[("QF_LOG_FORMAT", "xml")])));
        assert_eq!(
            e,
            r#"QF_LOG_FORMAT: expected "json" or "pretty", found "xml""#
        );
        let e = err(Config::load(None, env(&[("QF_JOBS_MAX_ATTEMPTS", "-1")])));
        assert_eq!(e, "QF_JOBS_MAX_ATTEMPTS: expected a whole number, found -1");
        let e = err(Config::load(None, env(&[("QF_WORKERS", "")])));
        assert_eq!(e, r#"QF_WORKERS: expected a whole number, found """#);
    }

    #[test]
    fn empty_optional_variable_means_default() {
        let c = Config::load(None, env(&[("QF_DATABASE_URL", "")])).unwrap();
        assert_eq!(c.database_url, None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let e = Config::load(
            None,
            env(&[("QF_WORKERS", "two"), ("QF_JOBS_POLL_MS", "soon")]),
        )
        .unwrap_err();
        assert_eq!(e.issues.len(), 2);
        let text = e.to_string();
        assert!(
            text.starts_with("2 problems in the configuration:"),
            "{text}"
        );
        assert!(
            text.contains("\n  QF_JOBS_POLL_MS: expected a whole number"),
            "{text}"
        );
    }

    #[test]
    fn unknown_variables_that_look_like_ours_are_errors() {
        let e = err(Config::load(None, env(&[("QF_JOBS_LEASE", "3")])));
        assert_eq!(
            e,
            "QF_JOBS_LEASE: not a Quantforge setting (did you mean QF_JOBS_LEASE_SECS?)"
        );
        let e = err(Config::load(None, env(&[("QF_WORKRES", "3")])));
        assert_eq!(
            e,
            "QF_WORKRES: not a Quantforge setting (did you mean QF_WORKERS?)"
        );
        let e = err(Config::load(None, env(&[("QF_SANDBOX_CPU", "3")])));
        assert!(
            e.starts_with("QF_SANDBOX_CPU: not a Quantforge setting"),
            "{e}"
        );
        // Ours for other uses, or clearly someone else's.
        Config::load(
            None,
            env(&[
                ("QF_CONFIG", ""),
                ("QF_TEST_POSTGRES_URL", "postgres://x"),
                ("QF_MASTER_KEY_FILE", "/run/secrets/k"),
            ]),
        )
        .unwrap();
    }

    #[test]
    fn unknown_file_keys_suggest_the_near_one() {
        let (_dir, path) = file("[rate_limit]\nburts = 5\n");
        let e = err(Config::load(Some(&path), env(&[])));
        assert_eq!(
            e,
            format!(
                "{}: unknown key rate_limit.burts (did you mean burst?)",
                path.display()
            )
        );
        let (_dir, path) = file("lease_secs = 5\n");
        let e = err(Config::load(Some(&path), env(&[])));
        assert!(
            e.ends_with("unknown key lease_secs (did you mean jobs.lease_secs?)"),
            "{e}"
        );
        let (_dir, path) = file("[ratelimit]\nburst = 5\n");
        let e = err(Config::load(Some(&path), env(&[])));
        assert!(
            e.ends_with("unknown section [ratelimit] (did you mean [rate_limit]?)"),
            "{e}"
        );
        let (_dir, path) = file("jobs = 5\n");
        let e = err(Config::load(Some(&path), env(&[])));
        assert!(
            e.ends_with("jobs: expected a table ([jobs]), found 5"),
            "{e}"
        );
    }

    #[test]
    fn file_type_errors_name_the_key() {
        let (_dir, path) = file("workers = \"two\"\n[limits]\njson_max_bytes = \"lots\"\n");
        let e = Config::load(Some(&path), env(&[])).unwrap_err();
        let name = path.display().to_string();
        assert_eq!(
            e.issues,
            // Keys of the file in name order.
            vec![
                ConfigIssue {
                    origin: name.clone(),
                    message: r#"limits.json_max_bytes: expected a size in bytes like 1048576 or "1MiB", found "lots""#.into()
                },
                ConfigIssue {
                    origin: name,
                    message: r#"workers: expected a whole number, found "two""#.into()
                },
            ]
        );
        let (_dir, path) = file("workers = 3\nworkers = 4\n");
        let e = err(Config::load(Some(&path), env(&[])));
        assert!(e.contains("not valid TOML"), "{e}");
    }

    #[test]
    fn cors_origins_are_checked_and_split() {
        let c = Config::load(
            None,
            env(&[(
                "QF_HTTP_CORS_ORIGINS",
                " https://app.example.com , http://localhost:5173,",
            )]),
        )
        .unwrap();
        assert_eq!(
            c.http.cors_origin_list(),
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert!(Config::default().http.cors_origin_list().is_empty());
        let e = err(Config::load(
            None,
            env(&[("QF_HTTP_CORS_ORIGINS", "https://app.example.com/path")]),
        ));
        assert!(
            e.starts_with(
                "QF_HTTP_CORS_ORIGINS: http.cors_origins: \"https://app.example.com/path\" is not an origin"
            ),
            "{e}"
        );
        let e = err(Config::load(
            None,
            env(&[("QF_HTTP_CORS_ORIGINS", "app.example.com")]),
        ));
        assert!(e.contains("expected scheme://host[:port]"), "{e}");
    }

    #[test]
    fn cross_key_rules_name_where_the_values_came_from() {
        let (_dir, path) = file("[jobs]\nlease_secs = 3\n");
        let e = err(Config::load(Some(&path), env(&[])));
        assert_eq!(
            e,
            format!(
                "{}: jobs.lease_secs (3) must be greater than jobs.heartbeat_secs (5)",
                path.display()
            )
        );
        let e = err(Config::load(None, env(&[("QF_JOBS_HEARTBEAT_SECS", "30")])));
        assert_eq!(
            e,
            "QF_JOBS_HEARTBEAT_SECS: jobs.lease_secs (30) must be greater than jobs.heartbeat_secs (30)"
        );
        let e = err(Config::load(
            None,
            env(&[("QF_AUTH_REFRESH_TTL_SECS", "60")]),
        ));
        assert!(
            e.starts_with("QF_AUTH_REFRESH_TTL_SECS: auth.refresh_ttl_secs (60)"),
            "{e}"
        );
        let e = err(Config::load(None, env(&[("QF_RATE_LIMIT_BURST", "0")])));
        assert_eq!(
            e,
            "QF_RATE_LIMIT_BURST: rate_limit.burst must be at least 1, found 0"
        );
        let e = err(Config::load(
            None,
            env(&[("QF_LOG_LEVEL", "info,qf_server=loud")]),
        ));
        assert!(e.starts_with("QF_LOG_LEVEL: log.level:"), "{e}");
        let e = err(Config::load(None, env(&[("QF_LOG_LEVEL", "verbose")])));
        assert!(
            e.starts_with(r#"QF_LOG_LEVEL: log.level: "verbose" is not a level"#),
            "{e}"
        );
        Config::load(None, env(&[("QF_LOG_LEVEL", "warn,qf_server=debug")])).unwrap();
        let e = err(Config::load(
            None,
            env(&[("QF_DATABASE_URL", "mysql://u:pw@h/db")]),
        ));
        assert!(
            e.starts_with("QF_DATABASE_URL: database_url: expected sqlite"),
            "{e}"
        );
        assert!(!e.contains("pw"), "secret leaked: {e}");
        let e = err(Config::load(None, env(&[("QF_OBJECT_STORE", "gs://b/p")])));
        assert!(
            e.starts_with("QF_OBJECT_STORE: object_store: expected a local directory"),
            "{e}"
        );
        let e = err(Config::load(None, env(&[("QF_OBJECT_STORE", "s3:///p")])));
        assert!(e.contains("needs a bucket"), "{e}");
    }

    #[test]
    fn validate_after_flags_names_the_flag() {
        let mut c = Config::load(None, env(&[("QF_WORKERS", "3")])).unwrap();
        c.workers = 1;
        c.validate().unwrap();
        c.jobs.heartbeat_secs = 0;
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(
            e,
            "set in code: jobs.heartbeat_secs must be at least 1, found 0"
        );
        let c = Config {
            data_dir: PathBuf::new(),
            ..Config::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert_eq!(e, "--data-dir: data_dir must not be empty");
    }

    #[test]
    fn show_masks_secrets_and_says_where_values_came_from() {
        let c = Config::load(
            None,
            env(&[
                ("QF_WORKERS", "4"),
                (
                    "QF_DATABASE_URL",
                    "postgres://qf:hunter2@db:5432/qf?sslmode=require",
                ),
            ]),
        )
        .unwrap();
        let shown = c.show();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("database_url = \"postgres://qf:****@db:5432/qf?sslmode=require\"  # QF_DATABASE_URL"),
            "{shown}"
        );
        assert!(shown.contains("workers = 4  # QF_WORKERS\n"), "{shown}");
        assert!(
            shown.contains("object_store = \"./qf-data/objects\"  # from data_dir"),
            "{shown}"
        );
        assert!(shown.contains("\n[jobs]\nlease_secs = 30\n"), "{shown}");
        assert!(!format!("{c:?}").contains("hunter2"));
        // What show prints loads back to the same configuration.
        let (_dir, path) = file(&shown);
        let mut again = Config::load(Some(&path), env(&[])).unwrap();
        again.database_url = c.database_url.clone();
        let mut expected = c.clone();
        expected.object_store = Some(c.object_store());
        assert_eq!(again, expected);
    }

    #[test]
    fn mask_url_hides_passwords_and_credentials() {
        assert_eq!(
            mask_url("postgres://user:pw@host/db"),
            "postgres://user:****@host/db"
        );
        assert_eq!(
            mask_url("postgres://user@host/db"),
            "postgres://user@host/db"
        );
        assert_eq!(
            mask_url("sqlite://./qf-data/qf.db"),
            "sqlite://./qf-data/qf.db"
        );
        assert_eq!(
            mask_url(
                "s3://bucket/pre?region=eu-west-1&access_key_id=AKIA&secret_access_key=abc&session_token=t"
            ),
            "s3://bucket/pre?region=eu-west-1&access_key_id=****&secret_access_key=****&session_token=****"
        );
        assert_eq!(
            mask_value("master_key", &toml::Value::String("abc".into())),
            toml::Value::String(MASK.into())
        );
    }

    #[test]
    fn sizes_and_backoff() {
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("512 kib"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("1.5GiB"), None);
        assert_eq!(parse_size("MiB"), None);
        let j = JobsConfig::default();
        assert_eq!(j.backoff(1), Duration::from_secs(1));
        assert_eq!(j.backoff(3), Duration::from_secs(4));
        assert_eq!(j.backoff(200), Duration::from_secs(3600));
    }
}
