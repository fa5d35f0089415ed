//! Misbehaviour on demand: a scripted sequence of faults, then random ones at
//! a given rate, plus added latency. Set by flags or `PUT /_admin/faults`.
//! Faults a service cannot show (a partial bulk reply on Codecov, an empty
//! page on Port) answer normally there.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
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
    /// Cut the connection without applying the request (it died on the way in).
    Drop,
    /// Answer normally after a latency spike of `spikeMs`.
    Slow,
    /// Port: a bulk upsert applies every other entity and answers 207 with
    /// errors for the rest.
    Partial,
    /// Port: every issued token expires just before this request is checked.
    ExpireToken,
    /// Port: the request is applied and answered 2xx, with a body cut short
    /// (a proxy or a bug upstream): the client cannot read what happened.
    Garbled,
    /// Codecov: a list page comes back with no results, its count and links unchanged.
    EmptyPage,
    /// Codecov: an owner's repository list comes back empty (count 0).
    EmptyList,
}

/// Every fault by its name in flags and `/_admin/faults`.
const NAMED: &[(&str, Fault)] = &[
    ("pass", Fault::Pass),
    ("reset", Fault::Reset),
    ("drop", Fault::Drop),
    ("slow", Fault::Slow),
    ("partial", Fault::Partial),
    ("expire-token", Fault::ExpireToken),
    ("garbled", Fault::Garbled),
    ("empty-page", Fault::EmptyPage),
    ("empty-list", Fault::EmptyList),
];

impl TryFrom<String> for Fault {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        if let Some((_, fault)) = NAMED.iter().find(|(name, _)| *name == text) {
            return Ok(*fault);
        }
        match text.parse::<u16>() {
            Ok(code) if (400..600).contains(&code) => Ok(Fault::Status(code)),
            _ => {
                let names: Vec<&str> = NAMED.iter().map(|(name, _)| *name).collect();
                Err(format!(
                    "unknown fault {text:?}: use a 4xx/5xx status or one of {}",
                    names.join(", ")
                ))
            }
        }
    }
}

impl From<Fault> for String {
    fn from(fault: Fault) -> String {
        match fault {
            Fault::Status(code) => code.to_string(),
            named => NAMED
                .iter()
                .find(|(_, f)| *f == named)
                .map(|(name, _)| name.to_string())
                .unwrap_or_default(),
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
    /// `Retry-After` sent with an injected 429; 0 sends none.
    pub retry_after_secs: u64,
    /// The latency a `slow` fault adds.
    pub spike_ms: u64,
    /// Requests served at once at most; the rest wait their turn, as behind a
    /// server's worker pool (0: no cap).
    pub max_in_flight: usize,
    /// Seeds the draws, so a run's faults can be replayed; random when absent.
    pub seed: Option<u64>,
}

pub struct Faults {
    config: Mutex<FaultConfig>,
    rng: Mutex<StdRng>,
    injected: Mutex<BTreeMap<String, u64>>,
    in_flight: Mutex<usize>,
    turn: tokio::sync::Notify,
}

/// A request's place among those served at once; freed when dropped.
pub struct InFlight<'a> {
    faults: &'a Faults,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.faults.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        *in_flight = in_flight.saturating_sub(1);
        self.faults.turn.notify_waiters();
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultConfig::default())
    }
}

fn rng_for(config: &FaultConfig) -> StdRng {
    match config.seed {
        Some(seed) => StdRng::seed_from_u64(seed),
        None => StdRng::from_os_rng(),
    }
}

impl Faults {
    pub fn new(config: FaultConfig) -> Self {
        Faults {
            rng: Mutex::new(rng_for(&config)),
            config: Mutex::new(config),
            injected: Mutex::default(),
            in_flight: Mutex::new(0),
            turn: tokio::sync::Notify::new(),
        }
    }

    /// Waits until fewer than `maxInFlight` requests are being served, then takes a place.
    pub async fn enter(&self) -> InFlight<'_> {
        loop {
            let turn = self.turn.notified();
            {
                let cap = self.lock().max_in_flight;
                let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
                if cap == 0 || *in_flight < cap {
                    *in_flight += 1;
                    return InFlight { faults: self };
                }
            }
            // A place freed, or the cap changed, wakes every waiter; 50 ms bounds a missed wake.
            let _ = tokio::time::timeout(Duration::from_millis(50), turn).await;
        }
    }

    /// How many of each fault were drawn so far (a fault a route cannot show still counts).
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.injected
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn set(&self, config: FaultConfig) {
        *self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = rng_for(&config);
        *self.lock() = config;
    }

    pub fn get(&self) -> FaultConfig {
        self.lock().clone()
    }

    /// The fault for the next request, the latency to add, and the `Retry-After` of a 429.
    pub fn next(&self) -> (Fault, Duration, u64) {
        let mut config = self.lock();
        let mut latency = Duration::from_millis(config.latency_ms);
        let fault = match config.script.pop_front() {
            Some(fault) => fault,
            None if config.rate > 0.0 && !config.kinds.is_empty() => {
                let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if rng.random_bool(config.rate.clamp(0.0, 1.0)) {
                    config.kinds[rng.random_range(0..config.kinds.len())]
                } else {
                    Fault::Pass
                }
            }
            None => Fault::Pass,
        };
        if fault == Fault::Slow {
            latency += Duration::from_millis(config.spike_ms);
        }
        if fault != Fault::Pass {
            *self
                .injected
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(String::from(fault))
                .or_default() += 1;
        }
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
        for (name, fault) in NAMED {
            assert_eq!(Fault::try_from(name.to_string()), Ok(*fault));
            assert_eq!(String::from(*fault), *name);
        }
    }

    #[test]
    fn drawn_faults_are_counted_and_slow_adds_its_spike() {
        let faults = Faults::new(FaultConfig {
            script: VecDeque::from([Fault::Slow, Fault::Pass, Fault::Status(503)]),
            spike_ms: 40,
            latency_ms: 2,
            ..FaultConfig::default()
        });
        assert_eq!(faults.next().1, Duration::from_millis(42));
        assert_eq!(faults.next().1, Duration::from_millis(2));
        faults.next();
        let counted: Vec<(String, u64)> = faults.injected().into_iter().collect();
        assert_eq!(counted, [("503".to_string(), 1), ("slow".to_string(), 1)]);
    }

    #[tokio::test]
    async fn no_more_than_max_in_flight_are_served_at_once() {
        let faults = Faults::new(FaultConfig {
            max_in_flight: 2,
            ..FaultConfig::default()
        });
        let first = faults.enter().await;
        let _second = faults.enter().await;
        let third = tokio::time::timeout(Duration::from_millis(100), faults.enter()).await;
        assert!(third.is_err(), "a third waits while two are served");
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(30), faults.enter()).await;
        assert!(third.is_ok(), "a freed place lets it in");
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
