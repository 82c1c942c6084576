//! `loket bench neighbour`: batch-1 latency (tokenise + encode + head, as in `loket bench`)
//! quiet and beside busy neighbours: child processes spinning in a shell loop on no core in
//! particular, started and killed by the bench. Quiet and busy rounds alternate, so that a
//! drift in the machine's load touches both.
//!
//! Where the kernel groups processes by session for scheduling (`autogroup`, on by default
//! in most distributions' kernels; cgroups do the same for services and containers), a child
//! in Loket's session shares Loket's part of the machine, while a process of another
//! session, service or container gets a part of its own beside it. `--own-session` starts
//! the neighbours in a session of their own, as another service would be.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result};

use super::{MESSAGES, percentile, start_up};
use crate::classifier::{self, int8::Kernel};
use crate::config::Config;
use crate::understand::Snapshot;

#[derive(clap::Args, Debug)]
pub struct NeighbourArgs {
    /// Messages timed per round.
    #[arg(long, default_value_t = 300)]
    pub iterations: usize,
    /// Pairs of rounds (one quiet, one busy).
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// Busy processes beside Loket during the busy rounds.
    #[arg(long, default_value_t = 1)]
    pub neighbours: usize,
    /// Start the neighbours in a session of their own (see the module documentation)
    /// instead of in Loket's.
    #[arg(long)]
    pub own_session: bool,
}

/// Spinning child processes, killed (by their ids) when dropped.
struct Neighbours(Vec<Child>);

impl Neighbours {
    fn start(n: usize, own_session: bool) -> Result<Neighbours> {
        let children = (0..n)
            .map(|_| {
                let mut c = Command::new("sh");
                c.args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null());
                if own_session {
                    use std::os::unix::process::CommandExt as _;
                    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
                    unsafe {
                        c.pre_exec(|| {
                            if libc::setsid() < 0 {
                                return Err(std::io::Error::last_os_error());
                            }
                            Ok(())
                        });
                    }
                }
                c.spawn().context("starting a busy neighbour (sh)")
            })
            .collect::<Result<Vec<_>>>()?;
        // Let the scheduler see them running before anything is timed.
        std::thread::sleep(Duration::from_millis(200));
        Ok(Neighbours(children))
    }
}

impl Drop for Neighbours {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Batch-1 latencies in ms, sorted.
fn time(embedder: &dyn classifier::Embed, snap: &Snapshot, n: usize) -> Result<Vec<f64>> {
    Ok(super::batch_one_latencies(embedder, snap, n, None)?.0)
}

fn p50_p90(v: &[f64]) -> (f64, f64) {
    (percentile(v, 0.5), percentile(v, 0.9))
}

pub fn run(config: &Config, args: NeighbourArgs) -> Result<i32> {
    crate::app::init_tracing("pretty");
    let (_, embedder, snap) = start_up(config)?;
    println!(
        "kernel {}, {} encoder threads, {} cores; {} busy neighbour(s) in the busy rounds, in {}",
        Kernel::selected().map_or("?", |k| k.name()),
        config.classifier.threads,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.neighbours,
        if args.own_session {
            "a session of their own"
        } else {
            "Loket's session"
        }
    );
    time(embedder.as_ref(), &snap, MESSAGES.len() * 2)?;
    let (mut quiet, mut busy) = (Vec::new(), Vec::new());
    for round in 1..=args.rounds.max(1) {
        let q = time(embedder.as_ref(), &snap, args.iterations)?;
        let b = {
            let _n = Neighbours::start(args.neighbours, args.own_session)?;
            time(embedder.as_ref(), &snap, args.iterations)?
        };
        let ((q50, q90), (b50, b90)) = (p50_p90(&q), p50_p90(&b));
        println!(
            "round {round}: quiet p50 {q50:.2} ms, p90 {q90:.2} ms; busy p50 {b50:.2} ms, p90 {b90:.2} ms; busy/quiet p50 {:.2}, p90 {:.2}",
            b50 / q50,
            b90 / q90
        );
        quiet.extend(q);
        busy.extend(b);
    }
    quiet.sort_by(f64::total_cmp);
    busy.sort_by(f64::total_cmp);
    let ((q50, q90), (b50, b90)) = (p50_p90(&quiet), p50_p90(&busy));
    println!(
        "all rounds ({} messages each): quiet p50 {q50:.2} ms, p90 {q90:.2} ms, p99 {:.2} ms; busy p50 {b50:.2} ms, p90 {b90:.2} ms, p99 {:.2} ms; busy/quiet p50 {:.2}, p90 {:.2}",
        quiet.len(),
        percentile(&quiet, 0.99),
        percentile(&busy, 0.99),
        b50 / q50,
        b90 / q90
    );
    Ok(0)
}
