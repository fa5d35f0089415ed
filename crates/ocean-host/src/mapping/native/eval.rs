//! Running native nodes: each node passes its outputs, in jq's order, to a
//! callback, which answers whether more are wanted (a field takes only the first).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::Fault;
use super::builtins::{self, Builtin, iterate};
use super::compile::{Node, PathPart, Piece};
use super::regex;
use super::values::{self, compare, describe, num, number, to_string_value, truthy};
use crate::mapping::lazy_item::LazyItem;

pub enum Flow {
    More,
    Stop,
}

pub type Res = Result<Flow, Fault>;

/// Where outputs go; the callback may borrow them only for the call.
pub type Out<'o> = dyn FnMut(Cow<'_, Value>) -> Res + 'o;

static NULL: Value = Value::Null;

/// A node's input: the item itself (read lazily) or a value.
#[derive(Clone, Copy)]
pub enum In<'a, 'i> {
    Root(&'a LazyItem<'i>),
    Val(&'a Value),
}

impl<'a> In<'a, '_> {
    fn value(self) -> Result<&'a Value, Fault> {
        match self {
            In::Val(v) => Ok(v),
            In::Root(item) => item.whole_value().map_err(|_| Fault::Decline),
        }
    }
}

/// Variables bound by `as`, innermost first.
pub struct Env<'e> {
    value: &'e Value,
    up: Option<&'e Env<'e>>,
}

fn lookup<'e>(env: Option<&'e Env<'e>>, up: usize) -> Result<&'e Value, Fault> {
    let mut at = env.ok_or(Fault::Decline)?;
    for _ in 0..up {
        at = at.up.ok_or(Fault::Decline)?;
    }
    Ok(at.value)
}

fn error(message: String) -> Fault {
    Fault::Error(message)
}

impl Node {
    pub fn run(&self, env: Option<&Env>, input: In, out: &mut Out) -> Res {
        match self {
            Node::Id => out(Cow::Borrowed(input.value()?)),
            Node::Const(v) => out(Cow::Borrowed(v)),
            Node::Keys(keys) => match input {
                In::Root(item) => {
                    // `None`: a step met a value that is not an object (jq's error), or
                    // an item the lazy reader declines; jaq answers either way.
                    let found = item.path(keys).ok_or(Fault::Decline)?;
                    out(Cow::Owned(found.to_json().map_err(|_| Fault::Decline)?))
                }
                In::Val(v) => {
                    let mut at = v;
                    for key in keys {
                        at = index_key(at, key)?;
                    }
                    out(Cow::Borrowed(at))
                }
            },
            Node::Path(base, parts) => base.run(env, input, &mut |b| path(parts, env, input, b, out)),
            Node::Pipe(l, r) => l.run(env, input, &mut |v| r.run(env, In::Val(&v), out)),
            Node::Bind(f, g) => f.run(env, input, &mut |v| {
                let inner = Env { value: &v, up: env };
                g.run(Some(&inner), input, out)
            }),
            Node::Var(up) => out(Cow::Borrowed(lookup(env, *up)?)),
            Node::Comma(a, b) => match a.run(env, input, out)? {
                Flow::Stop => Ok(Flow::Stop),
                Flow::More => b.run(env, input, out),
            },
            Node::Alt(a, b) => {
                // jq 1.6 passes errors of the left side on; falsy outputs are dropped.
                let mut any = false;
                let flow = a.run(env, input, &mut |v| {
                    if truthy(&v) {
                        any = true;
                        out(v)
                    } else {
                        Ok(Flow::More)
                    }
                })?;
                match (flow, any) {
                    (Flow::Stop, _) => Ok(Flow::Stop),
                    (Flow::More, true) => Ok(Flow::More),
                    (Flow::More, false) => b.run(env, input, out),
                }
            }
            Node::And(a, b) => a.run(env, input, &mut |l| {
                if !truthy(&l) {
                    return out(Cow::Owned(Value::Bool(false)));
                }
                b.run(env, input, &mut |r| out(Cow::Owned(Value::Bool(truthy(&r)))))
            }),
            Node::Or(a, b) => a.run(env, input, &mut |l| {
                if truthy(&l) {
                    return out(Cow::Owned(Value::Bool(true)));
                }
                b.run(env, input, &mut |r| out(Cow::Owned(Value::Bool(truthy(&r)))))
            }),
            // jq runs the right operand in the outer loop.
            Node::Math(op, l, r) => r.run(env, input, &mut |rv| {
                l.run(env, input, &mut |lv| {
                    out(Cow::Owned(values::math(*op, &lv, &rv)?))
                })
            }),
            Node::Cmp(op, l, r) => r.run(env, input, &mut |rv| {
                l.run(env, input, &mut |lv| {
                    out(Cow::Owned(Value::Bool(values::cmp(*op, &lv, &rv))))
                })
            }),
            Node::Neg(t) => t.run(env, input, &mut |v| match num(&v) {
                Some(f) => out(Cow::Owned(number(-f))),
                None => Err(error(format!("{} cannot be negated", describe(&v)))),
            }),
            Node::If(c, then, otherwise) => c.run(env, input, &mut |cv| {
                if truthy(&cv) {
                    then.run(env, input, out)
                } else {
                    otherwise.run(env, input, out)
                }
            }),
            Node::Str(pieces) => interpolate(pieces, String::new(), env, input, out),
            Node::Arr(None) => out(Cow::Owned(Value::Array(Vec::new()))),
            Node::Arr(Some(f)) => {
                let items = collect(f, env, input)?;
                out(Cow::Owned(Value::Array(items)))
            }
            Node::Obj(entries) => object(entries, Map::with_capacity(entries.len()), env, input, out),
            Node::Try(body) => {
                // jq 1.6's `try` also swallows errors raised after it in the
                // pipeline; that case is left to jaq.
                let mut downstream = false;
                let result = body.run(env, input, &mut |v| match out(v) {
                    Err(Fault::Error(_)) => {
                        downstream = true;
                        Err(Fault::Decline)
                    }
                    other => other,
                });
                match result {
                    Err(Fault::Error(_)) if !downstream => Ok(Flow::More),
                    other => other,
                }
            }
            Node::Call(b, args) => call(*b, args, env, input, out),
        }
    }
}

