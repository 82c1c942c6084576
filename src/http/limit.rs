//! Per-sender rate limit on the citizen-facing endpoints (no key needed there, so this is
//! what stops one sender from flooding the bot): a token bucket per key, refilled at
//! `per_minute / 60` tokens a second, with a burst of `per_minute / 3` (at least 5). The
//! citizen endpoints answer a refusal after a delay ([`SenderLimiter::check_or_delay`]).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::error::ApiError;

/// How long a refused request waits before its 429 (see [`SenderLimiter::check_or_delay`]).
pub const REFUSAL_DELAY: std::time::Duration = std::time::Duration::from_secs(1);

pub struct SenderLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl SenderLimiter {
    pub fn new(per_minute: u32) -> Self {
        let per_minute = per_minute.max(1) as f64;
        SenderLimiter {
            per_sec: per_minute / 60.0,
            burst: (per_minute / 3.0).max(5.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Like [`SenderLimiter::check`], but a refusal is answered only after
    /// [`REFUSAL_DELAY`]: a client that sends as fast as it gets answers (a flood over a
    /// few connections) then costs one refusal per connection per second instead of tens of
    /// thousands a second, which took the CPU from everyone else. The connection cap per
    /// address bounds how many refusals can wait at once.
    pub async fn check_or_delay(&self, key: &str) -> Result<(), ApiError> {
        let result = self.check(key);
        if result.is_err() {
            tokio::time::sleep(REFUSAL_DELAY).await;
        }
        result
    }

    /// Takes one token for `key`, or answers 429.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("limiter lock");
        if buckets.len() > 100_000 {
            // Forget full buckets so memory stays bounded under many senders.
            let (per_sec, burst) = (self.per_sec, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
            });
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(ApiError::RateLimited)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_sender_is_limited_and_others_are_not() {
        let l = SenderLimiter::new(30);
        for _ in 0..10 {
            l.check("a").unwrap();
        }
        assert!(matches!(l.check("a"), Err(ApiError::RateLimited)));
        l.check("b").unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_is_answered_after_the_delay_and_a_pass_at_once() {
        let l = SenderLimiter::new(30);
        for _ in 0..10 {
            l.check("a").unwrap();
        }
        let t = tokio::time::Instant::now();
        l.check_or_delay("b").await.unwrap();
        assert_eq!(t.elapsed(), std::time::Duration::ZERO);
        assert!(l.check_or_delay("a").await.is_err());
        assert!(t.elapsed() >= REFUSAL_DELAY);
    }
}
