//! `loket bench webhooks`: how fast the WhatsApp webhook is acknowledged under load.
//!
//! Starts Loket in this process on a fresh SQLite file in a temporary directory, with
//! WhatsApp enabled against an in-process [`FakeGraph`] (so replies are really decided and
//! sent), then sends signed text webhooks over loopback at a fixed rate. The load is
//! open-loop: request *i* is scheduled at `start + i / rate` whatever happened to the ones
//! before, and its latency is measured from that scheduled time (a stalled server cannot
//! hide its stall by slowing the sender down). Prints p50/p90/p99/max acknowledgement
//! latency, the answers that were not 200, and how long the queue took to drain.
//!
//! The acknowledgement only persists the message; understanding it happens afterwards, so
//! the latency should not depend on the classifier (compare `LOKET__CLASSIFIER__BACKEND=e5`
//! with `hashing`). With `--url` the webhooks go to a Loket that is already running (signed
//! with `whatsapp.app_secret` of the configuration) and only the acknowledgement is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::channels::whatsapp::fake::FakeGraph;
use crate::channels::whatsapp::{signature, webhook};
use crate::config::{Config, Secret};
use crate::store::OutboxStatus;

#[derive(clap::Args, Debug)]
pub struct WebhookBenchArgs {
    /// Webhooks per second (one message each).
    #[arg(long, default_value_t = 200)]
    pub rate: u32,
    /// How long to send.
    #[arg(long, default_value_t = 10)]
    pub seconds: u32,
    /// Distinct citizens the messages come from (in turn).
    #[arg(long, default_value_t = 200)]
    pub citizens: usize,
    /// A running Loket to send to instead of one started in this process (no drain figure).
    #[arg(long)]
    pub url: Option<String>,
    /// Database of the Loket started here (default: a fresh SQLite file in a temporary
    /// directory); use an empty PostgreSQL database, the run leaves its rows behind.
    #[arg(long, env = "LOKET_BENCH_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Seconds to wait for the queue to drain after the last webhook.
    #[arg(long, default_value_t = 600)]
    pub drain_timeout: u64,
}

const PHONE_NUMBER_ID: &str = "bench-phone-number";
const APP_SECRET: &str = "bench-app-secret";

const MESSAGES: &[&str] = &[
    "wat kost een paspoort?",
    "hoe laat is het stadhuis open?",
    "de grijze container is niet geleegd",
    "Hoe vraag ik een parkeervergunning aan voor mijn bezoek?",
    "mijn rijbewijs verloopt binnenkort, wat moet ik doen",
    "ik ga verhuizen, hoe geef ik mijn nieuwe adres door?",
];

/// A temporary data directory, removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Loket in this process, against the fake Graph API.
struct Local {
    base_url: String,
    store: Arc<crate::store::SqlStore>,
    fake: FakeGraph,
    _dir: TempDir,
}

