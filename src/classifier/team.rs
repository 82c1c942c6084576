//! A small team of threads for the encoder's forward pass: a job is `chunks` pieces of work
//! (`f(0)` … `f(chunks − 1)`), taken one at a time from a shared counter by the caller and
//! whichever helpers are running, and the call returns when every piece is done.
//!
//! One forward pass hands the team about a hundred short jobs (each linear layer, the
//! attention), tens of microseconds apart. Waking a sleeping thread costs about as much as
//! such a job, so helpers spin on an atomic for a while after each job and only then sleep;
//! a general-purpose pool (rayon) was measured to spend a quarter of the pass spinning and
//! waking.
//!
//! The caller never waits for a helper that has not started: pieces are taken, not assigned,
//! so when the scheduler keeps a helper off the CPU (a busy neighbour process), the caller
//! does the whole job, closes it, and waits only for helpers inside a piece. A helper
//! descheduled in the middle of a piece still costs a wait; after such a wait (longer than
//! [`LONG_WAIT`]) the caller works alone for [`SOLO`]. When the team is busy (another thread is
//! encoding at the same time, e.g. a content reload beside live traffic), the caller does every
//! piece itself.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Job = *const (dyn Fn(usize) + Sync);

/// The gate of the current job: `epoch << 32 | CLOSED | helpers inside`.
const CLOSED: u64 = 1 << 31;
const INSIDE: u64 = CLOSED - 1;

struct Shared {
    /// See [`CLOSED`]: helpers join an open job of a new epoch by incrementing the count.
    gate: AtomicU64,
    /// The next piece to take.
    next: AtomicUsize,
    job: Mutex<Option<(SendJob, usize)>>,
    stop: AtomicBool,
    panicked: AtomicBool,
    sleep: Mutex<()>,
    wake: Condvar,
}

#[derive(Clone, Copy)]
struct SendJob(Job);
// SAFETY: the pointer is only dereferenced by helpers inside the gate, and `Team::run` does
// not return (the closure stays alive) before every helper has left it; the closure is `Sync`.
unsafe impl Send for SendJob {}

pub struct Team {
    threads: usize,
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
    busy: Mutex<()>,
    /// Until when the caller works alone (after a long wait for a descheduled helper).
    solo_until: Mutex<Option<Instant>>,
    /// Jobs after which the caller waited longer than [`LONG_WAIT`], for the tests and bench.
    pub long_waits: AtomicUsize,
}

/// How long a helper spins for the next job before it sleeps.
const SPIN: Duration = Duration::from_micros(100);
/// A wait for a helper that means it was descheduled in the middle of a piece (a piece takes
/// tens of microseconds).
pub const LONG_WAIT: Duration = Duration::from_micros(400);
/// How long the caller then works alone before it tries the team again.
pub const SOLO: Duration = Duration::from_millis(250);

/// Takes pieces from `next` until none is left; how many it took.
fn take_pieces(next: &AtomicUsize, chunks: usize, f: &(dyn Fn(usize) + Sync)) -> usize {
    let mut taken = 0;
    loop {
        let c = next.fetch_add(1, Ordering::Relaxed);
        if c >= chunks {
            return taken;
        }
        f(c);
        taken += 1;
    }
}

/// Whether a wait of `waited` for the helpers, after the caller took `taken` pieces in
/// `own`, means a helper was descheduled in the middle of a piece: longer than
/// [`LONG_WAIT`] and than twice the caller's own time per piece. A piece of a batch of long
/// texts (the first start's encoding) takes a millisecond or more, and waiting for a
/// helper to finish such a piece is no sign of a descheduled helper; without the second
/// bound the caller would work alone through every batch and leave a core idle. When the
/// caller took no piece there is nothing to compare with, and the wait is not judged.
fn is_long_wait(waited: Duration, own: Duration, taken: Option<usize>) -> bool {
    match taken {
        Some(n) if n > 0 => waited > LONG_WAIT.max(own * 2 / n as u32),
        _ => false,
    }
}

