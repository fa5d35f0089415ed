//! Whether this integration owns an entity: Port records the writer's
//! User-Agent as the entity's `$datasource`, and an Ocean integration's is
//! `port-ocean/<type>/<version>/<identifier>/exporter`. Any version counts
//! (an upgrade keeps what an older version wrote); another installation of
//! the same type, a user in Port's UI or another integration does not.

/// The two `$datasource` fragments Port's search matches owned entities by
/// (`contains` rules, as Ocean's stale-entity search sends them).
pub fn datasource_fragments(integration_type: &str, integration_identifier: &str) -> [String; 2] {
    [
        format!("port-ocean/{integration_type}/"),
        format!("/{integration_identifier}/exporter"),
    ]
}

/// Whether an entity whose `$datasource` is `datasource` was written by this
/// integration. Live deletes ask this before deleting an entity they read.
pub fn owns(datasource: &str, integration_type: &str, integration_identifier: &str) -> bool {
    let [kind, installation] = datasource_fragments(integration_type, integration_identifier);
    datasource.starts_with(&kind) && datasource.ends_with(&installation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_installation_owns_what_any_of_its_versions_wrote() {
        assert!(owns(
            "port-ocean/example/0.1.0/my-example/exporter",
            "example",
            "my-example"
        ));
        assert!(owns(
            "port-ocean/example/9.9.9/my-example/exporter",
            "example",
            "my-example"
        ));
    }

    #[test]
    fn others_own_theirs() {
        for other in [
            "port-ocean/example/0.1.0/other-example/exporter",
            "port-ocean/github/0.1.0/my-example/exporter",
            "port-ocean/example/0.1.0/not-my-example/exporter",
            "admin",
            "",
        ] {
            assert!(!owns(other, "example", "my-example"), "{other}");
        }
    }
}
