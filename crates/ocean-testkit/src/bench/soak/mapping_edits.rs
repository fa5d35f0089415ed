//! What a user does to the mapping in Port's UI during a schedule: remove a
//! resource (its entities must go, except those a kept entity relates to),
//! or narrow the coverage selector to leave some repositories out (their
//! entities must go, by the resync or at once by their next webhook).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use ocean_host::host::Host;
use ocean_sim::port::PortSim;
use ocean_sim::rng::SplitMix;

/// (blueprint, identifier)
pub type Key = (String, String);

/// The blueprint a resource's mapping names, when it is a string literal.
fn static_blueprint(resource: &Value) -> Option<String> {
    let expression = resource.pointer("/port/entity/mappings/blueprint")?.as_str()?;
    serde_json::from_str::<String>(expression.trim()).ok()
}

/// Blueprints the mapping writes to; `None` for the default mapping (all of them).
pub fn mapped_blueprints(mapping: Option<&Value>) -> Option<BTreeSet<String>> {
    let resources = mapping?.get("resources")?.as_array()?;
    Some(resources.iter().filter_map(static_blueprint).collect())
}

async fn save(host: &Host, config: &Value, what: &str) -> Result<(), String> {
    host.port
        .patch_integration_config(config)
        .await
        .map(|_| ())
        .map_err(|e| format!("{what}: {e}"))
}

fn current_config(port: &PortSim, identifier: &str) -> Option<Value> {
    port.integration(identifier).map(|i| i["config"].clone())
}

/// Removes one resource of the mapping in Port (never the last); returns
/// its kind and the mapping now in force.
pub async fn remove_a_resource(
    host: &Host,
    port: &PortSim,
    identifier: &str,
    rng: &mut SplitMix,
) -> Result<Option<(String, Value)>, String> {
    let Some(mut config) = current_config(port, identifier) else {
        return Ok(None);
    };
    let Some(resources) = config.get_mut("resources").and_then(Value::as_array_mut) else {
        return Ok(None);
    };
    if resources.len() < 2 {
        return Ok(None);
    }
    let removed = resources.remove(rng.below(resources.len() as u64) as usize);
    save(host, &config, "removing a resource from the mapping").await?;
    let kind = removed["kind"].as_str().unwrap_or_default().to_string();
    Ok(Some((kind, config)))
}

/// Narrows the coverage resource's selector to leave out some of the
/// repositories (`owner/name`); returns the mapping now in force, or `None`
/// when there is no coverage resource or no repository.
pub async fn narrow_coverage(
    host: &Host,
    port: &PortSim,
    identifier: &str,
    repositories: &[String],
    rng: &mut SplitMix,
) -> Result<Option<(Vec<String>, Value)>, String> {
    let Some(mut config) = current_config(port, identifier) else {
        return Ok(None);
    };
    let Some(coverage) = config
        .get_mut("resources")
        .and_then(Value::as_array_mut)
        .and_then(|all| all.iter_mut().find(|r| r["kind"] == "coverage"))
    else {
        return Ok(None);
    };
    if repositories.is_empty() {
        return Ok(None);
    }
    let mut left_out: Vec<String> = repositories
        .iter()
        .filter(|_| rng.below(3) == 0)
        .cloned()
        .collect();
    if left_out.is_empty() {
        left_out.push(repositories[rng.below(repositories.len() as u64) as usize].clone());
    }
    let query = left_out
        .iter()
        .map(|r| format!("(.owner.username + \"/\" + .repo.name) != {}", json!(r)))
        .collect::<Vec<_>>()
        .join(" and ");
    coverage["selector"]["query"] = json!(query);
    save(host, &config, "narrowing the coverage selector").await?;
    Ok(Some((left_out, config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blueprints_come_from_the_mappings_string_literals() {
        let mapping = json!({"resources": [
            {"kind": "a", "port": {"entity": {"mappings": {"blueprint": "\"codecov_flag\""}}}},
            {"kind": "b", "port": {"entity": {"mappings": {"blueprint": ".dynamic"}}}},
        ]});
        assert_eq!(
            mapped_blueprints(Some(&mapping)),
            Some(BTreeSet::from(["codecov_flag".to_string()]))
        );
        assert_eq!(mapped_blueprints(None), None);
    }
}
