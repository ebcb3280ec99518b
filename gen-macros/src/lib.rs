//! The `#[gen]` attribute of `gen-runtime`. Use it through `gen_runtime`, which re-exports it:
//!
//! ```ignore
//! use gen_runtime::prelude::*;
//!
//! #[gen]
//! fn coin(n: usize) -> Real {
//!     let p = beta(1.0, 1.0).at("p");
//!     iid(bernoulli(p), n).at("flips");
//!     p
//! }
//! ```
//!
//! The macro runs in three stages, one file each: `ast.rs` parses the function into a model
//! of its signature and trace sites, `valid.rs` checks it and gathers every misuse with its
//! span, and `expand.rs` generates the code; `ad.rs` writes the reverse-mode adjoint of plate
//! closures that have a simple enough form, for the gradient engine.

mod ad;
mod ast;
mod expand;
mod valid;

use proc_macro::TokenStream;

/// Turns a function whose random choices are written `dist.at(addr)` into a generative
/// function. `gen` is a reserved keyword in edition 2024: there, write `#[r#gen]` or use the
/// alias [`macro@generative`].
#[proc_macro_attribute]
pub fn gen(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}

/// The same attribute as [`macro@gen`], under a name that is not a keyword in any edition.
#[proc_macro_attribute]
pub fn generative(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}
