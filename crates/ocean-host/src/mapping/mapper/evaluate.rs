//! Mapping raw items: never panics, never stops at the first bad field.

use serde_json::Value;
use serde_json::value::RawValue;

use super::{FieldError, FieldProgram, ItemOutcome, ResourceMapper, RuleProgram, SearchProgram, json_type};
use crate::mapping::jq::JqProgram;
use crate::mapping::lazy_item::LazyItem;
use ocean_port::Entity;

impl ResourceMapper {
    /// Maps an item held as a serde value (tests, the CLI); see [`ResourceMapper::map_raw`].
    pub fn map_json(&self, item: &Value) -> ItemOutcome {
        match RawValue::from_string(item.to_string()) {
            Ok(raw) => self.map_raw(&raw),
            Err(e) => ItemOutcome {
                errors: vec![FieldError {
                    field: String::new(),
                    message: format!("not JSON: {e}"),
                }],
                failed: vec![None],
                ..ItemOutcome::default()
            },
        }
    }

    /// The entity an item would become if its selector let it through:
    /// (blueprint, identifier) when both compute to non-empty strings. Live
    /// events use it to delete the entity of an item the selector now leaves
    /// out. `None` with `itemsToParse` (one item, many entities).
    pub fn identity(&self, item: &RawValue) -> Option<(String, String)> {
        if self.items_to_parse.is_some() {
            return None;
        }
        let input = LazyItem::new(item);
        let mut eval =
            |_: &str, program: &JqProgram| program.first(&input).ok().flatten().unwrap_or(Value::Null);
        let identifier = eval_field(&self.identifier, "identifier", &mut eval);
        let blueprint = eval("blueprint", &self.blueprint);
        match (blueprint, identifier) {
            (Value::String(b), Value::String(i)) if !b.is_empty() && !i.is_empty() => Some((b, i)),
            _ => None,
        }
    }

    /// Where the entities a stand-in item speaks for relate to: the blueprint
    /// and every (relation, identifier) the mapping computes from it, selector
    /// not applied (a stand-in lacks the fields a selector reads). Relations
    /// that fail, come out null or are search queries are left out. `None`
    /// with `itemsToParse`, or when the blueprint is not a non-empty string.
    pub fn relations_of(&self, item: &Value) -> Option<(String, Vec<(String, String)>)> {
        if self.items_to_parse.is_some() {
            return None;
        }
        let raw = RawValue::from_string(item.to_string()).ok()?;
        let input = LazyItem::new(&raw);
        let first = |program: &JqProgram| program.first(&input).ok().flatten();
        let blueprint = match first(&self.blueprint)? {
            Value::String(b) if !b.is_empty() => b,
            _ => return None,
        };
        let mut related = Vec::new();
        for (name, _, program) in &self.relations {
            let FieldProgram::Jq(program) = program else {
                continue;
            };
            let targets = match first(program) {
                Some(Value::String(id)) => vec![Value::String(id)],
                Some(Value::Array(ids)) => ids,
                _ => continue,
            };
            for target in targets {
                if let Value::String(id) = target
                    && !id.is_empty()
                {
                    related.push((name.clone(), id));
                }
            }
        }
        Some((blueprint, related))
    }

    /// Maps one raw item: never panics, never stops at the first bad field.
    pub fn map_raw(&self, raw: &RawValue) -> ItemOutcome {
        self.map_item(&LazyItem::new(raw))
    }

    /// Maps an item already wrapped for lazy reading (so several resources share its parsing).
    pub fn map_item(&self, item: &LazyItem) -> ItemOutcome {
        let mut outcome = ItemOutcome::default();
        match &self.items_to_parse {
            None => self.map_input(item, &mut outcome),
            Some(parse) => match parse.inputs(item) {
                Ok(inputs) => {
                    for input in &inputs {
                        self.map_input(&LazyItem::new(input), &mut outcome);
                    }
                }
                Err(e) => {
                    outcome.errors.push(e);
                    outcome.failed.push(None);
                }
            },
        }
        outcome
    }

