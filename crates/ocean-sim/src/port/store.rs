//! The simulated organisation's data: blueprints, entities and integrations,
//! with Port's rules for upserts, relations and deletes.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value, json};

pub use super::date_time::rfc3339;
use super::entity_rules::{check_identifier, check_properties, check_relations};
use super::query;

pub use super::refusal::Refusal;

#[derive(Debug, Clone)]
pub struct StoredEntity {
    pub identifier: String,
    pub title: Option<String>,
    pub icon: Option<String>,
    pub team: Vec<String>,
    pub properties: Map<String, Value>,
    pub relations: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The User-Agent of the last writer: Port's `$datasource`.
    pub datasource: String,
}

impl StoredEntity {
    /// The entity as Port's entity routes return it.
    pub fn to_json(&self) -> Value {
        let mut entity = json!({
            "identifier": self.identifier,
            "team": self.team,
            "properties": self.properties,
            "relations": self.relations,
        });
        if let Some(title) = &self.title {
            entity["title"] = json!(title);
        }
        if let Some(icon) = &self.icon {
            entity["icon"] = json!(icon);
        }
        entity
    }

    /// Everything, meta-properties included, for the admin view and for search rules.
    pub fn to_admin_json(&self, blueprint: &str) -> Value {
        let mut entity = self.to_json();
        entity["blueprint"] = json!(blueprint);
        entity["createdAt"] = json!(rfc3339(self.created_at));
        entity["updatedAt"] = json!(rfc3339(self.updated_at));
        entity["datasource"] = json!(self.datasource);
        entity
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct WriteMode {
    pub upsert: bool,
    pub merge: bool,
    pub create_missing_related_entities: bool,
}

#[derive(Default)]
pub struct Store {
    pub blueprints: IndexMap<String, Value>,
    pub entities: HashMap<String, BTreeMap<String, StoredEntity>>,
    pub integrations: IndexMap<String, Value>,
    pub resync_requests: u64,
    /// Per integration: the last resync request (`{id, updatedAt}`).
    pub resync_request: std::collections::HashMap<String, Value>,
    /// Every entity deleted, dependents included, as (blueprint, identifier),
    /// until a test takes them: what the soak checks against Codecov's truth.
    pub deletions: Vec<(String, String)>,
    /// Port's clock relative to the host's: every timestamp follows it.
    pub clock_offset: SignedDuration,
}

impl Store {
    pub fn now(&self) -> Timestamp {
        Timestamp::now() + self.clock_offset
    }

    pub fn record_resync_request(&mut self, identifier: &str) {
        self.resync_requests += 1;
        let now = rfc3339(self.now());
        let id = format!("resync-{identifier}-{}", self.resync_requests);
        self.resync_request
            .insert(identifier.to_string(), json!({"id": id, "updatedAt": now}));
    }

    pub fn blueprint(&self, identifier: &str) -> Result<&Value, Refusal> {
        self.blueprints.get(identifier).ok_or_else(|| {
            Refusal::new(
                404,
                "not_found",
                format!("Blueprint with identifier \"{identifier}\" was not found"),
            )
        })
    }

    /// Stores a blueprint with the meta-fields Port adds (who and when).
    pub fn create_blueprint(&mut self, blueprint: Value, writer: &str) -> Result<Value, Refusal> {
        let identifier = blueprint
            .get("identifier")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if self.blueprints.contains_key(&identifier) {
            return Err(Refusal::new(
                409,
                "identifier_taken",
                format!("A blueprint with identifier \"{identifier}\" already exists"),
            ));
        }
        let mut blueprint = blueprint;
        let now = json!(rfc3339(self.now()));
        if let Some(fields) = blueprint.as_object_mut() {
            for (key, value) in [
                ("createdBy", json!(writer)),
                ("updatedBy", json!(writer)),
                ("createdAt", now.clone()),
                ("updatedAt", now),
            ] {
                fields.entry(key).or_insert(value);
            }
        }
        self.blueprints.insert(identifier.clone(), blueprint.clone());
        self.entities.entry(identifier).or_default();
        Ok(blueprint)
    }

    /// Creates, replaces or merges one entity, as the entity routes do.
    /// Returns the stored entity and whether it was created.
    pub fn write_entity(
        &mut self,
        blueprint: &str,
        body: &Value,
        mode: WriteMode,
        writer: &str,
    ) -> Result<(StoredEntity, bool), Refusal> {
        let schema = self.blueprint(blueprint)?.clone();
        let identifier = self.resolve_identifier(blueprint, body.get("identifier"))?;
        let existing = self
            .entities
            .get(blueprint)
            .and_then(|e| e.get(&identifier))
            .cloned();
        if existing.is_some() && !mode.upsert {
            return Err(Refusal::new(
                409,
                "identifier_taken",
                format!(
                    "Entity with identifier \"{identifier}\" already exists in blueprint \"{blueprint}\""
                ),
            ));
        }
        let now = self.now();
        let incoming_properties = object_field(body, "properties")?;
        let incoming_relations = object_field(body, "relations")?;
        let mut entity = match (&existing, mode.merge) {
            (Some(old), true) => {
                let mut merged = old.clone();
                merged.properties.extend(incoming_properties);
                merged.relations.extend(incoming_relations);
                if let Some(title) = body.get("title") {
                    merged.title = title.as_str().map(String::from);
                }
                if let Some(icon) = body.get("icon") {
                    merged.icon = icon.as_str().map(String::from);
                }
                if let Some(team) = body.get("team") {
                    merged.team = teams(team)?;
                }
                merged
            }
            _ => StoredEntity {
                identifier: identifier.clone(),
                title: text_field(body, "title")?,
                icon: text_field(body, "icon")?,
                team: body.get("team").map(teams).transpose()?.unwrap_or_default(),
                properties: incoming_properties,
                relations: incoming_relations,
                created_at: existing.as_ref().map_or(now, |e| e.created_at),
                updated_at: now,
                datasource: String::new(),
            },
        };
        check_properties(&schema, &entity.properties)?;
        let targets = check_relations(&schema, &entity.relations)?;
        for (target_blueprint, target) in &targets {
            let exists = self
                .entities
                .get(target_blueprint)
                .is_some_and(|e| e.contains_key(target));
            if exists {
                continue;
            }
            if !mode.create_missing_related_entities {
                return Err(Refusal::new(
                    404,
                    "not_found",
                    format!("Related entity \"{target}\" of blueprint \"{target_blueprint}\" was not found"),
                ));
            }
        }
        for (target_blueprint, target) in targets {
            if self.blueprints.contains_key(&target_blueprint) {
                let bucket = self.entities.entry(target_blueprint).or_default();
                bucket.entry(target.clone()).or_insert_with(|| StoredEntity {
                    identifier: target,
                    title: None,
                    icon: None,
                    team: Vec::new(),
                    properties: Map::new(),
                    relations: Map::new(),
                    created_at: now,
                    updated_at: now,
                    datasource: writer.to_string(),
                });
            }
        }
        entity.updated_at = now;
        entity.datasource = writer.to_string();
        let created = existing.is_none();
        self.entities
            .entry(blueprint.to_string())
            .or_default()
            .insert(identifier, entity.clone());
        Ok((entity, created))
    }

    fn resolve_identifier(&self, blueprint: &str, identifier: Option<&Value>) -> Result<String, Refusal> {
        match identifier {
            Some(Value::String(text)) => {
                check_identifier(text)?;
                Ok(text.clone())
            }
            Some(search @ Value::Object(_)) => {
                let rule = query::Rule::parse(search)?;
                let mut found = self
                    .entities
                    .get(blueprint)
                    .into_iter()
                    .flat_map(|e| e.values())
                    .filter(|e| {
                        let view = e.to_admin_json(blueprint);
                        rule.matches(&view)
                    });
                match (found.next(), found.next()) {
                    (Some(one), None) => Ok(one.identifier.clone()),
                    (None, _) => Err(Refusal::new(
                        404,
                        "not_found",
                        "The identifier search query matched no entity",
                    )),
                    _ => Err(Refusal::new(
                        422,
                        "invalid_request",
                        "The identifier search query matched more than one entity",
                    )),
                }
            }
            _ => Err(Refusal::new(
                422,
                "invalid_request",
                "\"identifier\" must be a string or a search query",
            )),
        }
    }

    /// Identifiers of entities (in any blueprint) whose relations point at `target`.
    fn dependents_of(&self, blueprint: &str, target: &str) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for (other_blueprint, entities) in &self.entities {
            let Some(schema) = self.blueprints.get(other_blueprint) else {
                continue;
            };
            for entity in entities.values() {
                let points_here = entity.relations.iter().any(|(name, value)| {
                    let relation_target = schema
                        .pointer(&format!("/relations/{name}/target"))
                        .and_then(Value::as_str);
                    relation_target == Some(blueprint)
                        && match value {
                            Value::String(id) => id == target,
                            Value::Array(ids) => ids.iter().any(|id| id.as_str() == Some(target)),
                            _ => false,
                        }
                });
                if points_here {
                    found.push((other_blueprint.clone(), entity.identifier.clone()));
                }
            }
        }
        found
    }

    /// Deletes the entities that exist; refuses the whole set when one has
    /// dependents and `delete_dependents` is false, as Port documents.
    pub fn delete_entities(
        &mut self,
        blueprint: &str,
        identifiers: &[String],
        delete_dependents: bool,
    ) -> Result<Vec<String>, Refusal> {
        self.blueprint(blueprint)?;
        if !delete_dependents {
            for identifier in identifiers {
                if let Some((dep_bp, dep)) = self.dependents_of(blueprint, identifier).into_iter().next() {
                    return Err(Refusal::new(
                        422,
                        "has_dependents",
                        format!(
                            "Entity \"{identifier}\" has dependent entities (\"{dep}\" of blueprint \"{dep_bp}\")"
                        ),
                    ));
                }
            }
        }
        let mut deleted = Vec::new();
        let mut pending: Vec<(String, String)> = identifiers
            .iter()
            .map(|id| (blueprint.to_string(), id.clone()))
            .collect();
        while let Some((bp, identifier)) = pending.pop() {
            let removed = self
                .entities
                .get_mut(&bp)
                .and_then(|e| e.remove(&identifier))
                .is_some();
            if removed {
                self.deletions.push((bp.clone(), identifier.clone()));
                if delete_dependents {
                    pending.extend(self.dependents_of(&bp, &identifier));
                }
                if bp == blueprint {
                    deleted.push(identifier);
                }
            }
        }
        Ok(deleted)
    }
}

fn object_field(body: &Value, name: &str) -> Result<Map<String, Value>, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) => Ok(map.clone()),
        Some(_) => Err(Refusal::new(
            422,
            "invalid_request",
            format!("\"{name}\" must be an object"),
        )),
    }
}

fn text_field(body: &Value, name: &str) -> Result<Option<String>, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(Refusal::new(
            422,
            "invalid_request",
            format!("\"{name}\" must be a string"),
        )),
    }
}

fn teams(team: &Value) -> Result<Vec<String>, Refusal> {
    match team {
        Value::Null => Ok(Vec::new()),
        Value::String(one) => Ok(vec![one.clone()]),
        Value::Array(many) if many.iter().all(Value::is_string) => {
            Ok(many.iter().filter_map(Value::as_str).map(String::from).collect())
        }
        _ => Err(Refusal::new(
            422,
            "invalid_request",
            "\"team\" must be a string or an array of strings",
        )),
    }
}