async fn start_local(config: &Config, database_url: Option<&str>) -> Result<Local> {
    let dir = std::env::temp_dir().join(format!(
        "loket-bench-webhooks-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = TempDir(dir);
    let fake = FakeGraph::start("127.0.0.1:0").await?;
    let mut cfg = config.clone();
    // The embedding cache stays where it was, so the model need not encode the examples.
    cfg.paths.cache_dir = Some(config.cache_dir());
    cfg.paths.data_dir = dir.0.clone();
    cfg.database.url = Secret::new(database_url.unwrap_or_default());
    cfg.whatsapp.enabled = true;
    cfg.whatsapp.base_url = fake.base_url();
    cfg.whatsapp.access_token = Secret::new("bench-access-token");
    cfg.whatsapp.app_secret = Secret::new(APP_SECRET);
    cfg.whatsapp.phone_number_id = PHONE_NUMBER_ID.into();
    let cfg = Arc::new(cfg);
    let app = crate::app::Builder::shared(cfg)
        .without_watch()
        .build()
        .await?;
    let store = app.store().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    // Served until the process exits.
    tokio::spawn(app.serve(listener, std::future::pending()));
    Ok(Local {
        base_url: format!("http://{addr}"),
        store,
        fake,
        _dir: dir,
    })
}

use super::percentile;

pub fn run(config: &Config, args: WebhookBenchArgs) -> Result<i32> {
    use tracing_subscriber::EnvFilter;
    // Quiet by default: a log line per request would be part of what is measured.
    let filter = EnvFilter::try_from_env("LOKET_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    if args.rate == 0 || args.seconds == 0 || args.citizens == 0 {
        bail!("--rate, --seconds and --citizens must be positive");
    }
    crate::classifier::init_threads(config.classifier.threads);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
        .enable_all()
        .build()?;
    rt.block_on(bench(config, args))
}

async fn bench(config: &Config, args: WebhookBenchArgs) -> Result<i32> {
    let t_start = Instant::now();
    let local = match &args.url {
        Some(_) => None,
        None => Some(start_local(config, args.database_url.as_deref()).await?),
    };
    let target = Target::new(config, &args, local.as_ref());
    if local.is_some() {
        println!(
            "Loket in this process (classifier backend {}, {}, ready in {:.2} s), fake Graph \
             API; outbound rate limit {} messages/s",
            config.classifier.backend,
            if args.database_url.is_some() {
                "the given database"
            } else {
                "a fresh SQLite file"
            },
            t_start.elapsed().as_secs_f64(),
            config.whatsapp.rate_limit_per_sec
        );
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()?;
    let total = (args.rate as usize) * (args.seconds as usize);
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    // Bodies are built and signed up front, so the schedule only sends.
    let bodies: Vec<(String, String)> = (0..total)
        .map(|i| {
            target.signed(
                &format!("3169{:07}", i % args.citizens),
                &format!("wamid.bench-{run_id}-{i}"),
                MESSAGES[(i / args.citizens) % MESSAGES.len()],
            )
        })
        .collect();
    // One warm-up request (connection set-up, first database write) outside the figures.
    send_warm_up(&client, &target, &run_id).await?;

    println!(
        "sending {total} webhooks at {} /s for {} s (open loop) to {}",
        args.rate, args.seconds, target.url
    );
    let mut acks = send_open_loop(&client, &target.url, bodies, args.rate).await?;
    let sent_done = Instant::now();
    acks.print(total);

    let Some(local) = local else {
        println!("drain: not measured (a Loket outside this process)");
        return Ok(0);
    };
    let replies = wait_for_drain(&local, args.drain_timeout).await?;
    let counts: Vec<(&str, i64)> = local
        .store
        .outbox_counts()
        .await?
        .into_iter()
        .map(|(s, n)| (s.as_str(), n))
        .collect();
    println!(
        "drained {:.2} s after the last acknowledgement ({:.2} s after the first webhook); \
         replies accepted by the fake Graph API: {replies}; outbox {:?}",
        sent_done.elapsed().as_secs_f64(),
        (Instant::now() - acks.start.into_std()).as_secs_f64(),
        counts
    );
    Ok(0)
}

/// Where the webhooks go and how they are signed: the Loket started here, or the one at
/// `--url` with the configured secret and phone number id.
struct Target {
    /// The webhook's URL.
    url: String,
    secret: String,
    phone_number_id: String,
}

impl Target {
    fn new(config: &Config, args: &WebhookBenchArgs, local: Option<&Local>) -> Target {
        let (base_url, secret) = match (&args.url, local) {
            (Some(url), _) => (
                url.trim_end_matches('/').to_string(),
                config.whatsapp.app_secret.expose().to_string(),
            ),
            (None, Some(l)) => (l.base_url.clone(), APP_SECRET.to_string()),
            (None, None) => unreachable!(),
        };
        let phone_number_id = match &args.url {
            Some(_) if !config.whatsapp.phone_number_id.is_empty() => {
                config.whatsapp.phone_number_id.clone()
            }
            _ => PHONE_NUMBER_ID.to_string(),
        };
        Target {
            url: format!("{base_url}/webhooks/whatsapp"),
            secret,
            phone_number_id,
        }
    }

    /// An inbound text webhook from `from` and its signature.
    fn signed(&self, from: &str, message_id: &str, text: &str) -> (String, String) {
        let body = webhook::inbound_text_payload(
            &self.phone_number_id,
            from,
            "Bench Inwoner",
            message_id,
            text,
            chrono::Utc::now().timestamp(),
        );
        let sig = signature::sign(self.secret.as_bytes(), body.as_bytes());
        (body, sig)
    }
}

/// One webhook that must be acknowledged with 200 before the figures start.
async fn send_warm_up(client: &reqwest::Client, target: &Target, run_id: &str) -> Result<()> {
    let (warm, warm_sig) = target.signed(
        "31690000000",
        &format!("wamid.bench-{run_id}-warm"),
        "hallo",
    );
    let status = client
        .post(&target.url)
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", warm_sig)
        .body(warm)
        .send()
        .await
        .context("the warm-up webhook")?
        .status();
    if status != reqwest::StatusCode::OK {
        bail!("the warm-up webhook was answered {status}");
    }
    Ok(())
}

/// What the webhooks were answered, and when.
struct Acks {
    /// When the first webhook was scheduled.
    start: tokio::time::Instant,
    /// How far the sender fell behind its schedule at worst.
    max_lag: Duration,
    /// Of the 200s, ms from the scheduled send time.
    latencies: Vec<f64>,
    /// Of the 200s, ms from the moment the request was actually sent.
    service: Vec<f64>,
    /// Other statuses (and "error" for no answer), counted.
    not_ok: std::collections::BTreeMap<String, usize>,
}

/// Sends `bodies` open loop: body *i* at `start + i / rate`, whatever happened to the ones
/// before, and waits for every answer.
async fn send_open_loop(
    client: &reqwest::Client,
    url: &str,
    bodies: Vec<(String, String)>,
    rate: u32,
) -> Result<Acks> {
    let total = bodies.len();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = Vec::with_capacity(total);
    let mut max_lag = Duration::ZERO;
    for (i, (body, sig)) in bodies.into_iter().enumerate() {
        let at = start + interval * i as u32;
        tokio::time::sleep_until(at).await;
        max_lag = max_lag.max(tokio::time::Instant::now() - at);
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let sent = tokio::time::Instant::now();
            let result = client
                .post(&url)
                .header("content-type", "application/json")
                .header("X-Hub-Signature-256", sig)
                .body(body)
                .send()
                .await;
            let now = tokio::time::Instant::now();
            let latency = (now - at).as_secs_f64() * 1000.0;
            let service = (now - sent).as_secs_f64() * 1000.0;
            (result.map(|r| r.status().as_u16()).ok(), latency, service)
        }));
    }
    let mut acks = Acks {
        start,
        max_lag,
        latencies: Vec::with_capacity(total),
        service: Vec::with_capacity(total),
        not_ok: Default::default(),
    };
    for t in tasks {
        let (status, ms, service_ms) = t.await?;
        match status {
            Some(200) => {
                acks.latencies.push(ms);
                acks.service.push(service_ms);
            }
            Some(s) => *acks.not_ok.entry(s.to_string()).or_default() += 1,
            None => *acks.not_ok.entry("error".into()).or_default() += 1,
        }
    }
    Ok(acks)
}