    fn map_input(&self, input: &LazyItem, outcome: &mut ItemOutcome) {
        match self.selector.first(input) {
            Ok(Some(Value::Bool(true))) => {}
            Ok(_) => {
                outcome.skipped += 1;
                return;
            }
            Err(e) => {
                outcome.errors.push(FieldError {
                    field: "selector".into(),
                    message: e.0,
                });
                outcome.failed.push(None);
                return;
            }
        }
        let mut errors = Vec::new();
        let mut eval = |field: &str, program: &JqProgram| -> Value {
            match program.first(input) {
                Ok(v) => v.unwrap_or(Value::Null),
                Err(e) => {
                    errors.push(FieldError {
                        field: field.to_owned(),
                        message: e.0,
                    });
                    Value::Null
                }
            }
        };
        let identifier = eval_field(&self.identifier, "identifier", &mut eval);
        let title = self.title.as_ref().map(|p| eval("title", p));
        let blueprint = eval("blueprint", &self.blueprint);
        let team = self.team.as_ref().map(|p| eval_field(p, "team", &mut eval));
        let icon = self.icon.as_ref().map(|p| eval("icon", p));
        // Names are unique (they come from a map), so slots and fields pair up in order.
        let mut properties = self.property_slots.clone();
        for (slot, (_, label, program)) in properties.values_mut().zip(&self.properties) {
            *slot = eval(label, program);
        }
        let mut relations = self.relation_slots.clone();
        for (slot, (_, label, program)) in relations.values_mut().zip(&self.relations) {
            *slot = eval_field(program, label, &mut eval);
        }
        check_identifier(&identifier, &mut errors);
        let blueprint = match blueprint {
            Value::String(s) if !s.is_empty() => s,
            other => {
                errors.push(FieldError {
                    field: "blueprint".into(),
                    message: format!("must be a non-empty string, got {}", json_type(&other)),
                });
                String::new()
            }
        };
        if !errors.is_empty() {
            let key_failed = errors
                .iter()
                .any(|e| e.field == "blueprint" || e.field.starts_with("identifier"));
            let key = match &identifier {
                Value::String(id) if !key_failed => Some((blueprint, id.clone())),
                _ => None,
            };
            outcome.failed.push(key);
            outcome.errors.extend(errors);
            return;
        }
        outcome.entities.push(Entity {
            identifier,
            title: title.filter(|v| !v.is_null()),
            blueprint,
            team: team.filter(|v| !v.is_null()),
            icon: icon.filter(|v| !v.is_null()),
            properties,
            relations,
        });
    }
}

fn eval_field(
    program: &FieldProgram,
    field: &str,
    eval: &mut impl FnMut(&str, &JqProgram) -> Value,
) -> Value {
    match program {
        FieldProgram::Jq(p) => eval(field, p),
        FieldProgram::Search(q) => eval_search(q, field, eval),
    }
}

fn eval_search(q: &SearchProgram, field: &str, eval: &mut impl FnMut(&str, &JqProgram) -> Value) -> Value {
    let combinator = eval(&format!("{field}.combinator"), &q.combinator);
    let rules = q
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let at = format!("{field}.rules[{i}]");
            match rule {
                RuleProgram::Rule(rule) => serde_json::json!({
                    "property": eval(&format!("{at}.property"), &rule.property),
                    "operator": eval(&format!("{at}.operator"), &rule.operator),
                    "value": eval(&format!("{at}.value"), &rule.value),
                }),
                RuleProgram::Query(inner) => eval_search(inner, &at, eval),
            }
        })
        .collect();
    serde_json::json!({ "combinator": combinator, "rules": Value::Array(rules) })
}

/// Port needs a non-empty string identifier, or a search query object.
fn check_identifier(identifier: &Value, errors: &mut Vec<FieldError>) {
    let ok = match identifier {
        Value::String(s) => !s.is_empty(),
        Value::Object(o) => o.contains_key("combinator"),
        _ => false,
    };
    if !ok && !errors.iter().any(|e| e.field == "identifier") {
        errors.push(FieldError {
            field: "identifier".into(),
            message: format!("must be a non-empty string, got {}", json_type(identifier)),
        });
    }
}
