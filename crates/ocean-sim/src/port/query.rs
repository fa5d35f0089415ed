//! Port's search-query language (`{combinator, rules}`), evaluated over an
//! entity's full view. Operators the simulator does not know are refused with
//! a 422 rather than guessed.

use std::cmp::Ordering;

use serde_json::Value;

use super::date_time::parse_rfc3339;
use super::refusal::Refusal;

#[derive(Debug, Clone)]
pub enum Rule {
    All(Vec<Rule>),
    Any(Vec<Rule>),
    Compare {
        property: String,
        operator: Operator,
        value: Value,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Eq,
    NotEq,
    In,
    NotIn,
    Contains,
    NotContains,
    BeginsWith,
    NotBeginsWith,
    EndsWith,
    NotEndsWith,
    Greater,
    GreaterEq,
    Less,
    LessEq,
    IsEmpty,
    IsNotEmpty,
    Between,
    NotBetween,
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::new(422, "invalid_request", message)
}

impl Operator {
    fn parse(name: &str) -> Result<Self, Refusal> {
        use Operator::*;
        Ok(match name {
            "=" => Eq,
            "!=" => NotEq,
            "in" => In,
            "notIn" => NotIn,
            "contains" => Contains,
            "doesNotContains" => NotContains,
            "beginsWith" => BeginsWith,
            "doesNotBeginsWith" => NotBeginsWith,
            "endsWith" => EndsWith,
            "doesNotEndsWith" => NotEndsWith,
            ">" => Greater,
            ">=" => GreaterEq,
            "<" => Less,
            "<=" => LessEq,
            "isEmpty" => IsEmpty,
            "isNotEmpty" => IsNotEmpty,
            "between" => Between,
            "notBetween" => NotBetween,
            other => {
                return Err(invalid(format!(
                    "Search operator \"{other}\" is not supported by the simulator"
                )));
            }
        })
    }
}

impl Rule {
    pub fn parse(value: &Value) -> Result<Rule, Refusal> {
        if let Some(combinator) = value.get("combinator") {
            let rules = value
                .get("rules")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("A search query needs \"rules\""))?
                .iter()
                .map(Rule::parse)
                .collect::<Result<Vec<_>, _>>()?;
            return match combinator.as_str() {
                Some("and") => Ok(Rule::All(rules)),
                Some("or") => Ok(Rule::Any(rules)),
                _ => Err(invalid("\"combinator\" must be \"and\" or \"or\"")),
            };
        }
        let property = value
            .get("property")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("A search rule needs a string \"property\""))?;
        let operator = Operator::parse(value.get("operator").and_then(Value::as_str).unwrap_or_default())?;
        let rule_value = value.get("value").cloned().unwrap_or(Value::Null);
        if rule_value.is_null() && !matches!(operator, Operator::IsEmpty | Operator::IsNotEmpty) {
            return Err(invalid(format!("The rule on \"{property}\" needs a \"value\"")));
        }
        Ok(Rule::Compare {
            property: property.to_string(),
            operator,
            value: rule_value,
        })
    }

    /// The identifiers a query is limited to, when it says so at the top
    /// (`$identifier` `=` or `in`, alone or under `and`): lets a search look
    /// those up instead of scanning the blueprint.
    pub fn identifier_limit(&self) -> Option<Vec<String>> {
        match self {
            Rule::Compare {
                property,
                operator: Operator::In,
                value,
            } if property == "$identifier" => Some(
                value
                    .as_array()?
                    .iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect(),
            ),
            Rule::Compare {
                property,
                operator: Operator::Eq,
                value: Value::String(id),
            } if property == "$identifier" => Some(vec![id.clone()]),
            Rule::All(rules) => rules.iter().find_map(Rule::identifier_limit),
            _ => None,
        }
    }

    /// `entity` is the full view: identifier, title, blueprint, team,
    /// createdAt, updatedAt, datasource, properties and relations.
    pub fn matches(&self, entity: &Value) -> bool {
        match self {
            Rule::All(rules) => rules.iter().all(|r| r.matches(entity)),
            Rule::Any(rules) => rules.iter().any(|r| r.matches(entity)),
            Rule::Compare {
                property,
                operator,
                value,
            } => compare(lookup(entity, property), *operator, value),
        }
    }
}

