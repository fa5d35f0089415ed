//! jq 1.6's regular-expression builtins (`test`, `match`, `capture`, `scan`,
//! `split/2`, `sub`, `gsub`) over `fancy-regex`, which has the look-around,
//! back-references and named groups of Oniguruma (the engine jq uses). Syntax
//! whose meaning differs between the two, flags other than `g`, `i`, `x`, and
//! empty matches are declined, so jaq answers those.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::Fault;
use super::values::describe;

pub struct JqRegex {
    re: fancy_regex::Regex,
    names: Vec<Option<String>>,
    global: bool,
}

/// Oniguruma escapes and constructs that fancy-regex reads differently or not at all.
const DIFFERENT: &[&str] = &[
    "\\h", "\\H", "\\Z", "\\G", "\\K", "\\R", "\\X", "\\y", "\\Y", "\\O", "\\Q", "\\u", "\\o", "(?~", "*+",
    "++", "?+", "}+", "\\p{^", "[[:^", "\\g",
];

const CACHE_SIZE: usize = 64;

/// Compiled patterns by (pattern, flags).
type Cache = Vec<((String, String), Rc<JqRegex>)>;

thread_local! {
    /// Mappings use a handful of fixed patterns: compile each once per thread.
    static CACHE: RefCell<Cache> = const { RefCell::new(Vec::new()) };
}

/// The pattern and flags as jq 1.6 takes them (`null` flags are none).
pub fn compile(re: &Value, flags: &Value) -> Result<Rc<JqRegex>, Fault> {
    let pattern = match re {
        Value::String(pattern) => pattern,
        // `[re, flags]` as one argument is rare; jaq answers it.
        Value::Array(_) => return Err(Fault::Decline),
        other => return Err(Fault::Error(format!("{} not a string or array", describe(other)))),
    };
    let flags = match flags {
        Value::Null => "",
        Value::String(f) => f.as_str(),
        other => return Err(Fault::Error(format!("{} is not a string", describe(other)))),
    };
    let key = (pattern.clone(), flags.to_owned());
    if let Some(hit) = CACHE.with(|c| c.borrow().iter().find(|(k, _)| *k == key).map(|(_, r)| r.clone())) {
        return Ok(hit);
    }
    let (mut global, mut insensitive, mut extended) = (false, false, false);
    for c in flags.chars() {
        match c {
            'g' => global = true,
            'i' => insensitive = true,
            'x' => extended = true,
            'n' | 's' | 'l' | 'p' => return Err(Fault::Decline),
            other => return Err(Fault::Error(format!("{other} is not a valid modifier string"))),
        }
    }
    if DIFFERENT.iter().any(|d| pattern.contains(d)) {
        return Err(Fault::Decline);
    }
    let re = fancy_regex::RegexBuilder::new(pattern)
        .case_insensitive(insensitive)
        .ignore_whitespace(extended)
        .build()
        .map_err(|_| Fault::Decline)?;
    let names = re.capture_names().map(|n| n.map(str::to_owned)).collect();
    let compiled = Rc::new(JqRegex { re, names, global });
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_SIZE {
            c.remove(0);
        }
        c.push((key, compiled.clone()));
    });
    Ok(compiled)
}

/// One match: byte ranges of the whole match and of each group (`None` when unmatched).
struct Found {
    whole: (usize, usize),
    groups: Vec<Option<(usize, usize)>>,
}

fn need_string(v: &Value) -> Result<&str, Fault> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(Fault::Error(format!(
            "{} cannot be matched, as it is not a string",
            describe(other)
        ))),
    }
}

/// The first match, or every match with the `g` flag (or when `all`).
fn find(s: &str, re: &JqRegex, all: bool) -> Result<Vec<Found>, Fault> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos <= s.len() {
        let caps = match re.re.captures_from_pos(s, pos) {
            Ok(Some(caps)) => caps,
            Ok(None) => break,
            Err(_) => return Err(Fault::Decline),
        };
        let Some(m) = caps.get(0) else { break };
        let repeat = all || re.global;
        if m.start() == m.end() && repeat {
            // jq 1.6 steps over empty matches byte by byte; not reproduced here.
            return Err(Fault::Decline);
        }
        let groups = (1..caps.len())
            .map(|i| caps.get(i).map(|g| (g.start(), g.end())))
            .collect();
        out.push(Found {
            whole: (m.start(), m.end()),
            groups,
        });
        if !repeat {
            break;
        }
        pos = m.end();
    }
    Ok(out)
}

fn chars(s: &str, (start, end): (usize, usize)) -> (usize, usize) {
    (s[..start].chars().count(), s[start..end].chars().count())
}

