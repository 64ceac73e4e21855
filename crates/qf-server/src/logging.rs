//! Log output: JSON lines for collectors, or readable lines for a terminal.
//!
//! In JSON each line is one object: `timestamp` (RFC 3339, UTC), `level`, `target`,
//! `message`, the fields of every enclosing span flattened in (so the `request_id`,
//! `method` and `route` of [`crate::request_id`]'s span are on every line logged while
//! serving a request), then the event's own fields. tracing-subscriber's own JSON format
//! nests span fields under `"span"`, which log queries then have to dig for; flattening
//! them is the reason for the small formatter here.
//!
//! The filter is `RUST_LOG` when set, else `log.level` from the [`Config`].

use std::fmt;
use std::io::IsTerminal;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{Config, LogConfig, LogFormat};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The filter (from `RUST_LOG` or `log.level`) does not parse.
    #[error("{origin}: not a valid log filter {filter:?}: {reason}")]
    Filter {
        /// `RUST_LOG` or `log.level`.
        origin: &'static str,
        /// The filter text.
        filter: String,
        /// What the parser said.
        reason: String,
    },
    /// Something already installed a global subscriber.
    #[error("logging was already set up in this process")]
    AlreadySet,
}

/// Installs the process-wide subscriber described by `config.log` (writing to stdout).
pub fn init(config: &Config) -> Result<(), LoggingError> {
    let filter = env_filter(&config.log)?;
    let ansi = std::io::stdout().is_terminal();
    let subscriber = build(config.log.format, filter, std::io::stdout, ansi);
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LoggingError::AlreadySet)
}

/// The filter: `RUST_LOG` if set and non-empty, else `log.level`.
pub fn env_filter(log: &LogConfig) -> Result<EnvFilter, LoggingError> {
    let (origin, filter) = match std::env::var("RUST_LOG") {
        Ok(s) if !s.trim().is_empty() => ("RUST_LOG", s),
        _ => ("log.level", log.level.clone()),
    };
    EnvFilter::builder()
        .parse(&filter)
        .map_err(|e| LoggingError::Filter {
            origin,
            filter,
            reason: e.to_string(),
        })
}

/// A subscriber writing `format` lines that pass `filter` to `writer`, without colours; for
/// tests and for embedding. [`init`] installs the same with stdout.
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build(format, filter, writer, false)
}

fn build<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .fmt_fields(JsonFields::new())
                    .event_format(FlatJson)
                    .with_writer(writer),
            ),
        ),
        LogFormat::Pretty => Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(writer),
            ),
        ),
    }
}

/// One JSON object per event, span fields flattened in; see the module docs.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        line.insert("timestamp".into(), Value::String(timestamp));
        line.insert("level".into(), Value::String(meta.level().as_str().into()));
        line.insert("target".into(), Value::String(meta.target().into()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                // The fmt layer keeps each span's fields formatted by `N`, here JsonFields: a
                // JSON object (empty text for a span without fields).
                let Some(fields) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(fields.as_str()) {
                    line.extend(map);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields into a JSON object.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let v = serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number);
        self.0.insert(field.name().into(), v);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.insert(field.name().into(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_flatten_span_fields_and_keep_event_fields() {
        let buf = Buffer::default();
        let writer = buf.clone();
        let sub = subscriber(LogFormat::Json, EnvFilter::new("info"), move || {
            writer.clone()
        });
        tracing::subscriber::with_default(sub, || {
            let outer = tracing::info_span!("request", request_id = "abc", route = "/v1/x");
            let _o = outer.enter();
            let inner = tracing::info_span!("job", job = 7u64);
            let _i = inner.enter();
            tracing::info!(rows = 3, ok = true, ratio = 0.5, "loaded");
            tracing::debug!("filtered out");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{text}");
        let line = &lines[0];
        assert_eq!(line["message"], "loaded");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["request_id"], "abc");
        assert_eq!(line["route"], "/v1/x");
        assert_eq!(line["job"], 7);
        assert_eq!(
            (
                line["rows"].clone(),
                line["ok"].clone(),
                line["ratio"].clone()
            ),
            (3.into(), true.into(), 0.5.into())
        );
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }
}
