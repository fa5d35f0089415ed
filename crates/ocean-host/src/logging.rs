//! Log set-up: lines on stderr, as text (colours only on a terminal) or as
//! one JSON object per line for log pipelines, and, as Ocean does, the
//! integration's own lines shipped to Port's integration logs view: batched,
//! bounded, never waited for, secrets masked.
//!
//! Settings (read from the environment and `.env`, as Ocean's
//! `ApplicationSettings`): `APPLICATION__LOG_LEVEL` (also `OCEAN__LOG_LEVEL`;
//! `RUST_LOG` overrides both), `APPLICATION__LOG_FORMAT` (`text` or `json`),
//! `APPLICATION__ENABLE_HTTP_LOGGING` (ship to Port; default true).

use std::collections::{BTreeMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use ocean_port::PortClient;

/// Lines waiting to be shipped; beyond this, new lines are dropped (and counted).
const BUFFER_LINES: usize = 5_000;
/// Lines per request to Port, as Ocean's handler batches them.
const BATCH_LINES: usize = 100;
/// A batch's encoded size stays well under Port's 1 MiB body limit.
const BATCH_BYTES: usize = 512 * 1024;
/// Ocean flushes its buffer at least this often.
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// A single line's message is cut beyond this.
const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// How lines are written to stderr (`APPLICATION__LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// The default: human-readable lines, coloured on a terminal unless `NO_COLOR` is set.
    Text,
    /// One JSON object per line (Ocean's field names), for log pipelines.
    Json,
}

/// Logging settings, read by [`LogSettings::from_vars`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// An `EnvFilter` directive, e.g. `info` or `ocean_codecov=debug`.
    pub filter: String,
    /// How stderr lines look.
    pub format: LogFormat,
    /// Ship the integration's lines to Port's logs view too (`APPLICATION__ENABLE_HTTP_LOGGING`, default true).
    pub ship_to_port: bool,
}

impl LogSettings {
    /// From the variables (the environment over `.env`); a bad value is an
    /// error naming the variable.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<LogSettings, crate::settings::SettingError> {
        let filter = vars
            .get("RUST_LOG")
            .or_else(|| vars.get("APPLICATION__LOG_LEVEL"))
            .or_else(|| vars.get("OCEAN__LOG_LEVEL"))
            .map(|l| l.trim().to_ascii_lowercase())
            .filter(|l| !l.is_empty())
            .map(|l| match l.as_str() {
                // Ocean's level names.
                "warning" => "warn".to_string(),
                "critical" => "error".to_string(),
                _ => l,
            })
            .unwrap_or_else(|| "info".into());
        let format = match vars
            .get("APPLICATION__LOG_FORMAT")
            .map(|f| f.trim().to_ascii_lowercase())
        {
            None => LogFormat::Text,
            Some(f) if f.is_empty() || f == "text" => LogFormat::Text,
            Some(f) if f == "json" => LogFormat::Json,
            Some(other) => {
                return Err(crate::settings::SettingError {
                    variable: "APPLICATION__LOG_FORMAT".into(),
                    message: format!("must be text or json, got {other:?}"),
                });
            }
        };
        let ship_to_port = match vars
            .get("APPLICATION__ENABLE_HTTP_LOGGING")
            .map(|f| f.trim().to_ascii_lowercase())
        {
            None => true,
            Some(f) if ["true", "1", "yes", ""].contains(&f.as_str()) => true,
            Some(f) if ["false", "0", "no"].contains(&f.as_str()) => false,
            Some(other) => {
                return Err(crate::settings::SettingError {
                    variable: "APPLICATION__ENABLE_HTTP_LOGGING".into(),
                    message: format!("must be true or false, got {other:?}"),
                });
            }
        };
        Ok(LogSettings {
            filter,
            format,
            ship_to_port,
        })
    }
}

/// Installs the global subscriber from the environment and `.env`; a bad
/// setting is reported and the defaults used.
pub fn init() {
    let settings = LogSettings::from_vars(&env_vars()).unwrap_or_else(|e| {
        eprintln!("{e}; logging with the defaults");
        LogSettings::from_vars(&BTreeMap::new()).unwrap_or(LogSettings {
            filter: "info".into(),
            format: LogFormat::Text,
            ship_to_port: true,
        })
    });
    init_with(&settings);
}

/// Installs the global subscriber (once per process; later calls do nothing).
pub fn init_with(settings: &LogSettings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let stderr: Box<dyn Layer<_> + Send + Sync> = match settings.format {
        LogFormat::Json => Box::new(JsonLines),
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()),
        ),
    };
    SHIPPING_WANTED.store(settings.ship_to_port, Ordering::Relaxed);
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(ShipLayer)
        .try_init();
}