/// jq 1.6's match object.
fn match_object(s: &str, re: &JqRegex, f: &Found) -> Value {
    let (offset, length) = chars(s, f.whole);
    let mut m = Map::new();
    m.insert("offset".into(), Value::from(offset));
    m.insert("length".into(), Value::from(length));
    m.insert("string".into(), Value::String(s[f.whole.0..f.whole.1].to_owned()));
    let captures = f
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let name = re
                .names
                .get(i + 1)
                .cloned()
                .flatten()
                .map_or(Value::Null, Value::String);
            let mut c = Map::new();
            match g {
                Some(range) => {
                    let (offset, length) = chars(s, *range);
                    c.insert("offset".into(), Value::from(offset));
                    c.insert("length".into(), Value::from(length));
                    c.insert("string".into(), Value::String(s[range.0..range.1].to_owned()));
                }
                None => {
                    c.insert("offset".into(), Value::from(-1));
                    c.insert("string".into(), Value::Null);
                    c.insert("length".into(), Value::from(0));
                }
            }
            c.insert("name".into(), name);
            Value::Object(c)
        })
        .collect();
    m.insert("captures".into(), Value::Array(captures));
    Value::Object(m)
}

/// The named captures of a match as an object (what `capture` and `sub`'s replacement see).
fn capture_object(s: &str, re: &JqRegex, f: &Found) -> Value {
    let mut m = Map::new();
    for (i, g) in f.groups.iter().enumerate() {
        if let Some(Some(name)) = re.names.get(i + 1) {
            let v = g.map_or(Value::Null, |(a, b)| Value::String(s[a..b].to_owned()));
            m.insert(name.clone(), v);
        }
    }
    Value::Object(m)
}

pub fn test(input: &Value, re: &JqRegex) -> Result<Value, Fault> {
    let s = need_string(input)?;
    Ok(Value::Bool(!find(s, re, false)?.is_empty()))
}

pub fn matches(input: &Value, re: &JqRegex) -> Result<Vec<Value>, Fault> {
    let s = need_string(input)?;
    Ok(find(s, re, false)?
        .iter()
        .map(|f| match_object(s, re, f))
        .collect())
}

pub fn captures(input: &Value, re: &JqRegex) -> Result<Vec<Value>, Fault> {
    let s = need_string(input)?;
    Ok(find(s, re, false)?
        .iter()
        .map(|f| capture_object(s, re, f))
        .collect())
}

/// `scan(re)`: every match, as its groups' strings when it has groups.
pub fn scan(input: &Value, re: &JqRegex) -> Result<Vec<Value>, Fault> {
    let s = need_string(input)?;
    Ok(find(s, re, true)?
        .iter()
        .map(|f| {
            if f.groups.is_empty() {
                Value::String(s[f.whole.0..f.whole.1].to_owned())
            } else {
                Value::Array(
                    f.groups
                        .iter()
                        .map(|g| g.map_or(Value::Null, |(a, b)| Value::String(s[a..b].to_owned())))
                        .collect(),
                )
            }
        })
        .collect())
}

/// `split(re; flags)`: the text between every match.
pub fn split(input: &Value, re: &JqRegex) -> Result<Value, Fault> {
    let s = need_string(input)?;
    let mut parts = Vec::new();
    let mut at = 0;
    for f in find(s, re, true)? {
        parts.push(Value::String(s[at..f.whole.0].to_owned()));
        at = f.whole.1;
    }
    parts.push(Value::String(s[at..].to_owned()));
    Ok(Value::Array(parts))
}

/// `sub` and `gsub` as jq 1.6 defines them: the first match is replaced by the
/// replacement filter's output on the named captures, and with `g` the rest of
/// the text (as a text of its own) is substituted again.
pub fn substitute(
    input: &Value,
    re: &JqRegex,
    global: bool,
    replace: &mut dyn FnMut(&Value) -> Result<Value, Fault>,
) -> Result<Value, Fault> {
    let s = need_string(input)?;
    let mut out = String::new();
    let mut rest = s;
    loop {
        let found = find(rest, re, false)?;
        let Some(f) = found.first() else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..f.whole.0]);
        match replace(&capture_object(rest, re, f))? {
            Value::String(r) => out.push_str(&r),
            Value::Null => {}
            other => {
                return Err(Fault::Error(format!(
                    "string and {} cannot be added",
                    describe(&other)
                )));
            }
        }
        rest = &rest[f.whole.1..];
        if !global || rest.is_empty() {
            out.push_str(rest);
            break;
        }
    }
    Ok(Value::String(out))
}
