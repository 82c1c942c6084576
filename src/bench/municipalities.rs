//! `loket bench municipalities`: what many municipalities cost one Loket, on generated
//! content ([`generated`]: `--municipalities` folders × `--local` own entries beside a
//! national library of at least `--library` entries), served by a real `loket serve`
//! (this binary as a child process, SQLite, the configured model).
//!
//! 1. **First start**: an empty cache folder; time from starting the process to listening
//!    (every text encoded, each head trained, each fusion fitted), its peak RSS and its RSS
//!    once ready.
//! 2. **Messages**: `--messages` questions spread over the municipalities through
//!    `POST /v1/messages` (p50, p90), and the passport price each of the first three gives.
//! 3. **One municipality's reload**: an entry of the last municipality is edited; the reload
//!    time it reports (`/readyz`), the time from the edit until it serves, and another
//!    municipality's message latency before and during the reload (a pause would show there).
//! 4. **Restart**: the same content and cache folder; time to listening and RSS.
//! 5. **Per municipality**: a start of the first `--compare-with` municipalities with the
//!    same cache; the RSS difference divided by the difference in municipalities.
//! 6. **In process**: batch-1 latency of one municipality's snapshot (classification alone,
//!    and with FAQ search and fusion).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::child::Child;
use super::generated::{self, Shape, Tree};
use super::percentile;
use crate::config::Config;

#[derive(clap::Args, Debug)]
pub struct MunicipalitiesBenchArgs {
    /// Municipality folders generated.
    #[arg(long, default_value_t = 50)]
    pub municipalities: usize,
    /// Own entries of each municipality.
    #[arg(long, default_value_t = 60)]
    pub local: usize,
    /// Entries in the national library (at least; the bundled library and then UPL products).
    #[arg(long, default_value_t = 300)]
    pub library: usize,
    /// Also start this many of the municipalities, for the memory each further one adds
    /// (0 skips it).
    #[arg(long, default_value_t = 10)]
    pub compare_with: usize,
    /// Messages timed through the web chat API.
    #[arg(long, default_value_t = 200)]
    pub messages: usize,
    /// Messages timed in process (batch 1) on one municipality's snapshot.
    #[arg(long, default_value_t = 200)]
    pub iterations: usize,
    /// Where the content and the cache are made (default: a temporary folder, removed
    /// after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const QUESTIONS: &[&str] = &[
    "wat kost een paspoort?",
    "hoe laat is het stadhuis open?",
    "de grijze container is niet geleegd",
    "Wanneer is de markt?",
    "mijn afvalpas werkt niet bij de container",
    "Hoe vraag ik een parkeervergunning aan voor mijn bezoek?",
];

