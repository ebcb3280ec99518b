//! The benchmark suite: the standard data sets, handcoded Rust baselines, adapters that run every
//! framework behind one [`adapters::Adapter`] trait, the timing protocol, CSV/JSON export and the
//! figures.
//!
//! The `benchmarks` binary (`src/main.rs`) only parses the command line and calls into these
//! modules; see `benchmarks/README.md` for the commands and the output layout.
//!
//! Adding a framework row means implementing [`adapters::Adapter`] and listing the adapter in
//! [`adapters::registry`]; every suite, export and figure then picks it up.

pub mod adapters;
pub mod alloc_meter;
pub mod compare;
pub mod data;
pub mod diagnostics;
pub mod env;
pub mod exact;
pub mod export;
pub mod handcoded;
pub mod interrupt;
pub mod machine;
pub mod models;
pub mod paths;
pub mod plots;
pub mod progress;
pub mod quality;
pub mod raw;
pub mod report;
pub mod suite;
pub mod timing;
pub mod units;
