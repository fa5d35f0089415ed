//! The JQ mapping engine: raw items in, Port entities out.

pub mod fast_path;
pub mod jq;
mod json_out;
pub mod lazy_item;
pub mod stages;
mod tape;
pub mod value;

pub use jq::{JqCompileError, JqOptions, JqProgram, JqRunError};
pub mod entity;
pub mod mapper;

pub use entity::Entity;
pub use mapper::{FieldError, ItemOutcome, ResourceMapper};