/// Ocean's level names.
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        _ => "DEBUG",
    }
}

fn timestamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S.%6fZ")
        .to_string()
}

/// An event's message and other fields, as JSON.
#[derive(Default)]
struct Fields {
    message: String,
    extra: Map<String, Value>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.extra.insert(field.name().to_string(), json!(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.extra.insert(field.name().to_string(), json!(text));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.extra.insert(field.name().to_string(), json!(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.extra.insert(field.name().to_string(), json!(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.extra.insert(field.name().to_string(), json!(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.extra.insert(field.name().to_string(), json!(value));
    }
}

/// Ocean's process-wide extras (`log/logger_setup.py`, `setup_logger`):
/// the host's name and an id new per process.
fn process_extras() -> &'static (String, String) {
    static EXTRAS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    EXTRAS.get_or_init(|| {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "unknown".into());
        (hostname, ocean_port::event::new_id())
    })
}

/// The fields Ocean's `event_context` adds to every line logged inside an
/// event (`context/event.py`, `logger.contextualize`): this host's events
/// have no parent and no resource of their own, as Ocean's top-level ones.
fn add_event_fields(extra: &mut Map<String, Value>) {
    let (hostname, instance) = process_extras();
    extra.insert("hostname".into(), json!(hostname));
    extra.insert("instance".into(), json!(instance));
    if let Some(event) = ocean_port::event::current() {
        extra.insert("event_trigger_type".into(), json!(event.trigger_type()));
        extra.insert("event_kind".into(), json!(event.kind.as_str()));
        extra.insert("event_id".into(), json!(event.id));
        extra.insert("event_parent_id".into(), Value::Null);
        extra.insert("event_resource_kind".into(), Value::Null);
    }
}

/// One event as Ocean's log record: `{message, level, timestamp, extra}`,
/// `extra` with the event the line was logged in, if any.
fn record(event: &Event<'_>) -> Value {
    let mut fields = Fields::default();
    event.record(&mut fields);
    fields
        .extra
        .insert("target".into(), json!(event.metadata().target()));
    add_event_fields(&mut fields.extra);
    json!({
        "message": fields.message,
        "level": level_name(event.metadata().level()),
        "timestamp": timestamp(),
        "extra": fields.extra,
    })
}

/// Writes each event to stderr as one JSON object per line.
struct JsonLines;

impl<S: Subscriber> Layer<S> for JsonLines {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = record(event);
        let mut stderr = std::io::stderr().lock();
        let _ = serde_json::to_writer(&mut stderr, &line);
        let _ = stderr.write_all(b"\n");
    }
}

/// Lines waiting for Port, and how many were dropped because it was full.
struct Outbox {
    lines: Mutex<VecDeque<Value>>,
    dropped: AtomicU64,
    enabled: AtomicBool,
    ready: tokio::sync::Notify,
}

static OUTBOX: Outbox = Outbox {
    lines: Mutex::new(VecDeque::new()),
    dropped: AtomicU64::new(0),
    enabled: AtomicBool::new(false),
    ready: tokio::sync::Notify::const_new(),
};

tokio::task_local! {
    /// Set while shipping: what the shipping itself logs stays local.
    static SHIPPING: ();
}

/// The crates whose log lines are the integration's own: the host's, and
/// those a plugin registers (`ship_lines_of`).
const HOST_TARGETS: &[&str] = &["ocean_host", "ocean_port", "ocean_support"];
static PLUGIN_TARGETS: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

/// Ships the log lines of `crate_name` (a plugin's crate, e.g. `codecov`) to Port too.
pub fn ship_lines_of(crate_name: &'static str) {
    let mut targets = PLUGIN_TARGETS.lock().unwrap_or_else(|p| p.into_inner());
    if !targets.contains(&crate_name) {
        targets.push(crate_name);
    }
}

fn is_own(target: &str) -> bool {
    let first = target.split("::").next().unwrap_or_default();
    HOST_TARGETS.contains(&first)
        || PLUGIN_TARGETS
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&first)
}

/// Queues the integration's own events for Port once shipping is enabled.
struct ShipLayer;

impl<S: Subscriber> Layer<S> for ShipLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !OUTBOX.enabled.load(Ordering::Relaxed)
            || SHIPPING.try_with(|_| ()).is_ok()
            // The integration's lines, not its HTTP stack's.
            || !is_own(event.metadata().target())
        {
            return;
        }
        let mut line = record(event);
        if let Some(Value::String(message)) = line.get_mut("message")
            && message.len() > MAX_MESSAGE_BYTES
        {
            let mut cut = MAX_MESSAGE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push_str(" [cut]");
        }
        ocean_support::redact::value(&mut line);
        let mut lines = OUTBOX.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() >= BUFFER_LINES {
            OUTBOX.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        lines.push_back(line);
        if lines.len() >= BATCH_LINES {
            OUTBOX.ready.notify_one();
        }
    }
}

/// Whether the log settings ask for shipping to Port.
static SHIPPING_WANTED: AtomicBool = AtomicBool::new(false);

/// From now on, the integration's log lines are kept for `ship`, if the
/// settings ask for it; returns whether they do.
pub fn enable_shipping() -> bool {
    let wanted = SHIPPING_WANTED.load(Ordering::Relaxed);
    OUTBOX.enabled.store(wanted, Ordering::Relaxed);
    wanted
}

/// Takes the next batch: up to `BATCH_LINES` lines and `BATCH_BYTES` encoded.
fn take_batch() -> Vec<Value> {
    let mut lines = OUTBOX.lines.lock().unwrap_or_else(|p| p.into_inner());
    let mut batch = Vec::new();
    let mut bytes = 0;
    while let Some(line) = lines.front() {
        let size = serde_json::to_vec(line).map_or(0, |v| v.len()) + 1;
        if batch.len() == BATCH_LINES || (!batch.is_empty() && bytes + size > BATCH_BYTES) {
            break;
        }
        bytes += size;
        batch.extend(lines.pop_front());
    }
    batch
}

/// Sends what is waiting, batch by batch. A batch Port refuses is dropped
/// (and said so locally): logs never hold up the work.
pub async fn flush(port: &PortClient) {
    SHIPPING
        .scope((), async {
            loop {
                let batch = take_batch();
                if batch.is_empty() {
                    break;
                }
                if let Err(e) = port.ingest_logs(&batch).await {
                    tracing::warn!(lines = batch.len(), "could not ship log lines to Port: {e}");
                }
            }
            let dropped = OUTBOX.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "log lines were not shipped to Port: more came than it took"
                );
            }
        })
        .await
}

