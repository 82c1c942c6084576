//! `loket bench`: the classifier's figures on this machine: start-up time to ready, latency of
//! one message at batch 1 (tokenise + encode + head), throughput with batching through the
//! worker, peak RSS, and for each weight format the cosine to the f32 embeddings.
//!
//! `loket bench webhooks`: acknowledgement latency of the WhatsApp webhook ([`webhooks`]).
//! `loket bench flood`: what one hostile client does to the others ([`flood`]).
//! `loket bench neighbour`: batch-1 latency quiet and beside busy processes ([`neighbour`]).
//! `loket bench municipalities`: many municipalities on generated content ([`municipalities`]).

pub mod child;
pub mod flood;
pub mod generated;
pub mod municipalities;
pub mod neighbour;
pub mod webhooks;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::app;
use crate::classifier::{self, EmbedWorker, Encoder, WeightFormat, encoder::cosine};
use crate::config::Config;
use crate::understand::Snapshot;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// Messages timed at batch 1.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Messages sent concurrently through the worker for the throughput figure.
    #[arg(long, default_value_t = 1000)]
    pub throughput_messages: usize,
    /// Compare the weight formats (f32, q8_0, q4_0): latency and cosine to f32.
    #[arg(long)]
    pub compare_formats: bool,
    /// Start-ups timed of each kind (first start, restart, after a content change), each
    /// series in an empty cache directory of its own, after the figures above; medians are
    /// reported. 0 skips them.
    #[arg(long, default_value_t = 3)]
    pub startup_runs: usize,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// WhatsApp webhook acknowledgement latency at a fixed rate, with Loket and a fake Graph
    /// API in this process; also how long the queue takes to drain.
    Webhooks(webhooks::WebhookBenchArgs),
    /// One client flooding with new conversation ids, many clients sending the longest
    /// messages at once, sustained writes: another citizen's latency, the server's memory and
    /// its data directory, on `loket serve` started as a child process.
    Flood(flood::FloodBenchArgs),
    /// Batch-1 latency quiet and beside busy neighbour processes (spinning children of the
    /// bench), in alternating rounds: p50 / p90 and their ratios.
    Neighbour(neighbour::NeighbourArgs),
    /// Many municipalities on generated content (a national library beside each one's own
    /// entries): first start, restart, one municipality's reload without a pause for the
    /// others, memory in all and per further municipality, and a message's latency.
    Municipalities(municipalities::MunicipalitiesBenchArgs),
}

/// Realistic citizen messages of varied length (not from the held-out test set).
const MESSAGES: &[&str] = classifier::SAMPLE_MESSAGES;

fn peak_rss_mb() -> f64 {
    proc_status_mb("self", "VmHWM:")
}