/// The one output of an argument; several (or none) are left to jaq.
fn single(f: &Node, env: Option<&Env>, input: In) -> Result<Value, Fault> {
    let mut outputs = collect(f, env, input)?;
    match outputs.len() {
        1 => Ok(outputs.pop().unwrap_or(Value::Null)),
        _ => Err(Fault::Decline),
    }
}

fn collect(f: &Node, env: Option<&Env>, input: In) -> Result<Vec<Value>, Fault> {
    let mut items = Vec::new();
    f.run(env, input, &mut |v| {
        items.push(v.into_owned());
        Ok(Flow::More)
    })?;
    Ok(items)
}

fn index_key<'v>(v: &'v Value, key: &str) -> Result<&'v Value, Fault> {
    match v {
        Value::Object(o) => Ok(o.get(key).unwrap_or(&NULL)),
        Value::Null => Ok(&NULL),
        other => Err(error(format!(
            "Cannot index {} with \"{key}\"",
            values::type_name(other)
        ))),
    }
}

/// `v[i]` as jq 1.6: keys of objects, integral positions of arrays (from the end
/// when negative), anything of null.
fn index<'v>(v: &'v Value, i: &Value) -> Result<&'v Value, Fault> {
    match (v, i) {
        (_, Value::String(k)) => index_key(v, k),
        (Value::Array(a), Value::Number(_)) => {
            let f = num(i).unwrap_or(f64::NAN);
            if f.fract() != 0.0 || !f.is_finite() {
                return Ok(&NULL);
            }
            let mut at = f as i64;
            if at < 0 {
                at += a.len() as i64;
            }
            Ok(usize::try_from(at).ok().and_then(|at| a.get(at)).unwrap_or(&NULL))
        }
        (Value::Null, Value::Number(_)) => Ok(&NULL),
        // Indices of a sub-array, slices by object, and null keys: rare, left to jaq.
        (Value::Array(_), Value::Array(_) | Value::Object(_)) | (Value::Null, _) => Err(Fault::Decline),
        (other, _) => Err(error(format!(
            "Cannot index {} with {}",
            values::type_name(other),
            values::type_name(i)
        ))),
    }
}

/// `v[from:upto]` as jq 1.6: by code points for strings, clamped; `null` of null.
fn slice(v: &Value, from: &Value, upto: &Value) -> Result<Value, Fault> {
    let len = match v {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        other => {
            return Err(error(format!(
                "Cannot index {} with object",
                values::type_name(other)
            )));
        }
    } as f64;
    let bound = |b: &Value, default: f64| -> Result<f64, Fault> {
        match b {
            Value::Null => Ok(default),
            Value::Number(_) => Ok(num(b).unwrap_or(f64::NAN)),
            _ => Err(Fault::Decline),
        }
    };
    let (mut start, mut end) = (bound(from, 0.0)?, bound(upto, len)?);
    if !(start.is_finite() && end.is_finite()) {
        return Err(Fault::Decline);
    }
    if start < 0.0 {
        start += len;
    }
    if end < 0.0 {
        end += len;
    }
    start = start.clamp(0.0, len);
    end = end.min(len).max(start);
    let (start, end) = (
        start as usize,
        if end > end.trunc() {
            end as usize + 1
        } else {
            end as usize
        },
    );
    Ok(match v {
        Value::String(s) => {
            let byte_at = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(at, _)| at);
            Value::String(s[byte_at(start)..byte_at(end)].to_owned())
        }
        Value::Array(a) => Value::Array(a[start.min(a.len())..end.min(a.len())].to_vec()),
        _ => Value::Null,
    })
}

