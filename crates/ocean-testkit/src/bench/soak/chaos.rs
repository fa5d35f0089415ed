//! What a schedule does to the world: faults on both simulators, and changes
//! to Codecov's records between resyncs. All drawn from the schedule's seed.

use serde_json::Value;

use ocean_sim::codecov::CodecovSim;
use ocean_sim::codecov::changes::Change;
use ocean_sim::faults::{Fault, FaultConfig};
use ocean_sim::rng::SplitMix;

/// Port's documented failures, plus the network's.
const PORT_FAULTS: &[&str] = &[
    "429",
    "500",
    "502",
    "503",
    "504",
    "413",
    "reset",
    "drop",
    "slow",
    "partial",
    "expire-token",
];
const CODECOV_FAULTS: &[&str] = &[
    "429",
    "500",
    "502",
    "503",
    "reset",
    "drop",
    "slow",
    "empty-page",
    "empty-list",
];
const RATES: &[f64] = &[0.0, 0.05, 0.1, 0.2, 0.3];

/// One round's faults.
pub struct Armed {
    pub port: FaultConfig,
    pub codecov: FaultConfig,
    /// An owner that answers with this status all round, as if it vanished.
    pub vanished: Option<(String, u16)>,
}

fn draw_faults(rng: &mut SplitMix, names: &[&str]) -> FaultConfig {
    let mut kinds: Vec<Fault> = names
        .iter()
        .filter(|_| rng.below(2) == 0)
        .filter_map(|name| Fault::try_from(name.to_string()).ok())
        .collect();
    if kinds.is_empty() {
        let name = names[rng.below(names.len() as u64) as usize];
        kinds.extend(Fault::try_from(name.to_string()).ok());
    }
    FaultConfig {
        rate: RATES[rng.below(RATES.len() as u64) as usize],
        kinds,
        // Sometimes a 429 says when to come back, sometimes not.
        retry_after_secs: u64::from(rng.below(4) == 0),
        spike_ms: 20 + rng.below(150),
        seed: Some(rng.next_u64()),
        ..FaultConfig::default()
    }
}

pub fn arm(rng: &mut SplitMix, owners: &[String]) -> Armed {
    let port = draw_faults(rng, PORT_FAULTS);
    let codecov = draw_faults(rng, CODECOV_FAULTS);
    let vanished = (rng.below(5) == 0 && !owners.is_empty()).then(|| {
        let owner = owners[rng.below(owners.len() as u64) as usize].clone();
        (owner, [404, 500][rng.below(2) as usize])
    });
    Armed {
        port,
        codecov,
        vanished,
    }
}

/// Applies one random change to Codecov's records and says what it was.
pub fn change(codecov: &CodecovSim, rng: &mut SplitMix) -> String {
    let change = Change::draw(rng);
    let mut said = String::new();
    codecov.edit(|dataset| said = dataset.apply(&change));
    said
}

/// Notify payloads for a few repositories Codecov has processed a commit of.
pub fn webhooks(codecov: &CodecovSim, rng: &mut SplitMix) -> Vec<Value> {
    let candidates: Vec<(String, String)> = {
        let dataset = codecov.dataset();
        dataset
            .owners
            .iter()
            .flat_map(|o| o.repos.iter().map(|r| (o.username.clone(), r.name.clone())))
            .collect()
    };
    if candidates.is_empty() {
        return Vec::new();
    }
    (0..rng.below(6))
        .filter_map(|_| {
            let (owner, repo) = &candidates[rng.below(candidates.len() as u64) as usize];
            codecov.webhook_payload(owner, repo, rng.below(2) == 0)
        })
        .collect()
}
