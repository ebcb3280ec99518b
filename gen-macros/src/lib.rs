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
///
/// # What it generates
///
/// For `#[gen] fn model(xs: &[f64], n: usize) -> Real { .. }`, two items named `model`:
///
/// - a module `model` with the generative function's type, `model::Gf`: a zero-sized marker
///   that implements `GenerativeFunction`, with the lifetimes of the arguments' references
///   (here `model::Gf<'a>`; plain `model::Gf` when the arguments hold none), and `model::gf()`, that type as a value, for
///   combinators (`Map::new(model::gf())`);
/// - the function `model(xs, n) -> Call<model::Gf<'_>>`, which binds the arguments. Nothing
///   runs until the call is simulated or generated (`model(&xs, 3).simulate(key)`, which
///   returns a `Trace<model::Gf<'_>>`) or traced inside another model
///   (`model(&xs, 3).at("sub")`).
///
/// Name these types to keep a call in a struct or pass it to a function:
///
/// ```ignore
/// use gen_runtime::prelude::*;
///
/// struct Experiment<'a> {
///     model: Call<model::Gf<'a>>,
///     observations: ChoiceMap,
/// }
///
/// fn run(call: &Call<model::Gf<'_>>, observations: &ChoiceMap) -> Result<f64, GenError> {
///     let (_trace, log_weight) = call.generate(Key::new(0), observations)?;
///     Ok(log_weight)
/// }
/// ```
///
/// (`gen_runtime`'s crate documentation has this example in full, compiled and run.)
#[proc_macro_attribute]
pub fn gen(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}

/// The same attribute as [`macro@gen`], under a name that is not a keyword in any edition.
#[proc_macro_attribute]
pub fn generative(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(attr.into(), item.into()).into()
}