fn path(parts: &[(PathPart, bool)], env: Option<&Env>, orig: In, cur: Cow<Value>, out: &mut Out) -> Res {
    let Some(((part, optional), rest)) = parts.split_first() else {
        return out(cur);
    };
    // An optional part drops its own error only; later errors still count.
    let own = |r: Result<Flow, Fault>| match r {
        Err(Fault::Error(_)) if *optional => Ok(Flow::More),
        other => other,
    };
    match part {
        PathPart::Each => {
            let items = match iterate(&cur) {
                Ok(items) => items,
                Err(e) => return own(Err(e)),
            };
            for item in items {
                if let Flow::Stop = path(rest, env, orig, Cow::Borrowed(item), out)? {
                    return Ok(Flow::Stop);
                }
            }
            Ok(Flow::More)
        }
        PathPart::Index(Node::Const(i)) => match index(&cur, i) {
            Ok(v) => path(rest, env, orig, Cow::Borrowed(v), out),
            Err(e) => own(Err(e)),
        },
        PathPart::Index(i) => i.run(env, orig, &mut |iv| match index(&cur, &iv) {
            Ok(v) => path(rest, env, orig, Cow::Borrowed(v), out),
            Err(e) => own(Err(e)),
        }),
        PathPart::Slice(from, upto) => {
            let bound = |b: &Option<Node>| -> Result<Vec<Value>, Fault> {
                match b {
                    None => Ok(vec![Value::Null]),
                    Some(n) => collect(n, env, orig),
                }
            };
            let (froms, uptos) = (bound(from)?, bound(upto)?);
            for u in &uptos {
                for f in &froms {
                    match slice(&cur, f, u) {
                        Ok(v) => {
                            if let Flow::Stop = path(rest, env, orig, Cow::Owned(v), out)? {
                                return Ok(Flow::Stop);
                            }
                        }
                        Err(e) => {
                            own(Err(e))?;
                        }
                    }
                }
            }
            Ok(Flow::More)
        }
    }
}

/// String interpolation; jq runs the last interpolated term in the outer loop.
fn interpolate(pieces: &[Piece], suffix: String, env: Option<&Env>, input: In, out: &mut Out) -> Res {
    match pieces.split_last() {
        None => out(Cow::Owned(Value::String(suffix))),
        Some((Piece::Text(t), rest)) => interpolate(rest, t.clone() + &suffix, env, input, out),
        Some((Piece::Term(n), rest)) => n.run(env, input, &mut |v| {
            let mut text = match &*v {
                Value::String(s) => s.clone(),
                other => to_string_value(other)?,
            };
            text.push_str(&suffix);
            interpolate(rest, text, env, input, out)
        }),
    }
}

/// Object construction; the first entry's outputs form the outer loop.
fn object(
    entries: &[(Node, Node)],
    built: Map<String, Value>,
    env: Option<&Env>,
    input: In,
    out: &mut Out,
) -> Res {
    let Some(((k, v), rest)) = entries.split_first() else {
        return out(Cow::Owned(Value::Object(built)));
    };
    k.run(env, input, &mut |key| {
        let Value::String(key) = &*key else {
            return Err(error(format!(
                "Object keys must be strings, not {}",
                describe(&key)
            )));
        };
        v.run(env, input, &mut |value| {
            let mut next = built.clone();
            next.insert(key.clone(), value.into_owned());
            object(rest, next, env, input, out)
        })
    })
}

fn emit(result: Result<Option<Value>, Fault>, out: &mut Out) -> Res {
    match result? {
        Some(v) => out(Cow::Owned(v)),
        None => Ok(Flow::More),
    }
}

