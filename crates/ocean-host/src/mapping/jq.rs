//! One JQ expression, compiled once with jaq and run natively many times.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data::JustLut};
use jaq_json::Val;

use serde_json::Value;
use serde_json::value::RawValue;

use super::lazy_item::LazyItem;
use super::native::{Fault, NativeProgram};
use super::value::val_to_json;

/// Definitions layered over jaq's standard library so that mappings written
/// for jq 1.6 (what Port and Ocean run) give the same results here.
const JQ16_COMPAT: &str = include_str!("jq16_compat.jq");

type JaqFilter = jaq_core::Filter<JustLut<Val>>;

/// What an expression may see besides its input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JqOptions {
    /// Let `env` and `$ENV` read the process environment, minus the
    /// integration's secrets (see `redact::is_secret_variable`). Off unless
    /// asked; the integration host asks as Ocean's setting says (default on).
    pub allow_env: bool,
}

/// A compiled JQ expression.
pub struct JqProgram {
    filter: JaqFilter,
    env: Val,
    source: String,
    /// The expression evaluated natively, when every construct in it can be;
    /// jaq answers the cases it declines.
    native: Option<NativeProgram>,
}

/// Why an expression does not compile, with the byte offset in the
/// expression where the fault was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JQ compile error at character {}: {message}", offset + 1)]
pub struct JqCompileError {
    /// Byte offset in the expression (after single quotes became double) where the fault was found.
    pub offset: usize,
    /// What jaq expected or found missing, e.g. `undefined filter foo/0`.
    pub message: String,
}

/// Why a run of an expression failed on one input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct JqRunError(pub String);

impl JqProgram {
    /// Compiles with the default options (no environment access).
    pub fn compile(code: &str) -> Result<Self, JqCompileError> {
        Self::compile_with(code, JqOptions::default())
    }

    /// Compiles `code` as Ocean does (single-quoted strings become double-quoted), over jaq's
    /// standard library and the jq 1.6 compatibility definitions; also prepares the native evaluator
    /// when every construct in it is supported.
    pub fn compile_with(code: &str, options: JqOptions) -> Result<Self, JqCompileError> {
        let source = single_quotes_to_double(code);
        let code = source.as_str();
        let defs = PRELUDE
            .with(|prelude| prelude.clone())
            .into_iter()
            .chain(env_defs());
        let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(&arena, File { code, path: () })
            .map_err(|errs| load_error(code, errs))?;
        let filter = Compiler::default()
            .with_funs(funs)
            .with_global_vars(["$ENV"])
            .compile(modules)
            .map_err(|errs| undefined_error(code, errs))?;
        let env = if options.allow_env {
            process_env()
        } else {
            Val::obj(jaq_json::Map::default())
        };
        let native = NativeProgram::compile(&source);
        Ok(Self {
            filter,
            env,
            source,
            native,
        })
    }

    /// The expression as compiled (single quotes already turned into double).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The value, when the expression is a literal (`"service"`).
    pub fn constant(&self) -> Option<&Value> {
        self.native.as_ref().and_then(NativeProgram::constant)
    }

    /// Whether the expression is evaluated natively (jaq still answers the cases it declines).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }

    /// Whether the native evaluator answers on this item, without jaq.
    pub fn answers_natively(&self, item: &LazyItem) -> bool {
        self.native
            .as_ref()
            .is_some_and(|n| !matches!(n.all(item), Err(Fault::Decline)))
    }

    /// The first output, as Ocean takes it; `None` when the expression yields nothing.
    pub fn first(&self, item: &LazyItem) -> Result<Option<Value>, JqRunError> {
        if let Some(native) = &self.native {
            match native.first(item) {
                Ok(v) => return Ok(v),
                Err(Fault::Decline) => {}
                Err(Fault::Error(message)) => return Err(self.error_of(item, message)),
            }
        }
        Ok(self.interpret(item, true)?.into_iter().next())
    }

    /// Every output, in order.
    pub fn all(&self, item: &LazyItem) -> Result<Vec<Value>, JqRunError> {
        if let Some(native) = &self.native {
            match native.all(item) {
                Ok(v) => return Ok(v),
                Err(Fault::Decline) => {}
                Err(Fault::Error(message)) => return Err(self.error_of(item, message)),
            }
        }
        self.interpret(item, false)
    }

    /// Convenience for callers holding serde values (tests, CLI).
    pub fn all_json(&self, input: &Value) -> Result<Vec<Value>, JqRunError> {
        let raw = RawValue::from_string(input.to_string()).map_err(|e| JqRunError(e.to_string()))?;
        self.all(&LazyItem::new(&raw))
    }

