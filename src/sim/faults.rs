//! Misbehaviour on demand: a scripted sequence of faults, then random ones at
//! a given rate, plus added latency. Set by flags or `PUT /_admin/faults`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Fault {
    /// Answer normally (a step of a script that lets one request through).
    Pass,
    /// Answer with this status and the service's error body; nothing is applied.
    Status(u16),
    /// Apply the request, then cut the connection in the middle of the reply,
    /// so the client cannot know whether it landed.
    Reset,
}

impl TryFrom<String> for Fault {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        match text.as_str() {
            "pass" => Ok(Fault::Pass),
            "reset" => Ok(Fault::Reset),
            other => match other.parse::<u16>() {
                Ok(code) if (400..600).contains(&code) => Ok(Fault::Status(code)),
                _ => Err(format!(
                    "unknown fault {other:?}: use a 4xx/5xx status, \"reset\" or \"pass\""
                )),
            },
        }
    }
}

impl From<Fault> for String {
    fn from(fault: Fault) -> String {
        match fault {
            Fault::Pass => "pass".into(),
            Fault::Reset => "reset".into(),
            Fault::Status(code) => code.to_string(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultConfig {
    /// Played first, one per request.
    pub script: VecDeque<Fault>,
    /// Then each request fails with this probability, picking from `kinds`.
    pub rate: f64,
    pub kinds: Vec<Fault>,
    /// Added before every answer.
    pub latency_ms: u64,
    /// `Retry-After` sent with an injected 429.
    pub retry_after_secs: u64,
}

#[derive(Default)]
pub struct Faults {
    config: Mutex<FaultConfig>,
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Faults {
            config: Mutex::new(config),
        }
    }

    pub fn set(&self, config: FaultConfig) {
        *self.lock() = config;
    }

    pub fn get(&self) -> FaultConfig {
        self.lock().clone()
    }

    /// The fault for the next request, and the latency to add.
    pub fn next(&self) -> (Fault, Duration, u64) {
        let mut config = self.lock();
        let latency = Duration::from_millis(config.latency_ms);
        let fault = match config.script.pop_front() {
            Some(fault) => fault,
            None if config.rate > 0.0 && !config.kinds.is_empty() => {
                let mut rng = rand::rng();
                if rng.random_bool(config.rate.clamp(0.0, 1.0)) {
                    config.kinds[rng.random_range(0..config.kinds.len())]
                } else {
                    Fault::Pass
                }
            }
            None => Fault::Pass,
        };
        (fault, latency, config.retry_after_secs)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultConfig> {
        self.config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A fixed-window request budget, reported in Port's `x-ratelimit-*` headers.
pub struct RateLimiter {
    pub limit: u64,
    pub period: Duration,
    window: Mutex<(SystemTime, u64)>,
}

pub struct RateDecision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    pub period_secs: u64,
    /// Epoch seconds at which the window resets.
    pub reset_epoch: u64,
    pub retry_after_secs: u64,
}

impl RateLimiter {
    pub fn new(limit: u64, period: Duration) -> Self {
        RateLimiter {
            limit,
            period,
            window: Mutex::new((SystemTime::now(), 0)),
        }
    }

    pub fn take(&self) -> RateDecision {
        let now = SystemTime::now();
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if now.duration_since(window.0).unwrap_or_default() >= self.period {
            *window = (now, 0);
        }
        let allowed = window.1 < self.limit;
        if allowed {
            window.1 += 1;
        }
        let reset = window.0 + self.period;
        let epoch = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let until_reset = reset.duration_since(now).unwrap_or_default();
        RateDecision {
            allowed,
            limit: self.limit,
            remaining: self.limit - window.1,
            period_secs: self.period.as_secs().max(1),
            reset_epoch: epoch(reset).as_secs_f64().ceil() as u64,
            retry_after_secs: until_reset.as_secs_f64().ceil() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_plays_first_then_rate() {
        let faults = Faults::new(FaultConfig {
            script: VecDeque::from([Fault::Status(503), Fault::Reset]),
            rate: 1.0,
            kinds: vec![Fault::Status(429)],
            ..FaultConfig::default()
        });
        let seen: Vec<Fault> = (0..3).map(|_| faults.next().0).collect();
        assert_eq!(seen, [Fault::Status(503), Fault::Reset, Fault::Status(429)]);
    }

    #[test]
    fn faults_read_from_json() {
        let config: FaultConfig =
            serde_json::from_str(r#"{"script":["503","reset","pass"],"rate":0.2,"kinds":["429"]}"#)
                .expect("valid");
        assert_eq!(config.script.len(), 3);
        assert!(serde_json::from_str::<FaultConfig>(r#"{"kinds":["teapot"]}"#).is_err());
    }

    #[test]
    fn rate_limiter_spends_its_budget() {
        let limiter = RateLimiter::new(2, Duration::from_secs(60));
        assert!(limiter.take().allowed);
        let second = limiter.take();
        assert!(second.allowed);
        assert_eq!(second.remaining, 0);
        let third = limiter.take();
        assert!(!third.allowed);
        assert!(third.retry_after_secs > 0 && third.retry_after_secs <= 60);
    }
}
