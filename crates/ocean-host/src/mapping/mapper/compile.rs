//! Compiling a resource's expressions, all faults reported at once.

use serde_json::{Map, Value};

use super::items_to_parse::{ItemsToParse, removed_path};
use super::{CompileFault, FieldPaths, FieldProgram, LeafRule, ResourceMapper, RuleProgram, SearchProgram};
use crate::mapping::jq::{JqOptions, JqProgram};
use crate::port_app_config::model::{MappingValue, ResourceConfig, SearchQuery, SearchRule};

/// Names with null values, in order.
fn slots<T>(fields: &[(String, String, T)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(name, ..)| (name.clone(), Value::Null))
        .collect()
}

struct Compiling<'a> {
    options: JqOptions,
    faults: &'a mut Vec<CompileFault>,
}

impl Compiling<'_> {
    fn jq(&mut self, code: &str, path: String) -> Option<JqProgram> {
        match JqProgram::compile_with(code, self.options) {
            Ok(p) => Some(p),
            Err(e) => {
                self.faults.push(CompileFault {
                    path,
                    offset: Some(code.get(..e.offset).map_or(0, |s| s.chars().count())),
                    message: e.to_string(),
                });
                None
            }
        }
    }

    /// The top-level transform: `del(<the path Ocean removes>)`. With no such
    /// path Ocean deletes `.`, so every item becomes null and is dropped: that
    /// mapping is refused here instead.
    fn strip(&mut self, code: &str, path: String) -> Option<JqProgram> {
        let Some(removed) = removed_path(code) else {
            self.faults.push(CompileFault {
                path,
                offset: None,
                message:
                    "names no path to remove from the item (Ocean would delete `.` and drop every item); \
                          start the expression with the array's path (e.g. `.items | ...`) or set \
                          itemsToParseTopLevelTransform: false"
                        .into(),
            });
            return None;
        };
        match JqProgram::compile_with(&format!("del({removed})"), self.options) {
            Ok(p) => Some(p),
            Err(e) => {
                self.faults.push(CompileFault {
                    path,
                    offset: None,
                    message: format!(
                        "the path Ocean removes from the item, `{removed}`, does not compile: {e}"
                    ),
                });
                None
            }
        }
    }

    fn field(&mut self, value: &MappingValue, path: String) -> Option<FieldProgram> {
        match value {
            MappingValue::Jq(code) => self.jq(code, path).map(FieldProgram::Jq),
            MappingValue::Search(q) => self.search(q, path).map(FieldProgram::Search),
        }
    }

    fn search(&mut self, q: &SearchQuery, path: String) -> Option<SearchProgram> {
        let combinator = self.jq(&q.combinator, format!("{path}.combinator"));
        let mut rules = Vec::with_capacity(q.rules.len());
        for (i, rule) in q.rules.iter().enumerate() {
            let at = format!("{path}.rules[{i}]");
            let compiled = match rule {
                SearchRule::Rule {
                    property,
                    operator,
                    value,
                } => {
                    let p = self.jq(property, format!("{at}.property"));
                    let o = self.jq(operator, format!("{at}.operator"));
                    let v = self.jq(value, format!("{at}.value"));
                    match (p, o, v) {
                        (Some(property), Some(operator), Some(value)) => {
                            Some(RuleProgram::Rule(Box::new(LeafRule {
                                property,
                                operator,
                                value,
                            })))
                        }
                        _ => None,
                    }
                }
                SearchRule::Query(inner) => self.search(inner, at).map(RuleProgram::Query),
            };
            rules.extend(compiled);
        }
        let complete = rules.len() == q.rules.len();
        combinator
            .filter(|_| complete)
            .map(|combinator| SearchProgram { combinator, rules })
    }
}

impl ResourceMapper {
    /// Compiles every expression of the resource; all faults are reported, not the first.
    pub fn compile(
        resource: &ResourceConfig,
        paths: &FieldPaths,
        options: JqOptions,
    ) -> Result<Self, Vec<CompileFault>> {
        let mut faults = Vec::new();
        let mut c = Compiling {
            options,
            faults: &mut faults,
        };
        let r = &resource.port;
        let m = &r.entity.mappings;
        let selector = c.jq(
            &resource.selector.query,
            format!("{}{}", paths.resource, paths.selector),
        );
        // Ocean reads `itemsToParse: ""` as unset (a falsy string).
        let items_to_parse = r
            .items_to_parse
            .as_ref()
            .filter(|code| !code.is_empty())
            .map(|code| {
                let path = format!("{}{}", paths.resource, paths.items_to_parse);
                let items = c.jq(code, path.clone());
                let strip = if r.items_to_parse_top_level_transform {
                    c.strip(code, path).map(Some)
                } else {
                    Some(None)
                };
                (items, strip)
            });
        let identifier = c.field(&m.identifier, paths.mapping("identifier"));
        let title = m.title.as_ref().map(|t| c.jq(t, paths.mapping("title")));
        let blueprint = c.jq(&m.blueprint, format!("{}{}", paths.resource, paths.blueprint));
        let team = m.team.as_ref().map(|t| c.field(t, paths.mapping("team")));
        let icon = m.icon.as_ref().map(|t| c.jq(t, paths.mapping("icon")));
        let properties: Vec<_> = m
            .properties
            .iter()
            .filter_map(|(k, code)| {
                let p = c.jq(code, paths.mapping(&format!("properties.{k}")));
                p.map(|p| (k.clone(), format!("properties.{k}"), p))
            })
            .collect();
        let relations: Vec<_> = m
            .relations
            .iter()
            .filter_map(|(k, v)| {
                let p = c.field(v, paths.mapping(&format!("relations.{k}")));
                p.map(|p| (k.clone(), format!("relations.{k}"), p))
            })
            .collect();
        if !faults.is_empty() {
            return Err(faults);
        }
        // With no faults every Option above holds a program.
        let missing = || vec![internal_fault(paths)];
        let items_to_parse = match items_to_parse {
            None => None,
            Some((Some(items), Some(strip))) => Some(ItemsToParse {
                items,
                strip,
                name: r.items_to_parse_name.clone(),
            }),
            Some(_) => return Err(missing()),
        };
        Ok(Self {
            kind: resource.kind.clone(),
            selector: selector.ok_or_else(missing)?,
            items_to_parse,
            identifier: identifier.ok_or_else(missing)?,
            title: title.map(|t| t.ok_or_else(missing)).transpose()?,
            blueprint: blueprint.ok_or_else(missing)?,
            team: team.map(|t| t.ok_or_else(missing)).transpose()?,
            icon: icon.map(|t| t.ok_or_else(missing)).transpose()?,
            property_slots: slots(&properties),
            relation_slots: slots(&relations),
            properties,
            relations,
        })
    }
}

fn internal_fault(paths: &FieldPaths) -> CompileFault {
    CompileFault {
        path: paths.resource.trim_end_matches('.').to_owned(),
        offset: None,
        message: "internal error: a compiled field went missing".into(),
    }
}
