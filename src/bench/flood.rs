//! `loket bench flood`: what one hostile client does to everyone else, measured on a real
//! `loket serve` (this binary, started as a child process on a fresh SQLite file, with the
//! configured classifier, normally the real model).
//!
//! 1. **Quiet**: a citizen on 127.0.0.2 sends a message every `--interval-ms`; its latency
//!    (p50, p90) is the reference.
//! 2. **Flood**: one client on 127.0.0.1 sends as fast as `--flood-concurrency` connections
//!    allow for `--seconds`, every message in a new conversation id, while the citizen goes
//!    on. Reported: the citizen's p50/p90 and their ratio to quiet, how many of the flood's
//!    requests were accepted and refused per second, `/healthz` latency.
//! 3. **Many clients at once**: `--burst-clients` clients, each on an address of its own
//!    (127.0.1.x…), send one message of the longest allowed length (4,096 characters) at the
//!    same moment; reported: the server's peak RSS before and after.
//! 4. **Sustained writes**: `--burst-clients` addresses send as fast as they are allowed for
//!    `--seconds` × 2; reported: the largest size of the data directory (database and
//!    write-ahead log) seen, and its size at the end.
//!
//! Every address is on loopback (Linux routes all of 127.0.0.0/8 to it).

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::child::Child;
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct FloodBenchArgs {
    /// Seconds of flood (the sustained-write phase takes twice as long).
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent connections of the flooding client.
    #[arg(long, default_value_t = 32)]
    pub flood_concurrency: usize,
    /// The measured citizen sends a message every this many milliseconds.
    #[arg(long, default_value_t = 500)]
    pub interval_ms: u64,
    /// Clients (addresses) that send one longest message each at the same moment.
    #[arg(long, default_value_t = 300)]
    pub burst_clients: usize,
}

const CITIZEN: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const QUESTIONS: &[&str] = &[
    "wat kost een paspoort?",
    "hoe laat is het stadhuis open?",
    "de grijze container is niet geleegd",
    "Hoe vraag ik een parkeervergunning aan voor mijn bezoek?",
];

/// The n-th address of the many-clients phases: 127.0.1.0 and up.
fn many(n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        1 + (n / 250) as u8,
        1 + (n % 250) as u8,
    ))
}

fn dir_mb(dir: &Path) -> f64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum::<u64>()
        })
        .unwrap_or(0) as f64
        / 1e6
}

fn client_on(ip: IpAddr) -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .local_address(ip)
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .build()?)
}

/// Posts one message; the status (0 on a transport error) and the latency in ms.
async fn post(c: &reqwest::Client, base: &str, conv: &str, text: &str) -> (u16, f64) {
    let t = Instant::now();
    let status = match c
        .post(format!("{base}/v1/messages"))
        .json(&serde_json::json!({"conversation_id": conv, "channel": "web", "text": text}))
        .send()
        .await
    {
        Ok(r) => {
            let s = r.status().as_u16();
            let _ = r.bytes().await;
            s
        }
        Err(_) => 0,
    };
    (status, t.elapsed().as_secs_f64() * 1000.0)
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    super::percentile(v, q)
}

/// The citizen's latencies (of 200s) while `until` is in the future.
async fn citizen(base: &str, interval: Duration, until: Instant, tag: &str) -> Result<Vec<f64>> {
    let c = client_on(IpAddr::V4(CITIZEN))?;
    let mut out = Vec::new();
    let mut i = 0usize;
    while Instant::now() < until {
        let next = Instant::now() + interval;
        // A new conversation every 5 messages keeps within the per-conversation limit.
        let conv = format!("citizen-{tag}-{}", i / 5);
        let (status, ms) = post(&c, base, &conv, QUESTIONS[i % QUESTIONS.len()]).await;
        if status == 200 {
            out.push(ms);
        }
        i += 1;
        tokio::time::sleep_until(next.into()).await;
    }
    Ok(out)
}

