//! The test rig, never in the production image: the harness (both
//! simulators on loopback and the integration pointed at them), the
//! benchmarks that print figures, and the fuzz entry points. Used by the
//! tests, `bench`, `sandbox` and the fuzz targets.

pub mod bench;
pub mod fuzzing;
pub mod harness;
