//! Ocean's `itemsToParse`: one raw item becomes one input per array element.

use serde_json::Value;
use serde_json::value::RawValue;

use super::{FieldError, json_type};
use crate::mapping::jq::JqProgram;
use crate::mapping::lazy_item::LazyItem;

pub(super) struct ItemsToParse {
    pub(super) items: JqProgram,
    /// `del(<itemsToParse>)`, run when the top-level transform is on.
    pub(super) strip: Option<JqProgram>,
    pub(super) name: String,
}

impl ItemsToParse {
    /// Ocean's expansion: each element bound under `name` in a copy of the item
    /// (without the parsed array when the top-level transform is on).
    pub(super) fn inputs(&self, item: &LazyItem) -> Result<Vec<Box<RawValue>>, FieldError> {
        let err = |message: String| FieldError {
            field: "itemsToParse".into(),
            message,
        };
        let items = self.items.first(item).map_err(|e| err(e.0))?;
        let Some(Value::Array(items)) = items else {
            let got = items.as_ref().map_or("nothing".into(), json_type);
            return Err(err(format!("must yield an array, got {got}")));
        };
        let base = match &self.strip {
            Some(strip) => strip.first(item).map_err(|e| err(e.0))?.unwrap_or(Value::Null),
            None => item.whole_json().map_err(|e| err(e.0))?,
        };
        let Value::Object(base) = base else {
            return Err(err(format!(
                "the item must be an object, got {}",
                json_type(&base)
            )));
        };
        items
            .into_iter()
            .map(|element| {
                let mut merged = base.clone();
                merged.insert(self.name.clone(), element);
                RawValue::from_string(Value::Object(merged).to_string()).map_err(|e| err(e.to_string()))
            })
            .collect()
    }
}
