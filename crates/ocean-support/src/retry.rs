//! The one retry policy for every outgoing HTTP call (Port and Codecov):
//! exponential backoff with full jitter, honouring the server's own hints
//! (`Retry-After`, `x-ratelimit-reset`), and a cap on the total time spent waiting.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// How often and how long a call is retried; the default is 8 attempts, backoff ceilings from
/// 0.5 s doubling up to 30 s (full jitter below them), and at most 5 minutes of waiting in all.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// First backoff ceiling; doubles per attempt up to `max_delay`.
    pub base_delay: Duration,
    /// The longest one backoff may be (a server's hint may still ask for longer).
    pub max_delay: Duration,
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Time that may be spent sleeping between attempts of one call.
    pub max_total_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: 8,
            max_total_wait: Duration::from_secs(300),
        }
    }
}

/// The one rule, for Port and Codecov alike, of which statuses say "try
/// again later": Ocean's (408, 429, 502, 503, 504) and 500, which both
/// services answer for passing faults; every call retried is idempotent
/// (reads, upserts, deletes). Every other status is final.
pub fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1` (attempt counts from 0), or
    /// `None` when the attempts or the wait budget are spent.
    pub fn next_delay(
        &self,
        attempt: u32,
        waited: Duration,
        server_hint: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if attempt + 1 >= self.max_attempts {
            return None;
        }
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << attempt.min(20))
            .min(self.max_delay);
        let backoff = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
        // The server's hint is a floor: waiting less only earns another 429.
        let delay = match server_hint {
            Some(hint) => hint.max(backoff),
            None => backoff,
        };
        if waited + delay > self.max_total_wait {
            None
        } else {
            Some(delay)
        }
    }
}

/// What one attempt came to.
pub enum Attempt<T, E> {
    /// It succeeded with this value.
    Done(T),
    /// Worth another try, after at least `hint` if the server gave one.
    Retry {
        /// Why it failed this time.
        error: E,
        /// The server's own wait ([`server_hint`]), a floor for the backoff.
        hint: Option<Duration>,
    },
    /// Trying again cannot help.
    Fail(E),
}

/// Why [`run`] gave up.
pub enum Failure<E> {
    /// The error needs no retry (or the first attempt was the only one allowed).
    Final(E),
    /// Retried until the attempts or the wait budget ran out.
    Exhausted {
        /// The last attempt's error.
        last: E,
        /// Attempts made, the first included.
        attempts: u32,
        /// Time spent sleeping between them.
        waited: Duration,
    },
}

impl<E> Failure<E> {
    /// The error to report: the final one as it is, an exhausted one wrapped by `exhausted`.
    pub fn into_error(self, exhausted: impl FnOnce(E, u32, Duration) -> E) -> E {
        match self {
            Failure::Final(error) => error,
            Failure::Exhausted {
                last,
                attempts,
                waited,
            } => exhausted(last, attempts, waited),
        }
    }
}

/// Runs `attempt` until it is done, fails for good, or the policy's budget is spent.
pub async fn run<T, E, F, Fut>(policy: &RetryPolicy, what: &str, mut attempt: F) -> Result<T, Failure<E>>
where
    E: Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut attempts = 0;
    let mut waited = Duration::ZERO;
    loop {
        let (error, hint) = match attempt().await {
            Attempt::Done(value) => return Ok(value),
            Attempt::Fail(error) => return Err(Failure::Final(error)),
            Attempt::Retry { error, hint } => (error, hint),
        };
        let Some(delay) = policy.next_delay(attempts, waited, hint, rand::random::<f64>()) else {
            if attempts == 0 {
                return Err(Failure::Final(error));
            }
            return Err(Failure::Exhausted {
                last: error,
                attempts: attempts + 1,
                waited,
            });
        };
        tracing::warn!(
            call = what,
            attempt = attempts + 1,
            delay_ms = delay.as_millis() as u64,
            "retrying: {error}"
        );
        tokio::time::sleep(delay).await;
        waited += delay;
        attempts += 1;
    }
}

/// The server's own word on when to come back: `Retry-After` (seconds or an
/// HTTP date) first, then `x-ratelimit-reset` (epoch seconds) when the window is spent.
pub fn server_hint(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    if let Some(value) = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<f64>()
            && seconds.is_finite()
            && seconds >= 0.0
        {
            return Some(Duration::from_secs_f64(seconds.min(86_400.0)));
        }
        if let Ok(at) = httpdate::parse_http_date(value) {
            return Some(at.duration_since(now).unwrap_or_default());
        }
    }
    let remaining = header_number(headers, "x-ratelimit-remaining");
    if remaining == Some(0.0)
        && let Some(reset) = header_number(headers, "x-ratelimit-reset")
    {
        let now_secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        return Some(Duration::from_secs_f64((reset - now_secs).clamp(0.0, 86_400.0)));
    }
    None
}

fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_grows_and_is_capped_by_attempts_and_total_wait() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            max_attempts: 5,
            max_total_wait: Duration::from_secs(2),
        };
        assert_eq!(
            policy.next_delay(0, Duration::ZERO, None, 1.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            policy.next_delay(3, Duration::ZERO, None, 1.0),
            Some(Duration::from_millis(800))
        );
        assert_eq!(
            policy.next_delay(2, Duration::ZERO, None, 0.5),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            policy.next_delay(4, Duration::ZERO, None, 1.0),
            None,
            "attempts spent"
        );
        assert_eq!(
            policy.next_delay(1, Duration::from_millis(1_900), None, 1.0),
            None,
            "wait budget spent"
        );
        let hinted = policy.next_delay(0, Duration::ZERO, Some(Duration::from_secs(1)), 0.1);
        assert_eq!(
            hinted,
            Some(Duration::from_secs(1)),
            "the server's hint is a floor"
        );
    }

    #[test]
    fn one_rule_says_which_statuses_are_worth_another_try() {
        for retried in [408, 429, 500, 502, 503, 504] {
            assert!(
                is_retryable_status(StatusCode::from_u16(retried).expect("status")),
                "{retried}"
            );
        }
        for final_status in [400, 401, 403, 404, 409, 413, 422, 501, 505] {
            let status = StatusCode::from_u16(final_status).expect("status");
            assert!(!is_retryable_status(status), "{final_status}");
        }
    }

    #[test]
    fn hints_come_from_retry_after_or_a_spent_rate_window() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut headers = HeaderMap::new();
        assert_eq!(server_hint(&headers, now), None);
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1004"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("3"));
        assert_eq!(server_hint(&headers, now), None, "window not spent");
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        assert_eq!(server_hint(&headers, now), Some(Duration::from_secs(4)));
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(server_hint(&headers, now), Some(Duration::from_secs(2)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(7));
        headers.insert("retry-after", HeaderValue::from_str(&date).expect("ascii date"));
        assert_eq!(server_hint(&headers, now), Some(Duration::from_secs(7)));
    }
}