pub fn run(config: &Config, args: MunicipalitiesBenchArgs) -> Result<i32> {
    if args.municipalities == 0 || args.messages == 0 {
        bail!("--municipalities and --messages must be positive");
    }
    // No log in this process: each municipality would repeat the library's warnings.
    let keep = args.dir.is_some();
    let work = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("loket-bench-municipalities-{}", std::process::id()))
    });
    let result = bench(config, &args, &work);
    if !keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn bench(config: &Config, args: &MunicipalitiesBenchArgs, work: &std::path::Path) -> Result<i32> {
    let default_src = &config.paths.knowledge_base;
    let library_src = crate::knowledge::library_dir(default_src).with_context(|| {
        format!(
            "{} names no library (`library` in municipality.toml) to generate from",
            default_src.display()
        )
    })?;
    let shape = Shape {
        municipalities: args.municipalities,
        local: args.local,
        library: args.library,
    };
    let tree = generated::generate(&work.join("content"), &library_src, default_src, shape)?;
    let cache = work.join("cache");
    let _ = std::fs::remove_dir_all(&cache);
    println!(
        "content: {} municipalities × {} own entries, a library of {} entries ({} entries served in all); {} cores",
        args.municipalities,
        args.local,
        tree.library_entries,
        args.municipalities * (args.local + tree.library_entries),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let cfg = config_for(config, &tree, &cache, tree.dirs.len());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    // 1. First start.
    let (child, first) = timed_start(&cfg)?;
    println!(
        "first start to ready (empty cache): {:.1} s; peak RSS {:.0} MB, RSS when ready {:.0} MB",
        first,
        child.peak_rss_mb(),
        child.rss_mb()
    );
    // 2. Messages, and the passport price of the first three.
    rt.block_on(messages(&child.base, args.messages, args.municipalities))?;
    // 3. One municipality's reload.
    rt.block_on(reload(&child.base, &tree))?;
    drop(child);

    // 4. Restart.
    let (child, restart) = timed_start(&cfg)?;
    let rss_all = child.rss_mb();
    println!(
        "restart to ready (same content and cache): {:.1} s; peak RSS {:.0} MB, RSS when ready {:.0} MB",
        restart,
        child.peak_rss_mb(),
        rss_all
    );
    drop(child);

    // 5. Per municipality.
    if args.compare_with > 0 && args.compare_with < args.municipalities {
        let fewer = config_for(config, &tree, &cache, args.compare_with);
        let (child, t) = timed_start(&fewer)?;
        let rss_fewer = child.rss_mb();
        println!(
            "restart of {} municipalities: {:.1} s, RSS when ready {:.0} MB; each further municipality adds {:.2} MB",
            args.compare_with,
            t,
            rss_fewer,
            (rss_all - rss_fewer) / (args.municipalities - args.compare_with) as f64
        );
        drop(child);
    }

    // 6. In process, on the second municipality (or the only one).
    let dir = &tree.dirs[1.min(tree.dirs.len() - 1)];
    let kb = crate::content::load_knowledge(&cfg, dir)?;
    let embedder = crate::app::load_embedder(&cfg)?;
    let snap = crate::content::build_snapshot(&cfg, kb, embedder.as_ref())?;
    println!(
        "in process, {} ({} entries):",
        snap.kb.settings.name,
        snap.kb.entries.len()
    );
    super::time_batch_one(embedder.as_ref(), &snap, args.iterations)?;
    Ok(0)
}

/// `config` serving the first `n` generated municipalities with `cache`.
fn config_for(config: &Config, tree: &Tree, cache: &std::path::Path, n: usize) -> Config {
    let mut cfg = config.clone();
    cfg.paths.knowledge_base = tree.dirs[0].clone();
    cfg.paths.cache_dir = Some(cache.to_path_buf());
    cfg.paths.municipalities = (n > 1).then(|| {
        if n == tree.dirs.len() {
            tree.municipalities_dir()
        } else {
            // A folder of links to the first n.
            let some = tree.root.join(format!("first-{n}"));
            let _ = std::fs::remove_dir_all(&some);
            let _ = std::fs::create_dir_all(&some);
            for d in &tree.dirs[..n] {
                let _ = std::os::unix::fs::symlink(d, some.join(d.file_name().unwrap()));
            }
            some
        }
    });
    cfg.whatsapp.phone_number_id = String::new();
    // The bench is one client sending to every municipality.
    cfg.server.client_messages_per_minute = 1_000_000;
    cfg
}

fn timed_start(cfg: &Config) -> Result<(Child, f64)> {
    let t = Instant::now();
    // Each municipality would repeat the library's warnings: errors only.
    let child = Child::start(cfg, "error")?;
    Ok((child, t.elapsed().as_secs_f64()))
}

async fn post(
    c: &reqwest::Client,
    base: &str,
    slug: &str,
    conv: &str,
    text: &str,
) -> Result<(Value, f64)> {
    let t = Instant::now();
    let r = c
        .post(format!("{base}/v1/messages"))
        .json(&serde_json::json!({
            "conversation_id": conv, "channel": "web", "text": text, "municipality": slug,
        }))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    if !status.is_success() {
        bail!("{slug}: {status}: {body}");
    }
    Ok((body, ms))
}

/// The `i`-th of [`QUESTIONS`] to `slug`, in a new conversation (named from `tag`) every
/// 4 messages, which keeps within the per-conversation limit; its latency in ms.
async fn ask(c: &reqwest::Client, base: &str, slug: &str, tag: &str, i: usize) -> Result<f64> {
    let conv = format!("{tag}-{slug}-{}", i / 4);
    Ok(post(c, base, slug, &conv, QUESTIONS[i % QUESTIONS.len()])
        .await?
        .1)
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?)
}

