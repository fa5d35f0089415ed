//! The manual's configuration reference is the code's: the tables between
//! the markers in docs/src/configuration.md are exactly what
//! `ocean-codecov settings` prints (made from the settings' own constants and
//! `.port/spec.yaml`). When this fails, regenerate the tables with
//! `cargo run -- settings` and paste them between the markers.

use ocean_host::settings::IntegrationSpec;
use ocean_host::settings::reference::{reference, render};

#[test]
fn the_configuration_page_is_the_settings_reference() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/src/configuration.md"))
        .expect("the manual's configuration page");
    let begin = "<!-- settings:begin -->";
    let end = "<!-- settings:end -->";
    let (_, rest) = page.split_once(begin).expect("the begin marker");
    let (tables, _) = rest.split_once(end).expect("the end marker");
    let tables: String = tables
        .lines()
        .filter(|line| !line.starts_with("<!--"))
        .collect::<Vec<_>>()
        .join("\n");
    let spec = IntegrationSpec::parse(codecov::wiring::SPEC).expect("the spec parses");
    let generated = render(&reference(&spec));
    assert_eq!(
        tables.trim(),
        generated.trim(),
        "docs/src/configuration.md disagrees with the settings: regenerate it with `cargo run -- settings`"
    );
}