pub fn run(config: &Config, args: FloodBenchArgs) -> Result<i32> {
    if args.seconds == 0 || args.flood_concurrency == 0 || args.burst_clients == 0 {
        bail!("--seconds, --flood-concurrency and --burst-clients must be positive");
    }
    crate::http::listener::raise_open_files_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(bench(config, args))
}

async fn bench(config: &Config, args: FloodBenchArgs) -> Result<i32> {
    let t0 = Instant::now();
    let child = Child::start(config, "warn")?;
    println!(
        "loket serve ready in {:.1} s at {} (classifier backend {}), RSS {:.0} MB",
        t0.elapsed().as_secs_f64(),
        child.base,
        config.classifier.backend,
        child.rss_mb()
    );
    let interval = Duration::from_millis(args.interval_ms);
    let phase = Duration::from_secs(args.seconds);

    // Warm-up, then quiet.
    let _ = citizen(
        &child.base,
        interval,
        Instant::now() + Duration::from_secs(2),
        "warm",
    )
    .await?;
    let quiet = citizen(&child.base, interval, Instant::now() + phase, "quiet").await?;
    flood_phase(&child.base, &args, interval, phase, quiet).await?;
    burst_phase(&child, &args).await?;
    sustained_writes_phase(&child, &args, phase).await?;
    Ok(0)
}

/// How the flooding client's requests were answered.
#[derive(Default)]
struct FloodCounts {
    accepted: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

/// One client on [`FLOODER`], `concurrency` connections each posting as fast as it is
/// answered, every message in a new conversation, until `stop` is set.
fn spawn_flooder(
    base: &str,
    concurrency: usize,
    stop: &Arc<AtomicBool>,
) -> Result<(Vec<tokio::task::JoinHandle<()>>, Arc<FloodCounts>)> {
    let counts = Arc::new(FloodCounts::default());
    let flooder = client_on(IpAddr::V4(FLOODER))?;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (c, base, stop, counts) = (
            flooder.clone(),
            base.to_string(),
            stop.clone(),
            counts.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let conv = format!("flood-{w}-{i}");
                match post(&c, &base, &conv, QUESTIONS[i as usize % QUESTIONS.len()])
                    .await
                    .0
                {
                    200 => counts.accepted.fetch_add(1, Ordering::Relaxed),
                    429 => counts.refused.fetch_add(1, Ordering::Relaxed),
                    _ => counts.failed.fetch_add(1, Ordering::Relaxed),
                };
                i += 1;
            }
        }));
    }
    Ok((tasks, counts))
}

