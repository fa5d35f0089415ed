//! `ocean-codecov map`: raw items in, one Port entity per line out.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::value::RawValue;

use ocean_host::mapping::{JqOptions, ResourceMapper};
use ocean_host::port_app_config;

#[derive(clap::Args)]
pub struct MapArgs {
    /// A port-app-config (YAML/JSON) or Port webhook mapping (JSON list).
    #[arg(long)]
    mapping: PathBuf,
    /// Only the resources of this kind (port-app-config) or blueprint (webhook mapping).
    #[arg(long)]
    kind: Option<String>,
    /// The raw items; `-` reads standard input.
    #[arg(long, default_value = "-")]
    input: PathBuf,
    /// Let `env` and `$ENV` read this process's environment (off, as in Ocean).
    #[arg(long)]
    allow_env: bool,
}

pub fn run(args: &MapArgs) -> anyhow::Result<ExitCode> {
    let options = JqOptions {
        allow_env: args.allow_env,
    };
    let loaded = port_app_config::load_file(&args.mapping, options)?;
    let mappers = select_kind(&loaded.mappers, args.kind.as_deref())?;
    let mut input = open_input(&args.input)?;

    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    let mut line = Vec::with_capacity(4096);
    let mut map_one = |index: usize, item: Box<RawValue>| -> anyhow::Result<()> {
        let item = if loaded.is_webhook() {
            envelope(item)?
        } else {
            item
        };
        for mapper in &mappers {
            let outcome = mapper.map_raw(&item);
            for entity in &outcome.entities {
                line.clear();
                entity.write_json(&mut line);
                line.push(b'\n');
                out.write_all(&line)?;
            }
            for error in &outcome.errors {
                eprintln!("item {index} (kind {}): {error}", mapper.kind());
            }
            failed += usize::from(!outcome.errors.is_empty());
        }
        Ok(())
    };
    // JSON lines and concatenated values are read and mapped one at a time, so
    // memory stays flat; a JSON array is read whole first (each item kept as
    // its raw text, not parsed), so its memory grows with the input.
    if starts_with_array(&mut input)? {
        let items: Vec<Box<RawValue>> =
            serde_json::from_reader(input).context("the input is not valid JSON")?;
        for (index, item) in items.into_iter().enumerate() {
            map_one(index, item)?;
        }
    } else {
        let stream = serde_json::Deserializer::from_reader(input).into_iter::<Box<RawValue>>();
        for (index, item) in stream.enumerate() {
            map_one(
                index,
                item.with_context(|| format!("item {index} is not valid JSON"))?,
            )?;
        }
    }
    out.flush()?;
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn select_kind<'a>(
    mappers: &'a [ResourceMapper],
    kind: Option<&str>,
) -> anyhow::Result<Vec<&'a ResourceMapper>> {
    let chosen: Vec<_> = mappers
        .iter()
        .filter(|m| kind.is_none_or(|k| m.kind() == k))
        .collect();
    if chosen.is_empty() {
        let kinds: Vec<_> = mappers.iter().map(ResourceMapper::kind).collect();
        anyhow::bail!(
            "no resource of kind {:?} in the mapping; its kinds are: {}",
            kind.unwrap_or_default(),
            kinds.join(", ")
        );
    }
    Ok(chosen)
}

fn open_input(path: &Path) -> anyhow::Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, file)))
}

/// A top-level array is a list of items; anything else is a stream of items.
fn starts_with_array(input: &mut dyn BufRead) -> anyhow::Result<bool> {
    loop {
        let buf = input.fill_buf().context("reading the input")?;
        let Some(pos) = buf.iter().position(|b| !b.is_ascii_whitespace()) else {
            if buf.is_empty() {
                return Ok(false);
            }
            let n = buf.len();
            input.consume(n);
            continue;
        };
        let is_array = buf[pos] == b'[';
        input.consume(pos);
        return Ok(is_array);
    }
}

/// Port evaluates webhook mappings over `{body, headers, queryParams}`.
fn envelope(item: Box<RawValue>) -> anyhow::Result<Box<RawValue>> {
    let keys: Option<HashMap<&str, &RawValue>> = serde_json::from_str(item.get()).ok();
    let is_envelope = keys.is_some_and(|k| {
        k.contains_key("body") && k.keys().all(|k| matches!(*k, "body" | "headers" | "queryParams"))
    });
    if is_envelope {
        return Ok(item);
    }
    let wrapped = format!(r#"{{"body":{},"headers":{{}},"queryParams":{{}}}}"#, item.get());
    Ok(RawValue::from_string(wrapped)?)
}