fn summary(v: &mut [f64]) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms ({} messages)",
        percentile(v, 0.5),
        percentile(v, 0.9),
        v.last().copied().unwrap_or(f64::NAN),
        v.len()
    )
}

async fn messages(base: &str, n: usize, municipalities: usize) -> Result<()> {
    let c = client()?;
    for i in 0..municipalities.min(3) {
        let slug = Tree::slug(i);
        let (body, _) = post(
            &c,
            base,
            &slug,
            &format!("prijs-{i}"),
            "wat kost een paspoort?",
        )
        .await?;
        let reply = body["reply"]["text"].as_str().unwrap_or_default();
        let price = reply
            .lines()
            .find(|l| l.contains("18 jaar en ouder"))
            .unwrap_or(reply.lines().next().unwrap_or_default());
        println!("  {slug}: \"wat kost een paspoort?\" → {price}");
    }
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let slug = Tree::slug(i % municipalities);
        lat.push(ask(&c, base, &slug, "bench", i).await?);
    }
    println!(
        "web chat API, one message at a time over all municipalities: {}",
        summary(&mut lat)
    );
    Ok(())
}

/// The version and load time `/readyz` reports for `slug`.
async fn served(c: &reqwest::Client, base: &str, slug: &str) -> Result<(u64, u64)> {
    let body: Value = c.get(format!("{base}/readyz")).send().await?.json().await?;
    let m = body["municipalities"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["slug"] == slug))
        .with_context(|| format!("{slug} not in /readyz"))?;
    Ok((
        m["content"]["version"].as_u64().unwrap_or(0),
        m["content"]["load_ms"].as_u64().unwrap_or(0),
    ))
}

async fn reload(base: &str, tree: &Tree) -> Result<()> {
    let edited = tree.dirs.len() - 1;
    let (slug, other) = (Tree::slug(edited), Tree::slug(0));
    if edited == 0 {
        return Ok(());
    }
    let c = client()?;
    let (before, _) = served(&c, base, &slug).await?;
    // The other municipality's latency while nothing reloads…
    let mut quiet = Vec::new();
    for i in 0..40 {
        quiet.push(ask(&c, base, &other, "quiet", i).await?);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // …and while one municipality reloads.
    let entry = tree.dirs[edited].join("entries/lokaal-000.md");
    let mut text = std::fs::read_to_string(&entry)?;
    text.push_str("\nLet op: de planning is gewijzigd.\n");
    let edit = Instant::now();
    std::fs::write(&entry, text)?;
    let (mut during, mut i) = (Vec::new(), 0usize);
    let (load_ms, seen) = loop {
        during.push(ask(&c, base, &other, "during", i).await?);
        i += 1;
        let (v, ms) = served(&c, base, &slug).await?;
        if v > before {
            break (ms, edit.elapsed());
        }
        if edit.elapsed() > Duration::from_secs(120) {
            bail!("{slug} did not reload within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "reload of one municipality ({slug}): {load_ms} ms to load and build, {:.2} s from the edit until it serves (the watcher polls every 250 ms and waits 200 ms for the save to settle)",
        seen.as_secs_f64()
    );
    println!("  {other} meanwhile, before: {}", summary(&mut quiet));
    println!("  {other} meanwhile, during: {}", summary(&mut during));
    Ok(())
}