impl Acks {
    /// Prints how many of `total` were acknowledged and the latency percentiles.
    fn print(&mut self, total: usize) {
        let (latencies, service) = (&mut self.latencies, &mut self.service);
        latencies.sort_by(f64::total_cmp);
        service.sort_by(f64::total_cmp);
        let send_secs = (tokio::time::Instant::now() - self.start).as_secs_f64();
        println!(
            "acknowledged: {} of {total} in {send_secs:.2} s; not 200: {} {:?}",
            latencies.len(),
            self.not_ok.values().sum::<usize>(),
            self.not_ok
        );
        println!(
            "acknowledgement latency (from the scheduled send time): p50 {:.2} ms, p90 {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms; the sender fell behind its schedule by at most {:.2} ms",
            percentile(latencies, 0.5),
            percentile(latencies, 0.9),
            percentile(latencies, 0.99),
            latencies.last().copied().unwrap_or(f64::NAN),
            self.max_lag.as_secs_f64() * 1000.0
        );
        println!(
            "  from the moment the request was actually sent: p50 {:.2} ms, p90 {:.2} ms, \
             p99 {:.2} ms, max {:.2} ms",
            percentile(service, 0.5),
            percentile(service, 0.9),
            percentile(service, 0.99),
            service.last().copied().unwrap_or(f64::NAN),
        );
    }
}

/// Waits until no inbound message and no reply is left in the queues; the replies the fake
/// Graph API accepted (read receipts not counted).
async fn wait_for_drain(local: &Local, timeout_secs: u64) -> Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(timeout_secs);
    loop {
        let inbox = local.store.inbox_pending().await?;
        let outbox: i64 = local
            .store
            .outbox_counts()
            .await?
            .iter()
            .filter(|(s, _)| matches!(s, OutboxStatus::Pending | OutboxStatus::Sending))
            .map(|(_, n)| n)
            .sum();
        if inbox == 0 && outbox == 0 {
            return Ok(local
                .fake
                .received()
                .iter()
                .filter(|r| r.body["status"] != "read")
                .count());
        }
        if Instant::now() > deadline {
            bail!(
                "the queue did not drain within {timeout_secs} s: {inbox} inbound messages and \
                 {outbox} replies left"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
