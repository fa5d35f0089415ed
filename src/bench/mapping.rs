//! `bench mapping`: the engine against the jq binary on the same generated
//! Codecov notify payloads, with an equivalent jq program built from the mapping.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{mib, peak_rss_bytes};
use crate::runtime::mapping::lazy_item::LazyItem;
use crate::runtime::mapping::{JqOptions, ResourceMapper};
use crate::runtime::port_app_config::{self, MappingSource, model::ResourceConfig};
use crate::sim::rng::SplitMix;

#[derive(clap::Args)]
pub struct MappingBenchArgs {
    /// How many items to map.
    #[arg(long, default_value_t = 100_000)]
    items: usize,
    /// The port-app-config whose resource is measured.
    #[arg(long, default_value = ".port/resources/port-app-config.yml")]
    mapping: PathBuf,
    #[arg(long, default_value = "coverage")]
    kind: String,
    /// The jq binary to compare with; the comparison is skipped if it is absent.
    #[arg(long, default_value = "jq")]
    jq: String,
}

/// Ocean's mapping rate on this machine class, as stated in the foundation issue.
const OCEAN_ENTITIES_PER_SEC: f64 = 1_400.0;

pub fn run(args: &MappingBenchArgs) -> anyhow::Result<ExitCode> {
    let loaded = port_app_config::load_file(&args.mapping, JqOptions::default())?;
    let MappingSource::AppConfig(config) = &loaded.source else {
        bail!("bench mapping takes a port-app-config, not a webhook mapping");
    };
    let index = config
        .resources
        .iter()
        .position(|r| r.kind == args.kind)
        .with_context(|| format!("no resource of kind {} in {}", args.kind, args.mapping.display()))?;
    let mapper = &loaded.mappers[index];
    let resource = &config.resources[index];

    let dir = std::env::temp_dir().join(format!("ocean-codecov-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let items_path = dir.join("items.jsonl");
    write_items(&items_path, args.items)?;

    println!(
        "mapping benchmark: {} generated Codecov notify payloads, kind {}, {} JQ expressions per item, one thread",
        args.items,
        args.kind,
        mapper.expression_count()
    );
    let (engine_count, engine_secs, engine_first) = run_engine(mapper, &items_path)?;
    let engine_rate = engine_count as f64 / engine_secs;
    println!(
        "engine : {engine_count} entities in {engine_secs:.3} s = {} entities/s (parse JSON, map, write JSON)",
        thousands(engine_rate)
    );
    let (mapped, map_secs) = run_mapping_only(mapper, &items_path, args.items.min(MAPPING_ONLY_ITEMS))?;
    let map_rate = mapped as f64 / map_secs;
    println!(
        "engine : {mapped} entities in {map_secs:.3} s = {} entities/s (mapping only: items already in memory, as a resync holds a fetched page)",
        thousands(map_rate)
    );
    if let Some(peak) = peak_rss_bytes() {
        println!("engine peak RSS: {:.1} MiB (whole process)", mib(peak));
    }
    let program = jq_program(resource);
    match run_jq(&args.jq, &program, &items_path, &dir) {
        Ok((jq_count, jq_secs, jq_first)) => {
            let jq_rate = jq_count as f64 / jq_secs;
            println!(
                "jq     : {jq_count} entities in {jq_secs:.3} s = {} entities/s ({} -c, same items)",
                thousands(jq_rate),
                args.jq
            );
            let same = jq_first == engine_first && jq_count == engine_count;
            println!(
                "ratio  : {:.1}x jq end to end; outputs {}",
                engine_rate / jq_rate,
                if same { "agree" } else { "DIFFER" }
            );
        }
        Err(e) => println!("jq     : skipped ({e:#})"),
    }
    println!(
        "ratio  : {:.0}x Ocean's ~{} entities/s (mapping only, Ocean's figure from the foundation issue)",
        map_rate / OCEAN_ENTITIES_PER_SEC,
        thousands(OCEAN_ENTITIES_PER_SEC)
    );
    println!("jq program: {program}");
    std::fs::remove_dir_all(&dir).ok();
    Ok(ExitCode::SUCCESS)
}

fn write_items(path: &Path, n: usize) -> anyhow::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let mut rng = SplitMix(42);
    for i in 0..n {
        serde_json::to_writer(&mut out, &notify_payload(i, &mut rng))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// A payload shaped as Codecov's notify webhook (see resources/codecov/).
pub fn notify_payload(i: usize, rng: &mut SplitMix) -> Value {
    let owner = format!("org-{}", i % 97);
    let repo = format!("repo-{i}");
    let lines = 100 + rng.below(50_000);
    let hits = rng.below(lines + 1);
    let coverage = format!("{:.5}", hits as f64 * 100.0 / lines as f64);
    let commit = format!(
        "{:040x}",
        u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())
    );
    let totals = json!({
        "files": 1 + rng.below(900), "lines": lines, "hits": hits, "misses": lines - hits,
        "partials": 0, "coverage": coverage, "branches": 0, "methods": 0, "messages": 0,
        "sessions": 1 + rng.below(4), "complexity": 0, "complexity_total": 0,
        "diff": [0, 0, 0, 0, 0, null, 0, 0, 0, 0, null, null, 0]
    });
    let author = json!({"username": owner, "service_id": "1", "email": "dev@example.com", "service": "github", "name": "Dev"});
    json!({
        "repo": {"url": format!("https://app.codecov.io/gh/{owner}/{repo}"), "service_id": i.to_string(), "name": repo, "private": false},
        "head": {
            "author": author, "url": format!("https://app.codecov.io/gh/{owner}/{repo}/commit/{commit}"),
            "timestamp": format!("2024-{:02}-{:02}T{:02}:{:02}:{:02}", 1 + rng.below(12), 1 + rng.below(28), rng.below(24), rng.below(60), rng.below(60)),
            "totals": totals, "commitid": commit,
            "service_url": format!("https://github.com/{owner}/{repo}/commit/{commit}"),
            "branch": "main", "message": "Update"
        },
        "base": null,
        "compare": {"url": format!("https://app.codecov.io/gh/{owner}/{repo}/pull/1"), "message": "no change", "coverage": "0.00", "notation": ""},
        "owner": {"username": owner, "service_id": "1", "service": "github"},
        "pull": null
    })
}

fn run_engine(mapper: &ResourceMapper, items: &Path) -> anyhow::Result<(usize, f64, Option<Value>)> {
    let reader = BufReader::new(std::fs::File::open(items)?);
    let mut sink = std::io::sink();
    let mut buf = Vec::with_capacity(4096);
    let mut count = 0;
    let mut first = None;
    let start = Instant::now();
    for line in reader.lines() {
        let line = line?;
        // Validates the whole item, as jq's parser does, while indexing its top level.
        let item = LazyItem::parse(&line)?;
        let outcome = mapper.map_item(&item);
        if let Some(e) = outcome.errors.first() {
            bail!("the engine failed on item {count}: {e}");
        }
        for entity in &outcome.entities {
            buf.clear();
            entity.write_json(&mut buf);
            sink.write_all(&buf)?;
            if first.is_none() {
                first = Some(serde_json::from_slice(&buf)?);
            }
            count += 1;
        }
    }
    Ok((count, start.elapsed().as_secs_f64(), first))
}

/// Items held in memory for the mapping-only pass (bounded, to keep RSS honest).
const MAPPING_ONLY_ITEMS: usize = 20_000;

fn run_mapping_only(mapper: &ResourceMapper, items: &Path, n: usize) -> anyhow::Result<(usize, f64)> {
    let reader = BufReader::new(std::fs::File::open(items)?);
    let mut page: Vec<Box<RawValue>> = Vec::with_capacity(n);
    for line in reader.lines().take(n) {
        page.push(serde_json::from_str(&line?)?);
    }
    let mut count = 0;
    let start = Instant::now();
    for item in &page {
        let outcome = mapper.map_raw(item);
        count += outcome.entities.len();
        std::hint::black_box(outcome);
    }
    Ok((count, start.elapsed().as_secs_f64()))
}

/// The resource as one jq program producing the same entity objects.
pub fn jq_program(resource: &ResourceConfig) -> String {
    use crate::runtime::port_app_config::model::MappingValue;
    let m = &resource.port.entity.mappings;
    let field = |v: &MappingValue| match v {
        MappingValue::Jq(code) => format!("({code})"),
        MappingValue::Search(_) => "null".into(),
    };
    let object = |pairs: Vec<(String, String)>| {
        let body: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{}: {v}", Value::String(k)))
            .collect();
        format!("{{{}}}", body.join(", "))
    };
    let mut top = vec![("identifier".to_owned(), field(&m.identifier))];
    if let Some(t) = &m.title {
        top.push(("title".into(), format!("({t})")));
    }
    top.push(("blueprint".into(), format!("({})", m.blueprint)));
    let props = m
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), format!("({v})")))
        .collect();
    top.push(("properties".into(), object(props)));
    let rels = m.relations.iter().map(|(k, v)| (k.clone(), field(v))).collect();
    top.push(("relations".into(), object(rels)));
    format!("select({}) | {}", resource.selector.query, object(top))
}

fn run_jq(jq: &str, program: &str, items: &Path, dir: &Path) -> anyhow::Result<(usize, f64, Option<Value>)> {
    let out_path = dir.join("jq-out.jsonl");
    let out = std::fs::File::create(&out_path)?;
    let start = Instant::now();
    let status = Command::new(jq)
        .arg("-c")
        .arg(program)
        .arg(items)
        .stdout(out)
        .stderr(Stdio::inherit())
        .status()
        .with_context(|| format!("cannot run {jq}"))?;
    let secs = start.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{jq} exited with {status}");
    }
    let reader = BufReader::new(std::fs::File::open(&out_path)?);
    let mut count = 0;
    let mut first = None;
    for line in reader.lines() {
        let line = line?;
        if first.is_none() {
            first = Some(serde_json::from_str(&line)?);
        }
        count += 1;
    }
    Ok((count, secs, first))
}

fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
