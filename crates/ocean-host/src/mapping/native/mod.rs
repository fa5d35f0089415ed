//! The common JQ language, evaluated natively over the lazily parsed item.
//!
//! An expression is parsed by jaq's parser and, when every construct in it is
//! one we evaluate (paths, pipes, `,`, `//`, `and`/`or`, arithmetic,
//! comparisons, `if`, `as $x`, `try`/`?`, array and object construction, string
//! interpolation and the frequent builtins), compiled into a tree of nodes.
//! Each node answers only what it is sure jq 1.6 answers; anything else is a
//! `Fault::Decline` and the caller runs the whole expression through jaq.
//! Errors are `Fault::Error`, after which jaq is asked for its message too.

mod builtins;
mod compile;
mod eval;
mod regex;
pub mod time;
pub mod values;

use std::borrow::Cow;

use serde_json::Value;

use super::lazy_item::LazyItem;
use eval::{Flow, In};

/// Why the native evaluator gave no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// jq 1.6 raises an error here (the message is ours, jaq's is preferred).
    Error(String),
    /// Not certain of jq 1.6's answer: ask jaq.
    Decline,
}

/// A compiled expression that runs without the interpreter.
pub struct NativeProgram {
    node: compile::Node,
}

impl NativeProgram {
    /// `None` when the expression uses a construct evaluated only by jaq.
    pub fn compile(code: &str) -> Option<Self> {
        compile::compile(code).map(|node| Self { node })
    }

    /// The value, when the expression is a literal (`"service"`).
    pub fn constant(&self) -> Option<&Value> {
        self.node.constant()
    }

    /// The first output, or `None` for no output.
    pub fn first(&self, item: &LazyItem) -> Result<Option<Value>, Fault> {
        let mut first = None;
        self.node.run(None, In::Root(item), &mut |v: Cow<Value>| {
            first = Some(v.into_owned());
            Ok(Flow::Stop)
        })?;
        Ok(first)
    }

    /// Every output, in order.
    pub fn all(&self, item: &LazyItem) -> Result<Vec<Value>, Fault> {
        let mut all = Vec::new();
        self.node.run(None, In::Root(item), &mut |v: Cow<Value>| {
            all.push(v.into_owned());
            Ok(Flow::More)
        })?;
        Ok(all)
    }
}
