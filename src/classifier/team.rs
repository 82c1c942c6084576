//! A small team of threads for the encoder's forward pass: the caller and `threads − 1`
//! helpers run the same closure with their own index, and the call returns when all are done.
//!
//! One forward pass hands the team about a hundred short jobs (each linear layer, the
//! attention), tens of microseconds apart. Waking a sleeping thread costs about as much as
//! such a job, so helpers spin on an atomic for a while after each job and only then sleep;
//! a general-purpose pool (rayon) was measured to spend a quarter of the pass spinning and
//! waking. When the team is busy (another thread is encoding at the same time, e.g. a content
//! reload beside live traffic), the caller runs every index itself instead of waiting.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

type Job = *const (dyn Fn(usize) + Sync);

struct Shared {
    /// Incremented for every job; helpers run each epoch once.
    epoch: AtomicUsize,
    /// Helpers that finished the current epoch.
    done: AtomicUsize,
    job: Mutex<Option<SendJob>>,
    stop: AtomicBool,
    panicked: AtomicBool,
    sleep: Mutex<()>,
    wake: Condvar,
}

#[derive(Clone, Copy)]
struct SendJob(Job);
// SAFETY: the pointer is only dereferenced while `Team::run` keeps the closure alive, and
// the closure is `Sync`.
unsafe impl Send for SendJob {}

pub struct Team {
    threads: usize,
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
    busy: Mutex<()>,
}

/// How long a helper spins for the next job before it sleeps.
const SPIN: Duration = Duration::from_micros(100);

impl Team {
    pub fn new(threads: usize) -> Team {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            epoch: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
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
                    .spawn(move || helper(s, index))
                    .expect("spawn encoder helper thread")
            })
            .collect();
        Team {
            threads,
            shared,
            helpers,
            busy: Mutex::new(()),
        }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f(0)` … `f(threads − 1)`, in parallel when the team is free.
    pub fn run(&self, f: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 {
            return f(0);
        }
        let Ok(_guard) = self.busy.try_lock() else {
            for i in 0..self.threads {
                f(i);
            }
            return;
        };
        let s = &*self.shared;
        // SAFETY: the lifetime is erased only for the duration of this call: it does not
        // return before every helper has reported this epoch done (below), and helpers
        // never touch the pointer after that.
        let job: Job = unsafe { std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), Job>(f) };
        *s.job.lock().unwrap() = Some(SendJob(job));
        s.done.store(0, Ordering::Relaxed);
        {
            let _g = s.sleep.lock().unwrap();
            s.epoch.fetch_add(1, Ordering::Release);
            s.wake.notify_all();
        }
        // The caller's own share; a panic here must still wait for the helpers.
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(0)));
        let helpers = self.threads - 1;
        let mut spins = 0u32;
        while s.done.load(Ordering::Acquire) < helpers {
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
        if let Err(p) = mine {
            std::panic::resume_unwind(p);
        }
        if s.panicked.swap(false, Ordering::Relaxed) {
            panic!("an encoder helper thread panicked");
        }
    }
}

fn helper(s: Arc<Shared>, index: usize) {
    let mut seen = 0usize;
    loop {
        // Spin briefly for the next job, then sleep until woken.
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            if s.stop.load(Ordering::Relaxed) {
                return;
            }
            if s.epoch.load(Ordering::Acquire) != seen {
                break;
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
                        s.epoch.load(Ordering::Acquire) == seen && !s.stop.load(Ordering::Relaxed)
                    })
                    .unwrap();
                break;
            }
            std::hint::spin_loop();
        }
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        seen = s.epoch.load(Ordering::Acquire);
        let job = s
            .job
            .lock()
            .unwrap()
            .expect("a job is published before its epoch");
        // SAFETY: see `Team::run`: the closure outlives this call.
        let f = unsafe { &*job.0 };
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(index))).is_err() {
            s.panicked.store(true, Ordering::Relaxed);
        }
        s.done.fetch_add(1, Ordering::Release);
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
    fn every_index_runs_once_per_call() {
        for threads in [1, 2, 3] {
            let team = Team::new(threads);
            for round in 0..200 {
                let hits: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
                team.run(&|i| {
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
                        team.run(&|i| {
                            total.fetch_add(i + 1, Ordering::Relaxed);
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(total.load(Ordering::Relaxed), 4 * 100 * 3);
    }

    #[test]
    fn a_panicking_helper_is_reported_to_the_caller() {
        let team = Team::new(2);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            team.run(&|i| {
                if i == 1 {
                    panic!("boom");
                }
            })
        }));
        assert!(r.is_err());
        // The team still works afterwards.
        let n = AtomicUsize::new(0);
        team.run(&|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 2);
    }
}
