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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fragments_name_the_type_and_the_installation() {
        assert_eq!(
            datasource_fragments("example", "my-example"),
            [
                "port-ocean/example/".to_string(),
                "/my-example/exporter".to_string()
            ]
        );
    }
}
