//! The JQ mapping engine: raw items in, Port entities out.

pub mod jq;
pub mod lazy_item;
pub mod native;
mod tape;
pub mod value;

pub use jq::{JqCompileError, JqOptions, JqProgram, JqRunError};
pub mod mapper;

pub use mapper::{FieldError, ItemOutcome, ResourceMapper};