impl Team {
    pub fn new(threads: usize) -> Team {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            gate: AtomicU64::new(CLOSED),
            next: AtomicUsize::new(0),
            job: Mutex::new(None),
            stop: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            sleep: Mutex::new(()),
            wake: Condvar::new(),
        });
        let helpers = (1..threads)
            .map(|index| {
                let s = shared.clone();
                std::thread::Builder::new()
                    .name(format!("loket-encoder-{index}"))
                    .spawn(move || helper(s))
                    .expect("spawn encoder helper thread")
            })
            .collect();
        Team {
            threads,
            shared,
            helpers,
            busy: Mutex::new(()),
            solo_until: Mutex::new(None),
            long_waits: AtomicUsize::new(0),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(0)` … `f(chunks − 1)`, each once, in parallel where helpers are running.
    pub fn run(&self, chunks: usize, f: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 || chunks <= 1 || self.solo() {
            return (0..chunks).for_each(f);
        }
        let Ok(_guard) = self.busy.try_lock() else {
            return (0..chunks).for_each(f);
        };
        let s = &*self.shared;
        // SAFETY: the lifetime is erased only for the duration of this call: it does not
        // return before every helper that joined has left the gate (below), and helpers
        // that did not join never touch the pointer.
        let job: Job = unsafe { std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), Job>(f) };
        *s.job.lock().unwrap() = Some((SendJob(job), chunks));
        s.next.store(0, Ordering::Relaxed);
        {
            let _g = s.sleep.lock().unwrap();
            let epoch = (s.gate.load(Ordering::Relaxed) >> 32) + 1;
            s.gate.store(epoch << 32, Ordering::Release);
            s.wake.notify_all();
        }
        // The caller's pieces; a panic here must still close the gate and wait.
        let started = Instant::now();
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            take_pieces(&s.next, chunks, f)
        }));
        let own = started.elapsed();
        s.gate.fetch_or(CLOSED, Ordering::AcqRel);
        let waited = Instant::now();
        let mut spins = 0u32;
        while s.gate.load(Ordering::Acquire) & INSIDE != 0 {
            // After a few microseconds, give the CPU away between checks: when the
            // scheduler placed a helper on this CPU, spinning would keep it from running
            // for a whole time slice.
            spins += 1;
            if spins > 2000 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        if spins > 2000 && is_long_wait(waited.elapsed(), own, mine.as_ref().ok().copied()) {
            self.long_waits.fetch_add(1, Ordering::Relaxed);
            *self.solo_until.lock().unwrap() = Some(Instant::now() + SOLO);
        }
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::Relaxed) {
            panic!("an encoder helper thread panicked");
        }
    }

    /// Whether the caller works alone for now.
    fn solo(&self) -> bool {
        let mut until = self.solo_until.lock().unwrap();
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }
}

/// Waits for a job of an epoch after `seen`, spinning briefly and then sleeping; returns
/// the gate's value, or `None` when the team stops.
fn next_epoch(s: &Shared, seen: u64) -> Option<u64> {
    let start = Instant::now();
    let mut spins = 0u32;
    loop {
        if s.stop.load(Ordering::Relaxed) {
            return None;
        }
        let gate = s.gate.load(Ordering::Acquire);
        if gate >> 32 != seen {
            return Some(gate);
        }
        spins += 1;
        if spins > 2000 {
            // As in `Team::run`: do not hold a CPU the caller may need.
            std::thread::yield_now();
        }
        if spins.is_multiple_of(64) && start.elapsed() > SPIN {
            let g = s.sleep.lock().unwrap();
            let _g = s
                .wake
                .wait_while(g, |_| {
                    s.gate.load(Ordering::Acquire) >> 32 == seen && !s.stop.load(Ordering::Relaxed)
                })
                .unwrap();
            return (!s.stop.load(Ordering::Relaxed)).then(|| s.gate.load(Ordering::Acquire));
        }
        std::hint::spin_loop();
    }
}

fn helper(s: Arc<Shared>) {
    let mut seen = 0u64;
    while let Some(mut gate) = next_epoch(&s, seen) {
        // Join the job unless the caller has closed it (then it is done, or nearly).
        let joined = loop {
            if gate & CLOSED != 0 {
                break false;
            }
            match s
                .gate
                .compare_exchange_weak(gate, gate + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break true,
                Err(now) if now >> 32 == gate >> 32 => gate = now,
                Err(_) => break false,
            }
        };
        seen = gate >> 32;
        if !joined {
            continue;
        }
        let (job, chunks) = s
            .job
            .lock()
            .unwrap()
            .expect("a job is published before its epoch");
        // SAFETY: see `Team::run`: the closure outlives this helper's stay in the gate.
        let f = unsafe { &*job.0 };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            take_pieces(&s.next, chunks, f)
        }));
        if r.is_err() {
            s.panicked.store(true, Ordering::Relaxed);
        }
        s.gate.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        {
            let _g = self.shared.sleep.lock().unwrap();
            self.shared.stop.store(true, Ordering::Relaxed);
            self.shared.wake.notify_all();
        }
        for h in self.helpers.drain(..) {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_runs_once_per_call() {
        for threads in [1, 2, 3] {
            let team = Team::new(threads);
            for round in 0..200 {
                let chunks = round % 7;
                let hits: Vec<AtomicUsize> = (0..chunks).map(|_| AtomicUsize::new(0)).collect();
                team.run(chunks, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                for h in &hits {
                    assert_eq!(h.load(Ordering::Relaxed), 1, "round {round}");
                }
                if round % 50 == 0 {
                    // Let the helpers fall asleep: the next call must wake them.
                    std::thread::sleep(SPIN * 3);
                }
            }
        }
    }

    #[test]
    fn a_busy_team_lets_the_second_caller_run_alone() {
        let team = Arc::new(Team::new(2));
        let total = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (team, total) = (team.clone(), total.clone());
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        team.run(3, &|i| {
                            total.fetch_add(i + 1, Ordering::Relaxed);
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(total.load(Ordering::Relaxed), 4 * 100 * 6);
    }

    #[test]
    fn after_a_long_wait_for_a_helper_the_caller_works_alone() {
        let team = Team::new(2);
        let caller = std::thread::current().id();
        // The helper's piece outlasts LONG_WAIT (as when it is descheduled); the caller
        // must wait for it, then do the next jobs alone.
        let mut waited = false;
        for _ in 0..50 {
            team.run(2, &|_| {
                if std::thread::current().id() == caller {
                    // Long enough for the helper to wake and take the other piece.
                    std::thread::sleep(Duration::from_millis(1));
                } else {
                    // Longer than twice the caller's piece, and than LONG_WAIT.
                    std::thread::sleep(Duration::from_millis(4) + LONG_WAIT * 3);
                }
            });
            if team.long_waits.load(Ordering::Relaxed) > 0 {
                waited = true;
                break;
            }
        }
        assert!(waited, "the helper never took a piece");
        let others = AtomicUsize::new(0);
        team.run(8, &|_| {
            if std::thread::current().id() != caller {
                others.fetch_add(1, Ordering::Relaxed);
            }
        });
        assert_eq!(others.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_wait_is_long_only_against_the_length_of_a_piece() {
        let ms = Duration::from_millis;
        // Short pieces (one message): a wait of 1 ms is a descheduled helper.
        assert!(is_long_wait(ms(1), Duration::from_micros(300), Some(6)));
        assert!(!is_long_wait(Duration::from_micros(300), ms(1), Some(6)));
        // Pieces of 2 ms each (a batch of long texts): finishing one is no sign of it…
        assert!(!is_long_wait(ms(3), ms(12), Some(6)));
        // …but a wait of several pieces is.
        assert!(is_long_wait(ms(5), ms(12), Some(6)));
        // The caller took no piece: nothing to compare with.
        assert!(!is_long_wait(ms(50), Duration::ZERO, Some(0)));
        assert!(!is_long_wait(ms(50), ms(1), None));
    }

    #[test]
    fn a_panicking_helper_is_reported_to_the_caller() {
        let team = Team::new(2);
        let caller = std::thread::current().id();
        let mut reported = false;
        for _ in 0..100 {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                team.run(64, &|_| {
                    if std::thread::current().id() != caller {
                        panic!("boom");
                    }
                    std::thread::sleep(Duration::from_micros(20));
                })
            }));
            if r.is_err() {
                reported = true;
                break;
            }
        }
        assert!(reported, "the helper never took a piece");
        // The team still works afterwards.
        let n = AtomicUsize::new(0);
        team.run(5, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 5);
    }
}
