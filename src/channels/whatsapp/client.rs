//! Sending through the Graph API: `POST {base}/{version}/{phone_number_id}/messages`.
//!
//! [`SendError`] says whether trying again can help ([`SendError::Retryable`]: 429, 5xx,
//! network errors, timeouts, Graph rate-limit codes) or not ([`SendError::Permanent`]:
//! other 4xx). Error texts never contain the access token or the recipient's number.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::config::{Secret, WhatsAppConfig};

/// Default time allowed for one send, connect to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest [`backoff`] delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Graph error codes that mean "not now" rather than "never":
/// 1/2 temporary API errors, 4 app rate limit, 80007 WABA rate limit, 130429 throughput
/// limit, 131000 "something went wrong", 131016 service unavailable, 131056 pair rate
/// limit (too many messages to one recipient), 133004 server temporarily unavailable.
pub const RETRYABLE_GRAPH_CODES: &[i64] = &[1, 2, 4, 80007, 130429, 131000, 131016, 131056, 133004];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOk {
    /// `messages[0].id` (`wamid.…`); `None` for mark-read, which answers `{success:true}`.
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("WhatsApp send failed, retryable (HTTP status {}): {detail}", status_text(.status))]
    Retryable {
        /// `None` when no response arrived (network error, timeout).
        status: Option<u16>,
        /// From the `Retry-After` header, when given.
        retry_after: Option<Duration>,
        detail: String,
    },
    #[error("WhatsApp send failed permanently (HTTP status {status}, Graph code {}): {detail}", code_text(.code))]
    Permanent {
        status: u16,
        /// The Graph API `error.code`, e.g. 131047 (outside the 24-hour window).
        code: Option<i64>,
        detail: String,
    },
}

fn status_text(status: &Option<u16>) -> String {
    status.map_or_else(|| "none".to_string(), |s| s.to_string())
}

fn code_text(code: &Option<i64>) -> String {
    code.map_or_else(|| "none".to_string(), |c| c.to_string())
}

impl SendError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, SendError::Retryable { .. })
    }

    /// The `Retry-After` the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SendError::Retryable { retry_after, .. } => *retry_after,
            SendError::Permanent { .. } => None,
        }
    }
}

/// Delay before retry number `attempt` (1 for the first retry, i.e. after one failed
/// attempt; 0 is treated as 1): 1 s, 2 s, 4 s, … capped at 5 minutes, with ±20 % jitter
/// (never above the cap).
pub fn backoff(attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let base = Duration::from_secs(1)
        .saturating_mul(1u32 << exponent)
        .min(MAX_BACKOFF);
    let factor = rand::thread_rng().gen_range(0.8..=1.2);
    base.mul_f64(factor).min(MAX_BACKOFF)
}

/// A client for one WhatsApp business number.
#[derive(Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    base_url: String,
    api_version: String,
    phone_number_id: String,
    access_token: Secret,
    timeout: Duration,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("messages_url", &self.messages_url())
            .field("access_token", &self.access_token)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl GraphClient {
    pub fn new(config: &WhatsAppConfig) -> GraphClient {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        GraphClient {
            http,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            api_version: config.api_version.trim_matches('/').to_string(),
            phone_number_id: config.phone_number_id.clone(),
            access_token: config.access_token.clone(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> GraphClient {
        self.timeout = timeout;
        self
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// `{base}/{version}/{phone_number_id}/messages`.
    pub fn messages_url(&self) -> String {
        self.messages_url_for(&self.phone_number_id)
    }

    fn messages_url_for(&self, phone_number_id: &str) -> String {
        format!(
            "{}/{}/{}/messages",
            self.base_url, self.api_version, phone_number_id
        )
    }

    /// Sends one body (see [`super::outbound`]) from the configured number.
    pub async fn send(&self, body: &Value) -> Result<SendOk, SendError> {
        self.send_from(&self.phone_number_id, body).await
    }

    /// Sends one body from another business number of the same account.
    pub async fn send_from(
        &self,
        phone_number_id: &str,
        body: &Value,
    ) -> Result<SendOk, SendError> {
        let recipient = body.get("to").and_then(Value::as_str).unwrap_or("");
        let clean = |text: String| scrub(text, recipient, self.access_token.expose());
        let response = self
            .http
            .post(self.messages_url_for(phone_number_id))
            .bearer_auth(self.access_token.expose())
            .timeout(self.timeout)
            .json(body)
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                let detail = if e.is_timeout() {
                    format!("no answer within {:?}", self.timeout)
                } else if e.is_connect() {
                    format!("cannot connect: {}", e.without_url())
                } else {
                    format!("request failed: {}", e.without_url())
                };
                return Err(SendError::Retryable {
                    status: None,
                    retry_after: None,
                    detail: clean(detail),
                });
            }
        };
        let status = response.status();
        let retry_after = retry_after(response.headers());
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => {
                let detail = if e.is_timeout() {
                    format!("response body not complete within {:?}", self.timeout)
                } else {
                    format!("reading the response failed: {}", e.without_url())
                };
                return Err(SendError::Retryable {
                    status: Some(status.as_u16()),
                    retry_after,
                    detail: clean(detail),
                });
            }
        };
        if status.is_success() {
            let message_id = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["messages"][0]["id"].as_str().map(str::to_string));
            return Ok(SendOk { message_id });
        }
        Err(classify(status, retry_after, &text, clean))
    }

    /// [`send`](Self::send), retrying retryable errors up to `max_attempts` attempts in all,
    /// waiting [`backoff`] (or the server's `Retry-After`, capped at 5 minutes) in between.
    pub async fn send_with_retry(
        &self,
        body: &Value,
        max_attempts: u32,
    ) -> Result<SendOk, SendError> {
        self.send_with_retry_using(body, max_attempts, backoff)
            .await
    }

    /// [`send_with_retry`](Self::send_with_retry) with another backoff (e.g. a short one
    /// in tests). `delay(n)` is the wait after the n-th failed attempt.
    pub async fn send_with_retry_using(
        &self,
        body: &Value,
        max_attempts: u32,
        delay: impl Fn(u32) -> Duration,
    ) -> Result<SendOk, SendError> {
        retry(max_attempts.max(1), delay, || self.send(body)).await
    }
}