/// `/healthz` latencies from the citizen's address, one probe every 100 ms until `stop`.
fn spawn_health_probe(base: &str, stop: &Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<f64>> {
    let (base, stop) = (base.to_string(), stop.clone());
    tokio::spawn(async move {
        let c = client_on(IpAddr::V4(CITIZEN)).expect("client");
        let mut v = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            if c.get(format!("{base}/healthz")).send().await.is_ok() {
                v.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        v
    })
}

/// Phase 2: the citizen's latency while one client floods, against `quiet` (phase 1).
async fn flood_phase(
    base: &str,
    args: &FloodBenchArgs,
    interval: Duration,
    phase: Duration,
    mut quiet: Vec<f64>,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tasks, counts) = spawn_flooder(base, args.flood_concurrency, &stop)?;
    let health = spawn_health_probe(base, &stop);
    let flood_start = Instant::now();
    let mut flooded = citizen(base, interval, flood_start + phase, "flood").await?;
    stop.store(true, Ordering::Relaxed);
    let flood_secs = flood_start.elapsed().as_secs_f64();
    for t in tasks {
        let _ = t.await;
    }
    let mut health = health.await.unwrap_or_default();
    let (q50, q90) = (pct(&mut quiet, 0.5), pct(&mut quiet, 0.9));
    let (f50, f90) = (pct(&mut flooded, 0.5), pct(&mut flooded, 0.9));
    println!(
        "quiet:  citizen p50 {q50:.1} ms, p90 {q90:.1} ms ({} messages)",
        quiet.len()
    );
    println!(
        "flood:  citizen p50 {f50:.1} ms, p90 {f90:.1} ms ({} messages); p50 ratio {:.2}, p90 ratio {:.2}",
        flooded.len(),
        f50 / q50,
        f90 / q90
    );
    println!(
        "flood:  one client, {} connections, new conversation id per message: {:.0}/s accepted, {:.0}/s refused (429), {} other; /healthz p50 {:.1} ms, max {:.1} ms",
        args.flood_concurrency,
        counts.accepted.load(Ordering::Relaxed) as f64 / flood_secs,
        counts.refused.load(Ordering::Relaxed) as f64 / flood_secs,
        counts.failed.load(Ordering::Relaxed),
        pct(&mut health, 0.5),
        health.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// Phase 3: many clients, each on an address of its own, send the longest message allowed
/// at the same moment.
async fn burst_phase(child: &Child, args: &FloodBenchArgs) -> Result<()> {
    let before = child.peak_rss_mb();
    let long: String = "Ik heb een vraag over mijn paspoort en de kosten daarvan. "
        .chars()
        .cycle()
        .take(4096)
        .collect();
    let mut burst = Vec::new();
    let gate = Arc::new(tokio::sync::Barrier::new(args.burst_clients));
    for n in 0..args.burst_clients {
        let (c, base, long, gate) = (
            client_on(many(n))?,
            child.base.clone(),
            long.clone(),
            gate.clone(),
        );
        burst.push(tokio::spawn(async move {
            gate.wait().await;
            post(&c, &base, &format!("long-{n}"), &long).await.0
        }));
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for b in burst {
        *statuses.entry(b.await.unwrap_or(0)).or_default() += 1;
    }
    println!(
        "burst:  {} clients x 4,096 characters at once: statuses {statuses:?}; server peak RSS {before:.0} MB before, {:.0} MB after",
        args.burst_clients,
        child.peak_rss_mb()
    );
    Ok(())
}

/// Phase 4: sustained writes from many addresses for twice `phase`, watching the size of
/// the data directory.
async fn sustained_writes_phase(
    child: &Child,
    args: &FloodBenchArgs,
    phase: Duration,
) -> Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let tasks = spawn_writers(&child.base, args, &stop, &written)?;
    let start = Instant::now();
    let mut largest: f64 = 0.0;
    while start.elapsed() < phase * 2 {
        largest = largest.max(dir_mb(&child.data_dir));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "writes: {:.0} turns/s for {} s from {} addresses: data directory at most {largest:.1} MB, {:.1} MB after; server peak RSS {:.0} MB",
        written.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64(),
        phase.as_secs() * 2,
        args.burst_clients,
        dir_mb(&child.data_dir),
        child.peak_rss_mb()
    );
    Ok(())
}

/// `--flood-concurrency` writers taking turns over `--burst-clients` addresses, so each
/// address stays within what it is allowed; `written` counts the accepted turns.
fn spawn_writers(
    base: &str,
    args: &FloodBenchArgs,
    stop: &Arc<AtomicBool>,
    written: &Arc<AtomicU64>,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let clients: Vec<reqwest::Client> = (0..args.burst_clients)
        .map(|n| client_on(many(n)))
        .collect::<Result<_>>()?;
    let clients = Arc::new(clients);
    let concurrency = args.flood_concurrency;
    let mut tasks = Vec::new();
    for w in 0..concurrency {
        let (clients, base, stop, written) = (
            clients.clone(),
            base.to_string(),
            stop.clone(),
            written.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let c = &clients[i % clients.len()];
                let conv = format!("sustained-{w}-{i}");
                if post(c, &base, &conv, QUESTIONS[i % QUESTIONS.len()])
                    .await
                    .0
                    == 200
                {
                    written.fetch_add(1, Ordering::Relaxed);
                }
                i += concurrency;
            }
        }));
    }
    Ok(tasks)
}
