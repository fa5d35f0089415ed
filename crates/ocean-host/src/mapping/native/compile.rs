//! jaq's syntax tree into native nodes, or `None` for anything not evaluated natively.

use jaq_core::load::lex::StrPart;
use jaq_core::load::parse::{BinaryOp, Pattern, Term};
use jaq_core::ops::{Cmp, Math};
use jaq_core::path::{Opt, Part};
use serde_json::Value;

use super::builtins::Builtin;
use crate::mapping::value::normalize_numbers;

pub enum Node {
    Id,
    Const(Value),
    /// `.k1.k2...` (on the item, read lazily).
    Keys(Vec<String>),
    Path(Box<Node>, Vec<(PathPart, bool)>),
    Pipe(Box<Node>, Box<Node>),
    /// `f as $x | g`
    Bind(Box<Node>, Box<Node>),
    /// A variable, by how many bindings up it was bound.
    Var(usize),
    Comma(Box<Node>, Box<Node>),
    Alt(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Math(Math, Box<Node>, Box<Node>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    Neg(Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
    Str(Vec<Piece>),
    Arr(Option<Box<Node>>),
    Obj(Vec<(Node, Node)>),
    /// `try f` and `f?`
    Try(Box<Node>),
    Call(Builtin, Vec<Node>),
}

pub enum PathPart {
    Index(Node),
    Slice(Option<Node>, Option<Node>),
    Each,
}

pub enum Piece {
    Text(String),
    Term(Node),
}

impl Node {
    pub fn constant(&self) -> Option<&Value> {
        match self {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }
}

pub fn compile(code: &str) -> Option<Node> {
    let term = jaq_core::load::parse(code, |p| p.term())?;
    let mut scope = Vec::new();
    node(&term, &mut scope)
}

fn boxed(t: &Term<&str>, scope: &mut Vec<String>) -> Option<Box<Node>> {
    node(t, scope).map(Box::new)
}

fn node(t: &Term<&str>, scope: &mut Vec<String>) -> Option<Node> {
    Some(match t {
        Term::Id => Node::Id,
        Term::Num(n) => {
            let mut v: Value = serde_json::from_str(n).ok()?;
            let f = v.as_f64()?;
            v = super::values::number(f);
            normalize_numbers(&mut v);
            Node::Const(v)
        }
        Term::Str(None, parts) => string(parts, scope)?,
        Term::Arr(None) => Node::Const(Value::Array(Vec::new())),
        Term::Arr(Some(t)) => Node::Arr(Some(boxed(t, scope)?)),
        Term::Obj(entries) => object(entries, scope)?,
        Term::Neg(t) => Node::Neg(boxed(t, scope)?),
        Term::BinOp(l, op, r) => binop(l, op, r, scope)?,
        Term::TryCatch(t, None) => Node::Try(boxed(t, scope)?),
        Term::IfThenElse(branches, otherwise) => {
            let mut tail = match otherwise {
                Some(e) => node(e, scope)?,
                None => Node::Id,
            };
            for (cond, then) in branches.iter().rev() {
                tail = Node::If(boxed(cond, scope)?, boxed(then, scope)?, Box::new(tail));
            }
            tail
        }
        Term::Call(name, args) => call(name, args, scope)?,
        Term::Var(name) => {
            let up = scope.iter().rev().position(|x| x == name)?;
            Node::Var(up)
        }
        Term::Path(base, path) => path_node(base, &path.0, scope)?,
        _ => return None,
    })
}

fn string(parts: &[StrPart<&str, Term<&str>>], scope: &mut Vec<String>) -> Option<Node> {
    let mut pieces: Vec<Piece> = Vec::new();
    for part in parts {
        let text = match part {
            StrPart::Str(s) => Some((*s).to_owned()),
            StrPart::Char(c) => Some(c.to_string()),
            StrPart::Term(t) => {
                pieces.push(Piece::Term(node(t, scope)?));
                None
            }
        };
        if let Some(text) = text {
            match pieces.last_mut() {
                Some(Piece::Text(prev)) => prev.push_str(&text),
                _ => pieces.push(Piece::Text(text)),
            }
        }
    }
    Some(match pieces.as_slice() {
        [] => Node::Const(Value::String(String::new())),
        [Piece::Text(s)] => Node::Const(Value::String(s.clone())),
        _ => Node::Str(pieces),
    })
}

fn object(entries: &[(Term<&str>, Option<Term<&str>>)], scope: &mut Vec<String>) -> Option<Node> {
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let (k, v) = match (key, value) {
            (Term::Var(name), None) => {
                let up = scope.iter().rev().position(|x| x == name)?;
                let bare = name.strip_prefix('$')?;
                (Node::Const(Value::String(bare.to_owned())), Node::Var(up))
            }
            (key, None) => {
                let k = node(key, scope)?;
                let index = node(key, scope)?;
                (
                    k,
                    Node::Path(Box::new(Node::Id), vec![(PathPart::Index(index), false)]),
                )
            }
            (key, Some(value)) => (node(key, scope)?, node(value, scope)?),
        };
        out.push((k, v));
    }
    Some(Node::Obj(out))
}

fn binop(l: &Term<&str>, op: &BinaryOp<&str>, r: &Term<&str>, scope: &mut Vec<String>) -> Option<Node> {
    let both = |scope: &mut Vec<String>| Some((boxed(l, scope)?, boxed(r, scope)?));
    Some(match op {
        BinaryOp::Pipe(None) => {
            let (l, r) = both(scope)?;
            Node::Pipe(l, r)
        }
        BinaryOp::Pipe(Some(Pattern::Var(x))) => {
            let l = boxed(l, scope)?;
            scope.push((*x).to_owned());
            let r = boxed(r, scope);
            scope.pop();
            Node::Bind(l, r?)
        }
        BinaryOp::Comma => {
            let (l, r) = both(scope)?;
            Node::Comma(l, r)
        }
        BinaryOp::Alt => {
            let (l, r) = both(scope)?;
            Node::Alt(l, r)
        }
        BinaryOp::And => {
            let (l, r) = both(scope)?;
            Node::And(l, r)
        }
        BinaryOp::Or => {
            let (l, r) = both(scope)?;
            Node::Or(l, r)
        }
        BinaryOp::Math(m) => {
            let (l, r) = both(scope)?;
            Node::Math(*m, l, r)
        }
        BinaryOp::Cmp(c) => {
            let (l, r) = both(scope)?;
            Node::Cmp(*c, l, r)
        }
        _ => return None,
    })
}

fn call(name: &str, args: &[Term<&str>], scope: &mut Vec<String>) -> Option<Node> {
    match (name, args.len()) {
        ("true", 0) => return Some(Node::Const(Value::Bool(true))),
        ("false", 0) => return Some(Node::Const(Value::Bool(false))),
        ("null", 0) => return Some(Node::Const(Value::Null)),
        _ => {}
    }
    let builtin = Builtin::find(name, args.len())?;
    let args = args.iter().map(|a| node(a, scope)).collect::<Option<Vec<_>>>()?;
    Some(Node::Call(builtin, args))
}

fn path_node(base: &Term<&str>, parts: &[(Part<Term<&str>>, Opt)], scope: &mut Vec<String>) -> Option<Node> {
    let base = node(base, scope)?;
    let mut out = Vec::with_capacity(parts.len());
    for (part, opt) in parts {
        let optional = matches!(opt, Opt::Optional);
        let part = match part {
            Part::Index(i) => PathPart::Index(node(i, scope)?),
            Part::Range(None, None) => PathPart::Each,
            Part::Range(from, upto) => PathPart::Slice(
                from.as_ref()
                    .map(|t| node(t, scope))
                    .map_or(Some(None), |n| n.map(Some))?,
                upto.as_ref()
                    .map(|t| node(t, scope))
                    .map_or(Some(None), |n| n.map(Some))?,
            ),
        };
        out.push((part, optional));
    }
    // `.a.b.c` from the input: read lazily when the input is the item.
    let keys: Option<Vec<String>> = out
        .iter()
        .map(|(part, optional)| match (part, optional) {
            (PathPart::Index(Node::Const(Value::String(k))), false) => Some(k.clone()),
            _ => None,
        })
        .collect();
    Some(match (base, keys) {
        (Node::Id, Some(keys)) => Node::Keys(keys),
        // `.a.b[f].c`: the constant head is read lazily too, so the item is
        // not built whole for the rest (whose indices still see the input).
        (Node::Id, None) => {
            let head = out
                .iter()
                .take_while(|(part, optional)| {
                    !optional && matches!(part, PathPart::Index(Node::Const(Value::String(_))))
                })
                .count();
            if head == 0 {
                return Some(Node::Path(Box::new(Node::Id), out));
            }
            let rest = out.split_off(head);
            let keys = out
                .into_iter()
                .filter_map(|(part, _)| match part {
                    PathPart::Index(Node::Const(Value::String(k))) => Some(k),
                    _ => None,
                })
                .collect();
            Node::Path(Box::new(Node::Keys(keys)), rest)
        }
        (base, _) => Node::Path(Box::new(base), out),
    })
}
