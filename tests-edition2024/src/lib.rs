//! Nothing but a home for `tests/alias.rs`: `gen` is a reserved keyword in edition 2024, so
//! models there are written `#[r#gen]` or `#[generative]`, and this crate checks that both
//! compile and run.