    /// jq 1.6 raises an error here: jaq's message when it agrees, else ours.
    fn error_of(&self, item: &LazyItem, ours: String) -> JqRunError {
        match self.interpret(item, false) {
            Err(theirs) => theirs,
            Ok(_) => JqRunError(ours),
        }
    }

    /// Runs jaq on the whole item.
    fn interpret(&self, item: &LazyItem, first_only: bool) -> Result<Vec<Value>, JqRunError> {
        let whole = item.whole().map_err(|e| JqRunError(e.0))?;
        let outputs = self.outputs(whole).map(|r| r.map(|v| val_to_json(&v)));
        if first_only {
            outputs.take(1).collect()
        } else {
            outputs.collect()
        }
    }

    fn outputs<'a>(&'a self, input: &Val) -> impl Iterator<Item = Result<Val, JqRunError>> + 'a {
        let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([self.env.clone()]));
        self.filter
            .id
            .run((ctx, input.clone()))
            .map(|out| out.map_err(exception_message))
    }
}

thread_local! {
    /// The definitions every program starts with, parsed once per thread:
    /// parsing jaq's standard library again for each expression was most of
    /// what compiling a mapping cost.
    static PRELUDE: Vec<jaq_core::load::parse::Def<&'static str>> = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs())
        .chain(compat_defs())
        .collect();
}

fn compat_defs() -> impl Iterator<Item = jaq_core::load::parse::Def<&'static str>> {
    // The file is ours and fixed at build time; a parse failure is a build defect
    // caught by the unit test below, so an empty fallback keeps runtime total.
    jaq_core::load::parse(JQ16_COMPAT, |p| p.defs())
        .unwrap_or_default()
        .into_iter()
}

/// `env` reads what `$ENV` holds (empty, or the environment without the
/// integration's secrets): jaq's own `env` would read the whole environment.
fn env_defs() -> Vec<jaq_core::load::parse::Def<&'static str>> {
    jaq_core::load::parse("def env: $ENV;", |p| p.defs()).unwrap_or_default()
}

fn process_env() -> Val {
    let map = std::env::vars()
        .filter(|(k, v)| !ocean_support::redact::is_secret_variable(k, v))
        .map(|(k, v)| (Val::from(k), Val::from(v)))
        .collect();
    Val::obj(map)
}

/// Ocean lets mappings quote strings with single quotes (`'"x"'` aside, YAML
/// users write `.a + '-x'`) and turns them into double quotes before compiling.
/// Quotes inside double-quoted strings are left alone.
pub fn single_quotes_to_double(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut in_double = false;
    let mut in_single = false;
    let mut escaped = false;
    for c in code.chars() {
        if in_double {
            in_double = escaped || c != '"';
            escaped = !escaped && c == '\\';
            out.push(c);
        } else if in_single {
            in_single = c != '\'';
            out.push(if in_single { c } else { '"' });
        } else if c == '\'' {
            in_single = true;
            out.push('"');
        } else {
            in_double = c == '"';
            out.push(c);
        }
    }
    out
}

/// A `halt` must never end the host process, so it becomes an ordinary error.
fn exception_message(exn: jaq_core::Exn<Val>) -> JqRunError {
    match exn.get_err() {
        Ok(err) => JqRunError(err.to_string()),
        Err(_) => JqRunError("halt is not allowed in a mapping".into()),
    }
}

fn offset_in(code: &str, fragment: &str) -> usize {
    let start = code.as_ptr() as usize;
    let at = fragment.as_ptr() as usize;
    if at >= start && at <= start + code.len() {
        at - start
    } else {
        0
    }
}

fn found_text(fragment: &str) -> String {
    match fragment.chars().next() {
        None => "end of expression".into(),
        Some(_) => {
            let shown: String = fragment.chars().take(12).collect();
            format!("`{shown}`")
        }
    }
}

fn load_error(code: &str, errs: jaq_core::load::Errors<&str, ()>) -> JqCompileError {
    use jaq_core::load::Error;
    let first = errs.into_iter().next().map(|(_, e)| e);
    match first {
        Some(Error::Lex(errs)) => match errs.into_iter().next() {
            Some((expect, found)) => JqCompileError {
                offset: offset_in(code, found),
                message: format!("expected {}, found {}", lex_expect(&expect), found_text(found)),
            },
            None => unknown_error(),
        },
        Some(Error::Parse(errs)) => match errs.into_iter().next() {
            Some((expect, found)) => JqCompileError {
                offset: offset_in(code, found),
                message: format!("expected {}, found {}", expect.as_str(), found_text(found)),
            },
            None => unknown_error(),
        },
        Some(Error::Io(errs)) => JqCompileError {
            offset: 0,
            message: errs
                .into_iter()
                .map(|(path, e)| format!("cannot load module {path}: {e}"))
                .collect::<Vec<_>>()
                .join("; "),
        },
        None => unknown_error(),
    }
}

