//! `bench mapping`: the engine against the jq binary on the same generated
//! Codecov notify payloads, with an equivalent jq program built from the mapping.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{corpus, mib, peak_rss_bytes};
use ocean_host::mapping::lazy_item::LazyItem;
use ocean_host::mapping::{JqOptions, JqProgram, ResourceMapper};
use ocean_host::port_app_config::{self, MappingSource, model::ResourceConfig};
use ocean_sim::rng::SplitMix;

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
    /// Measure the mapping corpus instead: the share of expressions evaluated
    /// natively, speed against jq, agreement with jq.
    #[arg(long)]
    corpus: bool,
    /// The corpus directory (default: this source tree's tests/data/mapping-corpus).
    #[arg(long)]
    corpus_dir: Option<PathBuf>,
}

/// Ocean's mapping rate on this machine class, as stated in the foundation issue.
const OCEAN_ENTITIES_PER_SEC: f64 = 1_400.0;

pub fn run(args: &MappingBenchArgs) -> anyhow::Result<ExitCode> {
    if args.corpus {
        let dir = args.corpus_dir.clone().unwrap_or_else(corpus::default_dir);
        return run_corpus(args, &dir);
    }
    let loaded = port_app_config::load_file(&args.mapping, JqOptions::default())?;
    // A webhook mapping maps `{body, headers, queryParams}` envelopes; its first entry is measured.
    let (resource, index, webhook) = match &loaded.source {
        MappingSource::AppConfig(config) => {
            let index = config
                .resources
                .iter()
                .position(|r| r.kind == args.kind)
                .with_context(|| {
                    format!("no resource of kind {} in {}", args.kind, args.mapping.display())
                })?;
            (config.resources[index].clone(), index, false)
        }
        MappingSource::Webhook(list) => {
            let first = list.first().context("the webhook mapping is empty")?;
            (first.to_resource(), 0, true)
        }
    };
    let mapper = &loaded.mappers[index];
    let resource = &resource;

    let dir = std::env::temp_dir().join(format!("ocean-codecov-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let items_path = dir.join("items.jsonl");
    write_items(&items_path, args.items, webhook)?;

    println!(
        "mapping benchmark: {} generated Codecov notify payloads{}, kind {}, {} JQ expressions per item ({} evaluated natively), one thread",
        args.items,
        if webhook { " in webhook envelopes" } else { "" },
        resource.kind,
        mapper.expression_count(),
        mapper.native_expression_count()
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
    let (floor_items, floor_secs, item_bytes) = run_floor(&items_path, args.items.min(MAPPING_ONLY_ITEMS))?;
    let floor_rate = floor_items as f64 / floor_secs;
    println!(
        "floor  : {floor_items} items in {floor_secs:.3} s = {} items/s (serde_json: parse each {item_bytes}-byte item to a value and print it, nothing else); mapping only is {:.0}% of it",
        thousands(floor_rate),
        100.0 * map_rate / floor_rate
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

fn write_items(path: &Path, n: usize, webhook: bool) -> anyhow::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    let mut rng = SplitMix(42);
    for i in 0..n {
        let payload = notify_payload(i, &mut rng);
        let item = if webhook {
            json!({"body": payload, "headers": {"content-type": "application/json"}, "queryParams": {}})
        } else {
            payload
        };
        serde_json::to_writer(&mut out, &item)?;
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

/// The floor under any mapping: parse each item into a value and print it back.
fn run_floor(items: &Path, n: usize) -> anyhow::Result<(usize, f64, usize)> {
    let reader = BufReader::new(std::fs::File::open(items)?);
    let page: Vec<String> = reader.lines().take(n).collect::<Result<_, _>>()?;
    let bytes = page.iter().map(String::len).sum::<usize>() / page.len().max(1);
    let mut out = Vec::with_capacity(4096);
    let start = Instant::now();
    for line in &page {
        let v: Value = serde_json::from_str(line)?;
        out.clear();
        serde_json::to_writer(&mut out, &v)?;
        std::hint::black_box(&out);
    }
    Ok((page.len(), start.elapsed().as_secs_f64(), bytes))
}

/// The resource as one jq program producing the same entity objects.
pub fn jq_program(resource: &ResourceConfig) -> String {
    use ocean_host::port_app_config::model::MappingValue;
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

/// Items per kind for the corpus speed runs.
const CORPUS_ITEMS: usize = 20_000;

/// `bench mapping --corpus`: (a) the share of expressions evaluated natively,
/// (b) entities/s over each whole mapping against the jq binary, one thread,
/// (c) agreement with the jq binary on every case of the differential test.
fn run_corpus(args: &MappingBenchArgs, dir: &Path) -> anyhow::Result<ExitCode> {
    let corpus = corpus::load(dir)?;
    let cases = corpus::cases(&corpus);
    println!(
        "mapping corpus: {} mappings, {} expressions, one thread ({})",
        corpus.len(),
        cases.len(),
        dir.display()
    );

    // (a) Native share, of expressions and of evaluations over the derived inputs.
    let (mut native, mut runs, mut native_runs) = (0, 0, 0);
    for (case, inputs) in &cases {
        let program = JqProgram::compile(&case.expr)?;
        native += usize::from(program.is_native());
        for input in inputs.iter() {
            let raw = RawValue::from_string(input.to_string())?;
            runs += 1;
            native_runs += usize::from(program.answers_natively(&LazyItem::new(&raw)));
        }
    }
    println!(
        "(a) native: {native} of {} expressions ({:.1}%); {native_runs} of {runs} evaluations on the derived inputs answered without jaq ({:.1}%)",
        cases.len(),
        100.0 * native as f64 / cases.len() as f64,
        100.0 * native_runs as f64 / runs as f64
    );

    // (b) Whole mappings against jq.
    let tmp = std::env::temp_dir().join(format!("ocean-codecov-corpus-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut worst: Option<(f64, String)> = None;
    println!(
        "(b) speed, {CORPUS_ITEMS} items per kind (the base items repeated), parse + map + write JSON against `{} -c`:",
        args.jq
    );
    for mapping in &corpus {
        let (mut ours, mut theirs, mut entities, mut jq_entities) = (0.0, 0.0, 0, 0);
        for (resource, mapper) in mapping.resources().iter().zip(&mapping.loaded.mappers) {
            let items_path = tmp.join("items.jsonl");
            let base = mapping.base_items(&resource.kind);
            if base.is_empty() {
                continue;
            }
            let mut out = BufWriter::new(std::fs::File::create(&items_path)?);
            for i in 0..CORPUS_ITEMS {
                serde_json::to_writer(&mut out, &base[i % base.len()])?;
                out.write_all(b"\n")?;
            }
            out.flush()?;
            drop(out);
            let (count, secs) = run_engine_counting(mapper, &items_path)?;
            ours += secs;
            entities += count;
            let (jq_count, jq_secs, _) = run_jq(&args.jq, &jq_program(resource), &items_path, &tmp)?;
            theirs += jq_secs;
            jq_entities += jq_count;
        }
        let (rate, jq_rate) = (entities as f64 / ours, jq_entities as f64 / theirs);
        let ratio = rate / jq_rate;
        println!(
            "    {:<18} engine {:>10} entities/s, jq {:>8} entities/s: {ratio:.1}x",
            mapping.name,
            thousands(rate),
            thousands(jq_rate)
        );
        if worst.as_ref().is_none_or(|(w, _)| ratio < *w) {
            worst = Some((ratio, mapping.name.clone()));
        }
    }
    if let Some((ratio, name)) = &worst {
        println!("    slowest against jq: {name}, {ratio:.1}x");
    }
    std::fs::remove_dir_all(&tmp).ok();

    // (c) Agreement with jq on every case.
    let (mut agree, mut total) = (0, 0);
    let mut differ = Vec::new();
    for (case, inputs) in &cases {
        let ours = corpus::engine_outcomes(&case.expr, inputs);
        let theirs = corpus::jq_outcomes(&args.jq, &case.expr, inputs)?;
        for (a, b) in ours.iter().zip(&theirs) {
            total += 1;
            if a == b {
                agree += 1;
            } else if differ.len() < 10 {
                differ.push(format!(
                    "{}/{} {}: {}",
                    case.mapping, case.kind, case.field, case.expr
                ));
            }
        }
    }
    println!("(c) agreement with {}: {agree} of {total} cases", args.jq);
    for d in &differ {
        println!("    differs: {d}");
    }
    Ok(if agree == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Parse, map and write every item; items that fail to map are counted as no entity.
fn run_engine_counting(mapper: &ResourceMapper, items: &Path) -> anyhow::Result<(usize, f64)> {
    let text = std::fs::read_to_string(items)?;
    let mut buf = Vec::with_capacity(4096);
    let mut count = 0;
    let start = Instant::now();
    for line in text.lines() {
        let item = LazyItem::parse(line)?;
        for entity in &mapper.map_item(&item).entities {
            buf.clear();
            entity.write_json(&mut buf);
            std::hint::black_box(&buf);
            count += 1;
        }
    }
    Ok((count, start.elapsed().as_secs_f64()))
}
