//! Independent jobs on as many threads as there are cores, for start-up work such as the
//! intent head's cross-validation fits and the fusion fit's BM25 folds.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `f` applied to every job, the jobs taken in turn by up to one thread per core (so a long
/// job does not hold up the short ones behind it); the results in the order of `jobs`. A
/// job that panics panics the caller with the same payload.
pub fn map_on_cores<J: Sync, R: Send>(jobs: &[J], f: impl Fn(&J) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len());
    if threads <= 1 {
        return jobs.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(j) else { break mine };
                        mine.push((j, f(job)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    done.sort_by_key(|(j, _)| *j);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_runs_once_and_results_keep_the_jobs_order() {
        let runs = AtomicUsize::new(0);
        let jobs: Vec<u64> = (0..37).collect();
        let out = map_on_cores(&jobs, |&j| {
            runs.fetch_add(1, Ordering::Relaxed);
            // Uneven work, so that the threads finish out of order.
            std::thread::sleep(std::time::Duration::from_micros((37 - j) * 50));
            j * j
        });
        assert_eq!(runs.load(Ordering::Relaxed), 37);
        assert_eq!(out, jobs.iter().map(|j| j * j).collect::<Vec<_>>());
        assert!(map_on_cores(&[] as &[u8], |_| 1).is_empty());
    }

    #[test]
    #[should_panic(expected = "job 3 failed")]
    fn a_panicking_job_panics_the_caller() {
        map_on_cores(&[1, 2, 3, 4], |&j| {
            if j == 3 {
                panic!("job 3 failed");
            }
            j
        });
    }
}
