//! A token bucket per key (a phone number id): `per_sec` tokens a second, bursts of up to
//! `per_sec`. WhatsApp allows 80 messages a second per number by default.
//!
//! Waiters reserve their token when they call [`RateLimiter::acquire`] (the bucket may go
//! into debt) and sleep until it is theirs, so they are served in call order without
//! polling. Uses tokio's clock, so tests can run on paused time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    /// Available tokens; negative when waiters have reserved tokens not yet refilled.
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    per_sec: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `per_sec` tokens a second per key, burst `per_sec`; 0 means no limit.
    pub fn new(per_sec: u32) -> Self {
        RateLimiter {
            per_sec,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_sec(&self) -> u32 {
        self.per_sec
    }

    /// Waits until `key` may send one message.
    pub async fn acquire(&self, key: &str) {
        if let Some(wait) = self.reserve(key) {
            tokio::time::sleep(wait).await;
        }
    }

    /// Takes a token for `key`; returns how long to wait before it may be used.
    fn reserve(&self, key: &str) -> Option<Duration> {
        if self.per_sec == 0 {
            return None;
        }
        let rate = f64::from(self.per_sec);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(key.to_string()).or_insert(Bucket {
            tokens: rate,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.last = now;
        bucket.tokens -= 1.0;
        if bucket.tokens >= 0.0 {
            None
        } else {
            Some(Duration::from_secs_f64(-bucket.tokens / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn hundred_sixty_at_eighty_per_second_take_one_second() {
        let limiter = RateLimiter::new(80);
        let start = Instant::now();
        for _ in 0..160 {
            limiter.acquire("PN1").await;
        }
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.95..=1.05).contains(&elapsed), "{elapsed}");
    }

    #[tokio::test(start_paused = true)]
    async fn burst_is_immediate_and_concurrent_waiters_are_spread() {
        let limiter = Arc::new(RateLimiter::new(10));
        let start = Instant::now();
        for _ in 0..10 {
            limiter.acquire("PN1").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move {
                    l.acquire("PN1").await;
                    start.elapsed().as_secs_f64()
                })
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap());
        }
        done.sort_by(f64::total_cmp);
        // Tokens 11..=30 arrive at 0.1 s intervals: the last after 2 s.
        assert!((0.09..=0.11).contains(&done[0]), "{done:?}");
        assert!((1.95..=2.05).contains(&done[19]), "{done:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_independent_and_zero_is_unlimited() {
        let limiter = RateLimiter::new(5);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire("PN1").await;
            limiter.acquire("PN2").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire("PN1").await;
        assert!(start.elapsed() >= Duration::from_millis(190));

        let unlimited = RateLimiter::new(0);
        let start = Instant::now();
        for _ in 0..10_000 {
            unlimited.acquire("PN1").await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_refills_up_to_the_burst_only() {
        let limiter = RateLimiter::new(4);
        limiter.acquire("PN1").await;
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        for _ in 0..8 {
            limiter.acquire("PN1").await;
        }
        // 4 at once, then 4 more at 0.25 s each.
        let elapsed = start.elapsed().as_secs_f64();
        assert!((0.95..=1.05).contains(&elapsed), "{elapsed}");
    }
}