/// Runs `attempt` until it succeeds, fails permanently, or `max_attempts` are used.
async fn retry<F, Fut>(
    max_attempts: u32,
    delay: impl Fn(u32) -> Duration,
    mut attempt: F,
) -> Result<SendOk, SendError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<SendOk, SendError>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Err(e) if e.is_retryable() && n < max_attempts => {
                let wait = e
                    .retry_after()
                    .map_or_else(|| delay(n), |r| r.min(MAX_BACKOFF));
                tracing::debug!(attempt = n, ?wait, error = %e, "WhatsApp send will be retried");
                tokio::time::sleep(wait).await;
            }
            result => return result,
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    // Only the delay-seconds form; Graph does not send HTTP dates.
    let secs: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// Turns a non-2xx answer into a [`SendError`], reading the Graph error body
/// `{"error":{"message","type","code","error_subcode","error_data":{"details"}}}`.
fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &str,
    scrub: impl Fn(String) -> String,
) -> SendError {
    let error = serde_json::from_str::<Value>(body)
        .ok()
        .map(|v| v["error"].clone())
        .filter(Value::is_object);
    let code = error.as_ref().and_then(|e| e["code"].as_i64());
    let detail = match &error {
        Some(e) => {
            let mut d = e["message"].as_str().unwrap_or("no message").to_string();
            if let Some(details) = e["error_data"]["details"].as_str() {
                d.push_str(" - ");
                d.push_str(details);
            }
            d
        }
        None => {
            let snippet: String = body.chars().take(200).collect();
            if snippet.is_empty() {
                "empty response body".to_string()
            } else {
                snippet
            }
        }
    };
    let detail = scrub(detail);
    let rate_limited = code.is_some_and(|c| RETRYABLE_GRAPH_CODES.contains(&c));
    if status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || rate_limited
    {
        SendError::Retryable {
            status: Some(status.as_u16()),
            retry_after,
            detail,
        }
    } else {
        SendError::Permanent {
            status: status.as_u16(),
            code,
            detail,
        }
    }
}