/// Ships the integration's log lines to Port every few seconds, or sooner
/// when a batch is full, until the process ends. Call `flush` at shutdown.
pub async fn ship(port: &PortClient) {
    loop {
        let _ = tokio::time::timeout(FLUSH_EVERY, OUTBOX.ready.notified()).await;
        flush(port).await;
    }
}

/// `.env` in the working directory under the process environment, as Ocean
/// reads settings (the environment wins).
pub fn env_vars() -> BTreeMap<String, String> {
    let mut vars = std::fs::read_to_string(".env")
        .map(|text| parse_dotenv(&text))
        .unwrap_or_default();
    vars.extend(std::env::vars());
    vars
}

/// `KEY=value` lines; `#` comments, blank lines, `export ` and quotes allowed.
pub fn parse_dotenv(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = match value.chars().next() {
            Some(quote @ ('"' | '\'')) if value.len() >= 2 && value.ends_with(quote) => {
                value[1..value.len() - 1].to_string()
            }
            // An unquoted value ends at a comment.
            _ => value.split(" #").next().unwrap_or_default().trim().to_string(),
        };
        vars.insert(key.trim().to_string(), value);
    }
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_take_oceans_names() {
        let s = LogSettings::from_vars(&vars(&[
            ("APPLICATION__LOG_LEVEL", "WARNING"),
            ("APPLICATION__LOG_FORMAT", "json"),
            ("APPLICATION__ENABLE_HTTP_LOGGING", "false"),
        ]))
        .expect("valid");
        assert_eq!(
            s,
            LogSettings {
                filter: "warn".into(),
                format: LogFormat::Json,
                ship_to_port: false
            }
        );
        let default = LogSettings::from_vars(&vars(&[])).expect("valid");
        assert_eq!(
            (default.filter.as_str(), default.format, default.ship_to_port),
            ("info", LogFormat::Text, true)
        );
        let bad = LogSettings::from_vars(&vars(&[("APPLICATION__LOG_FORMAT", "xml")])).expect_err("invalid");
        assert_eq!(bad.variable, "APPLICATION__LOG_FORMAT", "{bad}");
    }

    #[test]
    fn dotenv_lines_are_read_as_shells_write_them() {
        let parsed = parse_dotenv(
            "# comment\nexport OCEAN__PORT__CLIENT_ID=abc\nOCEAN__X=\"quoted # not a comment\"\nOCEAN__Y=plain # comment\n\nBROKEN\n",
        );
        assert_eq!(parsed["OCEAN__PORT__CLIENT_ID"], "abc");
        assert_eq!(parsed["OCEAN__X"], "quoted # not a comment");
        assert_eq!(parsed["OCEAN__Y"], "plain");
        assert_eq!(parsed.len(), 3);
    }
}
