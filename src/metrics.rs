//! Prometheus metrics (served at `GET /metrics` by [`crate::http::metrics`]), in the text
//! exposition format 0.0.4, written by hand
//! (a handful of counters and histograms does not need a library).
//!
//! Labels never carry personal data: routes are axum's route templates
//! (`/v1/conversations/{id}`), channels and actions come from fixed lists, departments from
//! the municipality's settings. Counters live in one process-wide registry; gauges that
//! describe the current state (queue depth, waiting handoffs, content version) are read at
//! scrape time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the HTTP latency buckets.
const HTTP_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Upper bounds (seconds) of the encoder time buckets.
const CLASSIFIER_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Channels and actions that may appear as label values; anything else is `other`.
const CHANNELS: [&str; 4] = ["web", "whatsapp", "test", "cli"];

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    /// Cumulative counts are computed at render time; these are per bucket (+Inf last).
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i] += 1;
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (i, b) in self.bounds.iter().enumerate() {
            cumulative += self.counts[i];
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        cumulative += self.counts[self.bounds.len()];
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

#[derive(Debug)]
struct Registry {
    /// (route, method, status) → requests.
    http_requests: BTreeMap<(String, String, u16), u64>,
    http_duration: BTreeMap<String, Histogram>,
    classifier: Histogram,
    /// (action, channel) → replies.
    /// (action, channel, municipality slug).
    outcomes: BTreeMap<(String, String, String), u64>,
    reload_errors: u64,
    webhook_unrouted: u64,
    /// Connections closed at once (per-address or total cap).
    refused_connections: u64,
    /// Parts of WhatsApp webhook deliveries that could not be read, by part.
    webhook_skipped: BTreeMap<&'static str, u64>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(|| {
    Mutex::new(Registry {
        http_requests: BTreeMap::new(),
        http_duration: BTreeMap::new(),
        classifier: Histogram::new(&CLASSIFIER_BUCKETS),
        outcomes: BTreeMap::new(),
        reload_errors: 0,
        webhook_unrouted: 0,
        refused_connections: 0,
        webhook_skipped: BTreeMap::new(),
    })
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves plain numbers behind: keep counting.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts a connection closed at accept because its address (or the server) had too many.
pub fn record_refused_connection() {
    registry().refused_connections += 1;
}

/// Counts a part of a WhatsApp webhook delivery that could not be read and was skipped
/// (`message`, `status`, `change` or `entry`).
pub fn record_webhook_skipped(part: &'static str) {
    *registry().webhook_skipped.entry(part).or_default() += 1;
}

/// Counts one reply by its action and the channel it went to.
/// A reply of the municipality `municipality` (a slug from the registry: a bounded set).
pub fn record_outcome(action: &str, channel: &str, municipality: &str) {
    let channel = if CHANNELS.contains(&channel) {
        channel
    } else {
        "other"
    };
    // Besides the dialogue's actions: `media` (a photo, voice message, …) and `agent` (a
    // person owns the conversation, the bot stayed silent).
    let action = if matches!(action, "media" | "agent")
        || crate::knowledge::Action::ALL
            .iter()
            .any(|a| a.as_str() == action)
    {
        action
    } else {
        "other"
    };
    *registry()
        .outcomes
        .entry((
            action.to_string(),
            channel.to_string(),
            municipality.to_string(),
        ))
        .or_default() += 1;
}

/// Time the encoder spent on one batch.
pub fn record_classifier(elapsed: Duration) {
    registry().classifier.observe(elapsed.as_secs_f64());
}

/// Counts a content reload that failed (the previous version kept serving).
pub fn record_reload_error() {
    registry().reload_errors += 1;
}

/// A WhatsApp message to a number no municipality of this Loket has.
pub fn record_webhook_unrouted() {
    registry().webhook_unrouted += 1;
}

pub fn record_http(route: &str, method: &str, status: u16, elapsed: Duration) {
    let mut r = registry();
    *r.http_requests
        .entry((route.to_string(), method.to_string(), status))
        .or_default() += 1;
    r.http_duration
        .entry(route.to_string())
        .or_insert_with(|| Histogram::new(&HTTP_BUCKETS))
        .observe(elapsed.as_secs_f64());
}

/// Label values are route templates and fixed words, but escape them all the same.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Gauges read from the running service when scraped.
#[derive(Debug, Default, Clone)]
pub struct Live {
    pub queue_depth: usize,
    pub handoffs_waiting: Vec<(String, i64)>,
    pub content_version: u64,
}

/// The `# HELP` and `# TYPE` lines that open a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One sample per label value: `name{label="value"} n`.
fn by_label<'a>(
    out: &mut String,
    name: &str,
    label: &str,
    rows: impl Iterator<Item = (&'a str, u64)>,
) {
    for (value, n) in rows {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {n}", esc(value));
    }
}

/// The HTTP request counters and durations, by route template.
fn render_http(out: &mut String, r: &Registry) {
    family(
        out,
        "loket_http_requests_total",
        "counter",
        "HTTP requests by route template, method and status.",
    );
    for ((route, method, status), n) in &r.http_requests {
        let _ = writeln!(
            out,
            "loket_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{status}\"}} {n}",
            esc(route),
            esc(method)
        );
    }

    family(
        out,
        "loket_http_request_duration_seconds",
        "histogram",
        "Time to answer HTTP requests, by route template.",
    );
    for (route, h) in &r.http_duration {
        h.render(
            out,
            "loket_http_request_duration_seconds",
            &format!("route=\"{}\"", esc(route)),
        );
    }
}

/// The whole exposition text.
pub fn render(live: &Live) -> String {
    let r = registry();
    let mut out = String::with_capacity(4096);
    render_http(&mut out, &r);

    family(
        &mut out,
        "loket_classifier_duration_seconds",
        "histogram",
        "Time in the encoder per batch of messages.",
    );
    r.classifier
        .render(&mut out, "loket_classifier_duration_seconds", "");

    family(
        &mut out,
        "loket_classifier_queue_depth",
        "gauge",
        "Messages waiting for the encoder.",
    );
    let _ = writeln!(out, "loket_classifier_queue_depth {}", live.queue_depth);

    family(
        &mut out,
        "loket_outcomes_total",
        "counter",
        "Replies by action, channel and municipality.",
    );
    for ((action, channel, municipality), n) in &r.outcomes {
        let _ = writeln!(
            out,
            "loket_outcomes_total{{action=\"{}\",channel=\"{}\",municipality=\"{}\"}} {n}",
            esc(action),
            esc(channel),
            esc(municipality)
        );
    }

    family(
        &mut out,
        "loket_handoffs_waiting",
        "gauge",
        "Conversations waiting for a person, by department.",
    );
    let waiting = live
        .handoffs_waiting
        .iter()
        .map(|(d, n)| (d.as_str(), *n as u64));
    by_label(&mut out, "loket_handoffs_waiting", "department", waiting);

    family(
        &mut out,
        "loket_content_version",
        "gauge",
        "Version of the knowledge base being served (1 at start, +1 per reload).",
    );
    let _ = writeln!(out, "loket_content_version {}", live.content_version);

    family(
        &mut out,
        "loket_content_reload_errors_total",
        "counter",
        "Reloads of the knowledge base that failed.",
    );
    let _ = writeln!(out, "loket_content_reload_errors_total {}", r.reload_errors);
    family(
        &mut out,
        "loket_whatsapp_unrouted_total",
        "counter",
        "WhatsApp messages to a number that no municipality here has (not answered).",
    );
    let _ = writeln!(out, "loket_whatsapp_unrouted_total {}", r.webhook_unrouted);
    family(
        &mut out,
        "loket_whatsapp_webhook_skipped_total",
        "counter",
        "Parts of WhatsApp webhook deliveries that could not be read and were skipped, by part.",
    );
    let skipped = r.webhook_skipped.iter().map(|(p, n)| (*p, *n));
    by_label(
        &mut out,
        "loket_whatsapp_webhook_skipped_total",
        "part",
        skipped,
    );
    family(
        &mut out,
        "loket_http_connections_refused_total",
        "counter",
        "Connections closed at once: too many from one address, or in all.",
    );
    let _ = writeln!(
        out,
        "loket_http_connections_refused_total {}",
        r.refused_connections
    );
    drop(r);
    let _ = writeln!(
        out,
        "# HELP loket_build_info The running build.\n# TYPE loket_build_info gauge\n\
         loket_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    process_metrics(&mut out);
    out
}

/// The standard `process_*` metrics (as Prometheus client libraries name them), from
/// `/proc/self`; absent where there is no `/proc`.
fn process_metrics(out: &mut String) {
    // SAFETY: sysconf reads a constant of the system.
    let (ticks, page) = unsafe {
        (
            libc::sysconf(libc::_SC_CLK_TCK) as f64,
            libc::sysconf(libc::_SC_PAGESIZE) as f64,
        )
    };
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return;
    };
    // Fields after the command name (which may hold spaces) closed by the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
    });
    let mut gauge = |name: &str, kind: &str, help: &str, value: Option<f64>| {
        if let Some(v) = value {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
            );
        }
    };
    gauge(
        "process_cpu_seconds_total",
        "counter",
        "User and system CPU time spent in seconds.",
        field(14).zip(field(15)).map(|(u, s)| (u + s) / ticks),
    );
    gauge(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        field(24).map(|p| p * page),
    );
    gauge(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        field(23),
    );
    gauge(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since the Unix epoch in seconds.",
        boot.zip(field(22)).map(|(b, t)| b + t / ticks),
    );
    gauge(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as f64),
    );
    gauge(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        std::fs::read_to_string("/proc/self/limits")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Max open files"))
                    .and_then(|l| l.split_whitespace().nth(3)?.parse().ok())
            }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_end_with_inf() {
        let mut h = Histogram::new(&HTTP_BUCKETS);
        h.observe(0.003);
        h.observe(0.2);
        h.observe(99.0);
        let mut out = String::new();
        h.render(&mut out, "x", "route=\"/a\"");
        assert!(
            out.contains("x_bucket{route=\"/a\",le=\"0.005\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"/a\",le=\"0.25\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("x_bucket{route=\"/a\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("x_count{route=\"/a\"} 3\n"), "{out}");
    }

    #[test]
    fn unknown_channels_and_actions_become_other() {
        record_outcome("answer", "sms-0612345678", "zeestad");
        record_outcome("bogus", "web", "zeestad");
        let text = render(&Live::default());
        assert!(text.contains(
            "loket_outcomes_total{action=\"answer\",channel=\"other\",municipality=\"zeestad\"}"
        ));
        assert!(text.contains(
            "loket_outcomes_total{action=\"other\",channel=\"web\",municipality=\"zeestad\"}"
        ));
        assert!(!text.contains("0612345678"));
    }
}