/// Removes the recipient's number and the access token from a text meant for logs.
fn scrub(mut text: String, recipient: &str, token: &str) -> String {
    if !token.is_empty() {
        text = text.replace(token, "[token]");
    }
    if recipient.len() >= 4 {
        text = text.replace(recipient, "[recipient]");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        for _ in 0..200 {
            let b1 = backoff(1).as_secs_f64();
            assert!((0.8..=1.2).contains(&b1), "{b1}");
            let b0 = backoff(0).as_secs_f64();
            assert!((0.8..=1.2).contains(&b0), "{b0}");
            let b3 = backoff(3).as_secs_f64();
            assert!((3.2..=4.8).contains(&b3), "{b3}");
            let b9 = backoff(9).as_secs_f64(); // 256 s
            assert!((204.8..=300.0).contains(&b9), "{b9}");
            let big = backoff(u32::MAX);
            assert!(
                big <= MAX_BACKOFF && big >= MAX_BACKOFF.mul_f64(0.8),
                "{big:?}"
            );
        }
        // Jitter actually varies.
        let samples: std::collections::HashSet<u128> =
            (0..20).map(|_| backoff(5).as_micros()).collect();
        assert!(samples.len() > 1);
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn classify_by_status_and_graph_code() {
        let id = |s: String| s;
        let rate = r#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"fbtrace_id":"A"}}"#;
        let e = classify(status(429), Some(Duration::from_secs(3)), rate, id);
        assert_eq!(
            e,
            SendError::Retryable {
                status: Some(429),
                retry_after: Some(Duration::from_secs(3)),
                detail: "(#130429) Rate limit hit - Cloud API message throughput has been reached."
                    .into()
            }
        );
        // Pair rate limit comes as 400 but is retryable.
        let pair = r#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","code":131056}}"#;
        assert!(classify(status(400), None, pair, id).is_retryable());
        assert!(
            classify(
                status(400),
                None,
                r#"{"error":{"code":80007,"message":"x"}}"#,
                id
            )
            .is_retryable()
        );
        assert!(classify(status(500), None, "<html>oops</html>", id).is_retryable());
        assert!(classify(status(503), None, "", id).is_retryable());
        let window = r#"{"error":{"message":"(#131047) Re-engagement message","code":131047}}"#;
        assert_eq!(
            classify(status(400), None, window, id),
            SendError::Permanent {
                status: 400,
                code: Some(131047),
                detail: "(#131047) Re-engagement message".into()
            }
        );
        let auth = classify(
            status(401),
            None,
            r#"{"error":{"message":"Invalid OAuth access token","code":190}}"#,
            id,
        );
        assert!(!auth.is_retryable());
        assert_eq!(auth.retry_after(), None);
    }

    #[test]
    fn errors_never_show_token_or_recipient() {
        let body = r#"{"error":{"message":"Recipient 31612345678 not allowed with token EAAGsecret","code":131030}}"#;
        let e = classify(status(400), None, body, |s| {
            scrub(s, "31612345678", "EAAGsecret")
        });
        let shown = e.to_string();
        assert!(!shown.contains("31612345678"), "{shown}");
        assert!(!shown.contains("EAAGsecret"), "{shown}");
        assert!(
            shown.contains("[recipient]") && shown.contains("[token]"),
            "{shown}"
        );
        assert!(shown.contains("131030"), "{shown}");
    }

    #[test]
    fn url_and_debug() {
        let config = WhatsAppConfig {
            base_url: "http://127.0.0.1:9/".into(),
            api_version: "v21.0".into(),
            phone_number_id: "106540352242922".into(),
            access_token: Secret::new("EAAGsecret"),
            ..WhatsAppConfig::default()
        };
        let client = GraphClient::new(&config);
        assert_eq!(
            client.messages_url(),
            "http://127.0.0.1:9/v21.0/106540352242922/messages"
        );
        assert_eq!(client.timeout(), DEFAULT_TIMEOUT);
        assert!(!format!("{client:?}").contains("EAAGsecret"));
    }

    fn retryable(retry_after: Option<Duration>) -> SendError {
        SendError::Retryable {
            status: Some(500),
            retry_after,
            detail: "x".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retry_uses_backoff_and_retry_after() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let result = retry(
            5,
            |n| Duration::from_secs(10 * n as u64),
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    match n {
                        1 => Err(retryable(None)),                         // wait 10 s
                        2 => Err(retryable(Some(Duration::from_secs(3)))), // wait 3 s
                        _ => Ok(SendOk {
                            message_id: Some("wamid.X".into()),
                        }),
                    }
                }
            },
        )
        .await;
        assert_eq!(result.unwrap().message_id.as_deref(), Some("wamid.X"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(start.elapsed(), Duration::from_secs(13));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_stops_on_permanent_and_after_max_attempts() {
        let calls = AtomicU32::new(0);
        let result = retry(
            5,
            |_| Duration::from_millis(1),
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async {
                    Err(SendError::Permanent {
                        status: 400,
                        code: Some(100),
                        detail: "bad".into(),
                    })
                }
            },
        )
        .await;
        assert!(!result.unwrap_err().is_retryable());
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let calls = AtomicU32::new(0);
        let result = retry(
            3,
            |_| Duration::from_millis(1),
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(retryable(None)) }
            },
        )
        .await;
        assert!(result.unwrap_err().is_retryable());
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}