fn lookup<'a>(entity: &'a Value, property: &str) -> &'a Value {
    let found = match property.strip_prefix('$') {
        Some(meta) => entity.get(meta),
        None => entity
            .get("properties")
            .and_then(|p| p.get(property))
            .or_else(|| entity.get("relations").and_then(|r| r.get(property))),
    };
    found.unwrap_or(&Value::Null)
}

fn compare(actual: &Value, operator: Operator, expected: &Value) -> bool {
    use Operator::*;
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let in_list = || {
        expected
            .as_array()
            .is_some_and(|list| list.iter().any(|v| loosely_equal(actual, v)))
    };
    match operator {
        Eq => loosely_equal(actual, expected),
        NotEq => !loosely_equal(actual, expected),
        In => in_list(),
        NotIn => !in_list(),
        Contains => text(actual).contains(&text(expected)),
        NotContains => !text(actual).contains(&text(expected)),
        BeginsWith => text(actual).starts_with(&text(expected)),
        NotBeginsWith => !text(actual).starts_with(&text(expected)),
        EndsWith => text(actual).ends_with(&text(expected)),
        NotEndsWith => !text(actual).ends_with(&text(expected)),
        Greater => order(actual, expected) == Some(Ordering::Greater),
        GreaterEq => matches!(order(actual, expected), Some(Ordering::Greater | Ordering::Equal)),
        Less => order(actual, expected) == Some(Ordering::Less),
        LessEq => matches!(order(actual, expected), Some(Ordering::Less | Ordering::Equal)),
        IsEmpty => is_empty(actual),
        IsNotEmpty => !is_empty(actual),
        Between | NotBetween => {
            let from = expected.get("from").unwrap_or(&Value::Null);
            let to = expected.get("to").unwrap_or(&Value::Null);
            let inside = matches!(order(actual, from), Some(Ordering::Greater | Ordering::Equal))
                && matches!(order(actual, to), Some(Ordering::Less | Ordering::Equal));
            inside == (operator == Between)
        }
    }
}

fn loosely_equal(actual: &Value, expected: &Value) -> bool {
    match actual {
        Value::Array(items) => items.iter().any(|item| item == expected),
        _ => actual == expected,
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Numbers by value, date-times by instant, other strings by text.
fn order(actual: &Value, expected: &Value) -> Option<Ordering> {
    match (actual, expected) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => match (parse_rfc3339(a), parse_rfc3339(b)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(a.cmp(b)),
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entity() -> Value {
        json!({"identifier": "repo-1", "title": "Repo", "datasource": "port-ocean/codecov/0.1.0/codecov/exporter",
               "updatedAt": "2026-01-01T10:00:00Z", "properties": {"files": 3}, "relations": {}})
    }

    fn matches(query: Value) -> bool {
        Rule::parse(&query).expect("valid query").matches(&entity())
    }

    #[test]
    fn ocean_stale_entity_query_matches_its_own_datasource() {
        assert!(matches(json!({"combinator": "and", "rules": [
            {"property": "$datasource", "operator": "contains", "value": "port-ocean/codecov/"},
            {"property": "$datasource", "operator": "contains", "value": "/codecov/exporter"}]})));
        assert!(!matches(json!({"combinator": "and", "rules": [
            {"property": "$datasource", "operator": "contains", "value": "/other/exporter"}]})));
    }

    #[test]
    fn dates_numbers_and_lists_compare_by_meaning() {
        assert!(!matches(
            json!({"property": "$updatedAt", "operator": "<", "value": "2026-01-01T11:00:00+01:00"})
        ));
        assert!(matches(
            json!({"property": "$updatedAt", "operator": "<", "value": "2026-01-01T10:00:01Z"})
        ));
        assert!(matches(
            json!({"property": "files", "operator": ">=", "value": 3})
        ));
        assert!(matches(
            json!({"property": "$identifier", "operator": "in", "value": ["x", "repo-1"]})
        ));
        assert!(matches(json!({"combinator": "or", "rules": [
            {"property": "$title", "operator": "isEmpty"}, {"property": "files", "operator": "=", "value": 3}]})));
    }

    #[test]
    fn unknown_operators_are_refused() {
        let refusal = Rule::parse(&json!({"property": "a", "operator": "relatedTo", "value": "x"}))
            .expect_err("refused");
        assert_eq!(refusal.status, 422);
    }
}