fn call(b: Builtin, args: &[Node], env: Option<&Env>, input: In, out: &mut Out) -> Res {
    if !b.takes_filters() {
        return match args {
            [] => emit(builtins::apply(b, input.value()?, &[]), out),
            [Node::Const(a)] => emit(builtins::apply(b, input.value()?, &[a]), out),
            [a] => {
                let v = input.value()?;
                a.run(env, input, &mut |av| emit(builtins::apply(b, v, &[&av]), out))
            }
            _ => Err(Fault::Decline),
        };
    }
    match (b, args) {
        (
            Builtin::Test | Builtin::Match | Builtin::Capture | Builtin::Scan | Builtin::SplitRe,
            [re, rest @ ..],
        ) => {
            let v = input.value()?;
            let flags = match rest {
                [f] => single(f, env, input)?,
                _ => Value::Null,
            };
            let re = regex::compile(&single(re, env, input)?, &flags)?;
            let many = match b {
                Builtin::Test => return out(Cow::Owned(regex::test(v, &re)?)),
                Builtin::SplitRe => return out(Cow::Owned(regex::split(v, &re)?)),
                Builtin::Match => regex::matches(v, &re)?,
                Builtin::Capture => regex::captures(v, &re)?,
                _ => regex::scan(v, &re)?,
            };
            for m in many {
                if let Flow::Stop = out(Cow::Owned(m))? {
                    return Ok(Flow::Stop);
                }
            }
            Ok(Flow::More)
        }
        (Builtin::Sub | Builtin::Gsub, [re, replacement, rest @ ..]) => {
            let v = input.value()?;
            let flags = match rest {
                [f] => single(f, env, input)?,
                _ => Value::String(String::new()),
            };
            let flags = match flags {
                Value::String(f) => f,
                Value::Null if b == Builtin::Gsub => String::new(),
                _ => return Err(Fault::Decline),
            };
            let global = b == Builtin::Gsub || flags.contains('g');
            let flags = Value::String(flags.replace('g', ""));
            let re = regex::compile(&single(re, env, input)?, &flags)?;
            let result = regex::substitute(v, &re, global, &mut |captures| {
                single(replacement, env, In::Val(captures))
            })?;
            out(Cow::Owned(result))
        }
        (Builtin::Empty, _) => Ok(Flow::More),
        (Builtin::Error, []) => Err(error(to_string_value(input.value()?).unwrap_or_default())),
        (Builtin::Error, [m]) => m.run(env, input, &mut |mv| {
            Err(error(to_string_value(&mv).unwrap_or_default()))
        }),
        (Builtin::Select, [f]) => f.run(env, input, &mut |c| {
            if truthy(&c) {
                out(Cow::Borrowed(input.value()?))
            } else {
                Ok(Flow::More)
            }
        }),
        (Builtin::Map, [f]) => {
            let mut items = Vec::new();
            for x in iterate(input.value()?)? {
                items.extend(collect(f, env, In::Val(x))?);
            }
            out(Cow::Owned(Value::Array(items)))
        }
        (Builtin::WithEntries, [f]) => {
            let entries = builtins::apply(Builtin::ToEntries, input.value()?, &[])?.unwrap_or(Value::Null);
            let mut mapped = Vec::new();
            for x in iterate(&entries)? {
                mapped.extend(collect(f, env, In::Val(x))?);
            }
            out(Cow::Owned(builtins::from_entries(&Value::Array(mapped))?))
        }
        (Builtin::First1, [f]) => {
            let mut result = Ok(Flow::More);
            f.run(env, input, &mut |v| {
                result = out(v);
                Ok(Flow::Stop)
            })?;
            result
        }
        (Builtin::Limit, [n, f]) => n.run(env, input, &mut |nv| {
            let Some(n) = num(&nv) else {
                return Err(Fault::Decline);
            };
            if n <= 0.0 {
                // jq 1.6: a limit of zero or less lets every output through.
                return f.run(env, input, out);
            }
            let mut left = n;
            let mut result = Ok(Flow::More);
            f.run(env, input, &mut |v| {
                left -= 1.0;
                result = out(v);
                match result {
                    Ok(Flow::More) if left > 0.0 => Ok(Flow::More),
                    _ => Ok(Flow::Stop),
                }
            })?;
            result
        }),
        (Builtin::Any1 | Builtin::All1, [f]) => {
            let want = b == Builtin::Any1;
            let mut found = false;
            for x in iterate(input.value()?)? {
                f.run(env, In::Val(x), &mut |c| {
                    if truthy(&c) == want {
                        found = true;
                        Ok(Flow::Stop)
                    } else {
                        Ok(Flow::More)
                    }
                })?;
                if found {
                    break;
                }
            }
            out(Cow::Owned(Value::Bool(found == want)))
        }
        (Builtin::SortBy, [f]) => {
            let Value::Array(items) = input.value()? else {
                return Err(error(format!(
                    "{} cannot be sorted, as it is not an array",
                    describe(input.value()?)
                )));
            };
            let mut keyed = Vec::with_capacity(items.len());
            for x in items {
                keyed.push((Value::Array(collect(f, env, In::Val(x))?), x));
            }
            keyed.sort_by(|a, b| compare(&a.0, &b.0));
            out(Cow::Owned(Value::Array(
                keyed.into_iter().map(|(_, x)| x.clone()).collect(),
            )))
        }
        _ => Err(Fault::Decline),
    }
}