// jaq's own `as_str` panics on delimiters it did not expect; keep ours total.
fn lex_expect(expect: &jaq_core::load::lex::Expect<&str>) -> &'static str {
    use jaq_core::load::lex::Expect;
    match expect {
        Expect::Digit => "digit",
        Expect::Ident => "identifier",
        Expect::Delim("(") => "closing parenthesis",
        Expect::Delim("[") => "closing bracket",
        Expect::Delim("{") => "closing brace",
        Expect::Delim("\"") => "closing quote",
        Expect::Delim(_) => "closing delimiter",
        Expect::Escape => "string escape sequence",
        Expect::Unicode => "4-digit hexadecimal code point",
        Expect::Token => "token",
        _ => "token",
    }
}

fn undefined_error(code: &str, errs: jaq_core::compile::Errors<&str, ()>) -> JqCompileError {
    use jaq_core::compile::Undefined;
    let first = errs.into_iter().flat_map(|(_, e)| e).next();
    match first {
        Some((name, undefined)) => {
            let what = match undefined {
                Undefined::Filter(arity) => format!("filter {name}/{arity}"),
                other => format!("{} {name}", other.as_str()),
            };
            JqCompileError {
                offset: offset_in(code, name),
                message: format!("undefined {what}"),
            }
        }
        None => unknown_error(),
    }
}

fn unknown_error() -> JqCompileError {
    JqCompileError {
        offset: 0,
        message: "invalid expression".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: &str, input: serde_json::Value) -> Vec<serde_json::Value> {
        JqProgram::compile(code).unwrap().all_json(&input).unwrap()
    }

    #[test]
    fn compat_definitions_parse() {
        assert!(jaq_core::load::parse(JQ16_COMPAT, |p| p.defs()).is_some());
    }

    #[test]
    fn runs_paths_and_pipes() {
        assert_eq!(run(".a.b | tostring", json!({"a": {"b": 3}})), vec![json!("3")]);
    }

    #[test]
    fn compile_error_points_at_fault() {
        let err = JqProgram::compile(".a | ]").err().unwrap();
        assert_eq!(err.offset, 5, "{err}");
        let err = JqProgram::compile(".a | nosuchfn(1)").err().unwrap();
        assert_eq!(err.offset, 5);
        assert!(err.message.contains("nosuchfn/1"), "{err}");
    }

    #[test]
    fn single_quoted_strings_are_accepted() {
        assert_eq!(single_quotes_to_double(".a + '-x'"), ".a + \"-x\"");
        assert_eq!(single_quotes_to_double("\"it's\" + 'b'"), "\"it's\" + \"b\"");
        assert_eq!(single_quotes_to_double("\"a\\\"'\""), "\"a\\\"'\"");
        assert_eq!(run(".a + '-x'", json!({"a": "b"})), vec![json!("b-x")]);
    }

    #[test]
    fn env_is_empty_unless_allowed() {
        assert_eq!(run("env | length", json!(null)), vec![json!(0)]);
        assert_eq!(run("$ENV | length", json!(null)), vec![json!(0)]);
        let open = JqProgram::compile_with("env | length > 0", JqOptions { allow_env: true }).unwrap();
        assert_eq!(open.all_json(&json!(null)).unwrap(), vec![json!(true)]);
        assert!(!env_defs().is_empty(), "jaq's own env is replaced");
        let same = JqProgram::compile_with("env == $ENV", JqOptions { allow_env: true }).unwrap();
        assert_eq!(same.all_json(&json!(null)).unwrap(), vec![json!(true)]);
    }

    #[test]
    fn halt_is_an_error_not_an_exit() {
        let program = JqProgram::compile("halt").unwrap();
        assert!(program.all_json(&json!(null)).is_err());
    }

    #[test]
    fn first_output_only() {
        let program = JqProgram::compile(".[]").unwrap();
        let raw = RawValue::from_string("[1, 2]".into()).unwrap();
        assert_eq!(program.first(&LazyItem::new(&raw)).unwrap(), Some(json!(1)));
        let raw = RawValue::from_string("[]".into()).unwrap();
        assert_eq!(program.first(&LazyItem::new(&raw)).unwrap(), None);
    }

    #[test]
    fn fast_paths_fall_back_to_jq_errors() {
        let program = JqProgram::compile(".a.b").unwrap();
        assert!(program.all_json(&json!({"a": "text"})).is_err());
        assert_eq!(program.all_json(&json!({"a": null})).unwrap(), vec![json!(null)]);
        let program = JqProgram::compile(".a | tostring").unwrap();
        assert_eq!(program.all_json(&json!({"a": 1.0})).unwrap(), vec![json!("1")]);
        assert_eq!(program.all_json(&json!({})).unwrap(), vec![json!("null")]);
    }
}
