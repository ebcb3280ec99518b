//! tmp
pub mod data;
pub mod paths;