/// A memory figure (`VmHWM:`, `VmRSS:`) of process `pid` (or `self`) in MB, from
/// `/proc/<pid>/status`; NaN where there is none.
pub(crate) fn proc_status_mb(pid: &str, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// The `q` quantile of sorted values (nearest rank); NaN for none.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// One start-up to ready (content, encoder, embeddings, head, fusion, index) with `config`'s
/// cache, in seconds.
fn start_up(config: &Config) -> Result<(f64, Arc<dyn classifier::Embed>, Snapshot)> {
    let t0 = Instant::now();
    let kb = crate::content::load_knowledge(config, &config.paths.knowledge_base)?;
    let embedder = app::load_embedder(config)?;
    let snap = crate::content::build_snapshot(config, kb, embedder.as_ref())?;
    Ok((t0.elapsed().as_secs_f64(), embedder, snap))
}

/// Times start-up to ready in `runs` series, each in an empty cache directory of its own:
/// the first start on a new machine (nothing cached: every text encoded, the head trained),
/// a restart (embeddings and head read from the cache) and a start after a content change
/// (the head trained again; only changed texts would be encoded, here none).
fn time_startups(config: &Config, runs: usize) -> Result<()> {
    let (mut first, mut restart, mut changed) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        let dir =
            std::env::temp_dir().join(format!("loket-bench-cache-{}-{run}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cfg = config.clone();
        cfg.paths.cache_dir = Some(dir.clone());
        first.push(start_up(&cfg)?.0);
        restart.push(start_up(&cfg)?.0);
        for f in std::fs::read_dir(&dir)?.flatten() {
            if f.file_name().to_string_lossy().starts_with("head-") {
                std::fs::remove_file(f.path())?;
            }
        }
        changed.push(start_up(&cfg)?.0);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let show = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        format!(
            "{:.2} s ({:.2}-{:.2})",
            percentile(v, 0.5),
            v[0],
            v[v.len() - 1]
        )
    };
    println!(
        "start-up to ready, median (min-max) of {runs}: first start {}, restart {}, after a content change {}",
        show(&mut first),
        show(&mut restart),
        show(&mut changed)
    );
    Ok(())
}

pub fn run(config: &Config, args: BenchArgs) -> Result<i32> {
    match args.command {
        Some(BenchCommand::Webhooks(args)) => return webhooks::run(config, args),
        Some(BenchCommand::Flood(args)) => return flood::run(config, args),
        Some(BenchCommand::Neighbour(args)) => return neighbour::run(config, args),
        Some(BenchCommand::Municipalities(args)) => return municipalities::run(config, args),
        None => {}
    }
    app::init_tracing("pretty");
    classifier::init_threads(config.classifier.threads);
    println!(
        "machine: {} cores; RAYON_NUM_THREADS={}; int8 kernel {}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        std::env::var("RAYON_NUM_THREADS").unwrap_or_default(),
        classifier::int8::Kernel::selected().map_or_else(|e| e, |k| k.name().to_string())
    );
    if args.compare_formats {
        compare_formats(config, args.iterations)?;
    }

    let (t, embedder, snap) = start_up(config)?;
    println!(
        "start-up to ready with the configured cache ({}): {t:.2} s",
        config.cache_dir().display()
    );
    time_faq_index_build(&snap)?;
    time_batch_one(embedder.as_ref(), &snap, args.iterations)?;
    let snap = Arc::new(snap);
    time_throughput(config, &embedder, &snap, args.throughput_messages)?;
    println!("peak RSS: {:.0} MB", peak_rss_mb());
    // Released before the start-ups are timed, which load the model again each time.
    drop((snap, embedder));
    if args.startup_runs > 0 {
        time_startups(config, args.startup_runs)?;
    }
    Ok(0)
}

/// For each weight format: batch-1 latency, the size of the weights and the smallest
/// cosine of its embeddings to those of f32 over [`MESSAGES`].
fn compare_formats(config: &Config, iterations: usize) -> Result<()> {
    let dir = config.model_dir();
    let load = |format| {
        Encoder::load(
            &dir,
            format,
            config.classifier.max_tokens,
            config.classifier.threads,
        )
    };
    // The reference is dropped before the formats are loaded, so two models are never held.
    let ref_vecs = load(WeightFormat::F32)?.embed(MESSAGES)?;
    for format in [
        WeightFormat::F32,
        WeightFormat::Q8_0,
        WeightFormat::Q4_0,
        WeightFormat::Int8,
    ] {
        let enc = load(format)?;
        let vecs = enc.embed(MESSAGES)?;
        let min_cos = vecs
            .iter()
            .zip(&ref_vecs)
            .map(|(a, b)| cosine(a, b))
            .fold(1.0f32, f32::min);
        let mut lat = Vec::new();
        for i in 0..iterations.min(100) {
            let t = Instant::now();
            enc.embed(&[MESSAGES[i % MESSAGES.len()]])?;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "format {:?}: batch-1 p50 {:.2} ms, p99 {:.2} ms; linear weights + embeddings {:.0} MB; min cosine to f32 {:.5}",
            format,
            percentile(&lat, 0.5),
            percentile(&lat, 0.99),
            enc.weight_bytes() as f64 / 1e6,
            min_cos
        );
    }
    Ok(())
}

/// The FAQ index at 1,000 entries: the bundled entries repeated with new ids.
fn time_faq_index_build(snap: &Snapshot) -> Result<()> {
    let mut entries = Vec::with_capacity(1000);
    while entries.len() < 1000 {
        for e in &snap.kb.entries {
            if entries.len() == 1000 {
                break;
            }
            let mut e = e.clone();
            e.id = format!("{}-{}", e.id, entries.len());
            entries.push(e);
        }
    }
    let mut builds = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        crate::search::FaqIndex::build(&entries)?;
        builds.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    builds.sort_by(f64::total_cmp);
    println!(
        "FAQ index build, 1,000 entries: median {:.0} ms (5 builds)",
        builds[2]
    );
    Ok(())
}

/// Batch-1 latencies in ms, sorted, over `n` of [`MESSAGES`]: tokenise + encode + head,
/// and (with `understand_on`, else empty) up to the end of FAQ search and fusion as well.
fn batch_one_latencies(
    embedder: &dyn classifier::Embed,
    snap: &Snapshot,
    n: usize,
    understand_on: Option<chrono::NaiveDate>,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut lat, mut lat_full) = (Vec::with_capacity(n), Vec::new());
    for i in 0..n {
        let m = MESSAGES[i % MESSAGES.len()];
        let t = Instant::now();
        let v = embedder.embed(&[m])?.remove(0);
        snap.head.predict(&v, m);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        if let Some(today) = understand_on {
            snap.understand(m, &v, None, today);
            lat_full.push(t.elapsed().as_secs_f64() * 1000.0);
        }
    }
    lat.sort_by(f64::total_cmp);
    lat_full.sort_by(f64::total_cmp);
    Ok((lat, lat_full))
}

/// Batch 1: tokenise + encode + head, as one citizen's message; then with FAQ search and
/// fusion as well.
pub(crate) fn time_batch_one(
    embedder: &dyn classifier::Embed,
    snap: &Snapshot,
    iterations: usize,
) -> Result<()> {
    let today = Utc::now().date_naive();
    // One pass untimed, so first-call costs (allocations, caches) stay out of the figures.
    for m in MESSAGES {
        let v = embedder.embed(&[m])?.remove(0);
        snap.head.predict(&v, m);
    }
    let (lat, lat_full) = batch_one_latencies(embedder, snap, iterations, Some(today))?;
    println!(
        "batch 1 (tokenise + encode + head), {} messages: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        iterations,
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99)
    );
    println!(
        "batch 1 incl. FAQ search and fusion: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&lat_full, 0.5),
        percentile(&lat_full, 0.99)
    );
    Ok(())
}

/// Throughput: `n` concurrent messages through the batching worker.
fn time_throughput(
    config: &Config,
    embedder: &Arc<dyn classifier::Embed>,
    snap: &Arc<Snapshot>,
    n: usize,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    // Room for every message at once: the figure is throughput, not the 429 of a full queue.
    let worker = EmbedWorker::start(embedder.clone(), n + 1, config.classifier.max_batch);
    let elapsed = rt.block_on(async {
        let t = Instant::now();
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let w = worker.clone();
            let s = snap.clone();
            tasks.push(tokio::spawn(async move {
                let v = w.embed(MESSAGES[i % MESSAGES.len()]).await.expect("worker");
                s.head.predict(&v, MESSAGES[i % MESSAGES.len()]);
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        t.elapsed()
    });
    let batches = worker
        .stats
        .batches
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "throughput: {} messages in {:.2} s = {:.0} messages/s (max batch {}, {} batches)",
        n,
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        config.classifier.max_batch,
        batches
    );
    Ok(())
}
