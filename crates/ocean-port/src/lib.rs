//! Port's REST API, as an integration uses it: token, blueprints, bulk entity
//! upserts, search, deletes and the integration record, behind one retry policy.

#![deny(missing_docs)]

mod batch;
mod blueprints;
pub(crate) mod client;
pub(crate) mod entities;
pub mod entity;
mod error;
pub mod event;
mod feed;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod integration;
pub mod ownership;
mod probe;

pub use blueprints::order_by_relations;
pub use client::{
    IngestUrls, PORT_MAX_BODY_BYTES, PORT_MAX_BULK_DELETE, PORT_MAX_BULK_ENTITIES, PortClient, PortSettings,
};
pub use entities::{
    DeleteReport, EntityFailure, Landed, OwnedFilter, SearchPage, UpsertOptions, UpsertReport,
};
pub use entity::Entity;
pub use error::{PortError, PortErrorBody};
pub use feed::KIND_EXAMPLES_LIMIT;
pub use ocean_support::retry::RetryPolicy;
