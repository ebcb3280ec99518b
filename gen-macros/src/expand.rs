//! Code generation for `#[gen]`.
//!
//! For `fn model(xs: &[f64]) -> Real { body }` it emits:
//! - `mod model { pub struct Gf<'a>(..); }`: the generative function as a value (for
//!   combinators), in a module named like the function so the two can share the name;
//! - `impl GenerativeFunction for model::Gf<'a>`, whose `run` is the body made generic over
//!   the handler, with every `X.at(addr)` rewritten into a handler call and `Real` meaning
//!   the handler's value type;
//! - `fn model(xs: &[f64]) -> Call<model::Gf<'_>>`, which binds arguments.
//!
//! Along the way it reads integer literals among distributions' real parameters as floats
//! (`normal(0, 1)`), and routes comparisons and statements that may have been meant to be
//! traced through small items in the module (`body_checks`), whose only effect is a compile
//! error that says what to write where the body compares a `Real` or forgets `.at`.
//!
//! Generated code names the runtime through `::gen_runtime::__private` so user imports
//! cannot shadow it.

use crate::ast::{address_name, Model};
use crate::valid::{self, Errors};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{parse_quote, parse_quote_spanned, Expr, FnArg, GenericParam, ItemFn, Lifetime, ReturnType, Type};

/// The macro's entry point.
pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => return e.into_compile_error(),
    };
    let mut errors = Errors::default();
    if !attr.is_empty() {
        errors.push(syn::Error::new_spanned(&attr, "#[gen] takes no arguments"));
    }
    let model = Model::parse(func);
    valid::check(&model, &mut errors);
    match errors.finish() {
        Ok(()) => generate(model),
        Err(e) => {
            let mut out = e.into_compile_error();
            out.extend(fallback(&model.func));
            out
        }
    }
}

/// On error, still define the function (with its signature, `Real` read as `f64`) so that
/// callers do not get a cascade of "cannot find function" errors.
fn fallback(func: &ItemFn) -> TokenStream {
    if func.sig.inputs.iter().any(|a| matches!(a, FnArg::Receiver(_))) || func.sig.generics.type_params().count() > 0 {
        return TokenStream::new();
    }
    let mut sig = func.sig.clone();
    sig.asyncness = None;
    sig.constness = None;
    ReplaceReal(parse_quote!(f64)).visit_signature_mut(&mut sig);
    let attrs = &func.attrs;
    let vis = &func.vis;
    quote! {
        #(#attrs)*
        #[allow(unused_variables, clippy::diverging_sub_expression)]
        #vis #sig { ::core::unimplemented!("#[gen] function with errors") }
    }
}

/// Replaces the type `Real` (and paths `Real::...`) by the engine's value type.
struct ReplaceReal(Type);

impl VisitMut for ReplaceReal {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(p) = ty {
            if p.qself.is_none() && p.path.is_ident("Real") {
                *ty = self.0.clone();
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }

    fn visit_expr_path_mut(&mut self, e: &mut syn::ExprPath) {
        if e.qself.is_none() && e.path.segments.len() >= 2 && e.path.segments[0].ident == "Real" {
            let rest: Vec<_> = e.path.segments.iter().skip(1).collect();
            let real = &self.0;
            *e = parse_quote!(<#real as ::gen_runtime::__private::Real>::#(#rest)::*);
            return;
        }
        syn::visit_mut::visit_expr_path_mut(self, e);
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// The expression that lifts the argument `name: &ty` (given in `f64`) to `__R`.
fn lift(name: &impl quote::ToTokens, ty: &Type) -> TokenStream {
    let rt = quote!(::gen_runtime::__private);
    if valid::mentions_real(ty) {
        let from = replaced(ty, parse_quote!(f64));
        let to = replaced(ty, parse_quote!(__R));
        quote!(<#from as #rt::Lift<#to>>::lift(#name))
    } else {
        quote!(::core::clone::Clone::clone(#name))
    }
}

/// `impl UnfoldKernel` when the signature is `(t: usize, state: S, params...) -> S`.
fn unfold_kernel(args: &[Type], ret: &Type, impl_generics: &TokenStream, marker: &TokenStream) -> TokenStream {
    let is_usize = matches!(args.first(), Some(Type::Path(p)) if p.qself.is_none() && p.path.is_ident("usize"));
    let same_state = args.get(1).is_some_and(|s| s.to_token_stream().to_string() == ret.to_token_stream().to_string());
    if !(is_usize && same_state) {
        return TokenStream::new();
    }
    let rt = quote!(::gen_runtime::__private);
    let params = &args[2..];
    let params_r: Vec<Type> = params.iter().map(|t| replaced(t, parse_quote!(__R))).collect();
    let names: Vec<_> = (0..params.len()).map(|i| format_ident!("__p{}", i)).collect();
    let lift_params = names.iter().zip(params).map(|(n, t)| lift(n, t));
    let lift_state = lift(&format_ident!("__state"), ret);
    quote! {
        // A kernel without parameters has `()` for them.
        #[allow(clippy::unused_unit)]
        impl #impl_generics #rt::UnfoldKernel for #marker {
            type Params<__R: #rt::Real> = (#(#params_r,)*);

            fn kernel_args<__R: #rt::Real>(&self, __t: usize, __state: Self::Ret<__R>, __params: &Self::Params<__R>) -> Self::Args<__R> {
                let (#(#names,)*) = __params;
                (__t, __state, #(::core::clone::Clone::clone(#names),)*)
            }

            fn lift_state<__R: #rt::Real>(&self, __state: &Self::Ret<f64>) -> Self::Ret<__R> {
                #lift_state
            }

            fn lift_params<__R: #rt::Real>(&self, __params: &Self::Params<f64>) -> Self::Params<__R> {
                let (#(#names,)*) = __params;
                (#(#lift_params,)*)
            }
        }
    }
}

/// `ty` with `Real` replaced by `by`.
fn replaced(ty: &Type, by: Type) -> Type {
    let mut ty = ty.clone();
    ReplaceReal(by).visit_type_mut(&mut ty);
    ty
}

/// Gives every elided lifetime in an argument type the name `'__a`.
struct NameElided {
    used: bool,
}

impl VisitMut for NameElided {
    fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
        match &r.lifetime {
            None => {
                r.lifetime = Some(Lifetime::new("'__a", r.and_token.span));
                self.used = true;
            }
            Some(l) if l.ident == "_" => {
                r.lifetime = Some(Lifetime::new("'__a", l.span()));
                self.used = true;
            }
            Some(_) => {}
        }
        syn::visit_mut::visit_type_reference_mut(self, r);
    }

    fn visit_lifetime_mut(&mut self, l: &mut Lifetime) {
        if l.ident == "_" {
            *l = Lifetime::new("'__a", l.span());
            self.used = true;
        }
    }
}

/// Rewrites trace sites into handler calls. `constants` are the arguments that are the same
/// `f64` in every engine (see [`crate::ad::plate_adjoint`]).
struct RewriteSites {
    constants: Vec<syn::Ident>,
}

impl RewriteSites {
    fn site(addr: &Expr) -> TokenStream {
        let span = addr.span();
        // Spanned like the address, so a type error in it points at the address, not at the
        // attribute.
        let rt = quote_spanned!(span=> ::gen_runtime::__private);
        match address_name(addr) {
            (Some(name), true) => quote_spanned! {span=>
                #rt::Site::name(#name, { const __KEY: u64 = #rt::name_key(#name); __KEY })
            },
            (Some(name), false) => {
                let Expr::Tuple(t) = strip_parens(addr) else { unreachable!("indexed addresses are tuples") };
                let idx = t.elems.iter().skip(1);
                quote_spanned! {span=>
                    #rt::Site::indexed(#name, { const __KEY: u64 = #rt::name_key(#name); __KEY }, &[#((#idx) as i64),*])
                }
            }
            (None, _) => quote_spanned! {span=> #rt::Site::dynamic(&#rt::part(#addr)) },
        }
    }
}

fn strip_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip_parens(&p.expr),
        other => other,
    }
}

/// Whether `e` is a call of a function named `plate` with two arguments.
fn plate_call(e: &Expr) -> Option<&syn::ExprCall> {
    let Expr::Call(c) = strip_parens(e) else { return None };
    let Expr::Path(p) = &*c.func else { return None };
    let last = p.path.segments.last()?;
    (last.ident == "plate" && c.args.len() == 2).then_some(c)
}

impl VisitMut for RewriteSites {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, e);
        let Expr::MethodCall(m) = e else { return };
        if m.method != "at" || m.args.len() != 1 {
            return;
        }
        let site = Self::site(&m.args[0]);
        let span = m.method.span();
        // The whole call, path included, carries the site's span: otherwise rustc reports an
        // unsatisfied `Traceable` bound at the attribute instead of at `.at`.
        let rt = quote_spanned!(span=> ::gen_runtime::__private);
        let new: TokenStream = if let Some(c) = plate_call(&m.receiver) {
            let (xs, f) = (&c.args[0], &c.args[1]);
            match crate::ad::plate_adjoint(f, &self.constants) {
                Some(ad) => {
                    let real = quote!(<__H as #rt::Handler<'__c>>::Real);
                    let captures = ad.captures.iter().map(|c| quote!(#rt::capture::<#real, _>(#c)));
                    let adjoint = ad.adjoint;
                    quote_spanned! {span=> #rt::Handler::plate_ad(__h, #site, #xs, #f, [#(#captures),*], #adjoint) }
                }
                None => quote_spanned! {span=> #rt::Handler::plate(__h, #site, #xs, #f) },
            }
        } else {
            let recv = &m.receiver;
            quote_spanned! {span=> #rt::Traceable::trace(#recv, __h, #site) }
        };
        *e = parse_quote!(#new);
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Distribution constructors and the positions of their real parameters (`impl Into<R>`,
/// `f64`, or vectors of them): where `#[gen]` reads an integer literal as a float, so that
/// `normal(0, 1)` means `normal(0.0, 1.0)` as it does in Gen.jl, NumPyro and Stan. Other
/// arguments (`binomial`'s count) keep their integers.
const REAL_PARAMETERS: &[(&str, &[usize])] = &[
    ("normal", &[0, 1]),
    ("half_normal", &[0]),
    ("lognormal", &[0, 1]),
    ("cauchy", &[0, 1]),
    ("student_t", &[0, 1, 2]),
    ("exponential", &[0]),
    ("gamma", &[0, 1]),
    ("inv_gamma", &[0, 1]),
    ("beta", &[0, 1]),
    ("uniform", &[0, 1]),
    ("bernoulli", &[0]),
    ("bernoulli_logit", &[0]),
    ("poisson", &[0]),
    ("binomial", &[1]),
    ("categorical", &[0]),
    ("categorical_logits", &[0]),
    ("dirichlet", &[0]),
    ("mv_normal", &[0]),
    ("mv_normal_diag", &[0, 1]),
    ("mv_normal_cholesky", &[0]),
];

/// Rewrites integer literals among the real parameters of distribution constructors into
/// float literals (`normal(0, 1)` into `normal(0.0, 1.0)`): Rust does not convert an integer
/// literal to a float, and the engine's `Real` converts only from `f64`.
struct FloatParameters;

impl FloatParameters {
    /// `e` with its unsuffixed integer literals made floats, through negation, parentheses,
    /// references, arrays and `vec![...]`.
    fn floats(e: &mut Expr) {
        match e {
            Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.suffix().is_empty() => {
                let float = syn::LitFloat::new(&format!("{}.0", i.base10_digits()), i.span());
                *e = Expr::Lit(syn::ExprLit { attrs: Vec::new(), lit: syn::Lit::Float(float) });
            }
            Expr::Unary(syn::ExprUnary { op: syn::UnOp::Neg(_), expr, .. }) => Self::floats(expr),
            Expr::Paren(p) => Self::floats(&mut p.expr),
            Expr::Group(g) => Self::floats(&mut g.expr),
            Expr::Reference(r) => Self::floats(&mut r.expr),
            Expr::Array(a) => a.elems.iter_mut().for_each(Self::floats),
            Expr::Repeat(r) => Self::floats(&mut r.expr),
            Expr::Macro(m) if m.mac.path.is_ident("vec") => {
                let parser = syn::punctuated::Punctuated::<Expr, syn::Token![,]>::parse_terminated;
                if let Ok(mut elems) = syn::parse::Parser::parse2(parser, m.mac.tokens.clone()) {
                    elems.iter_mut().for_each(Self::floats);
                    m.mac.tokens = elems.to_token_stream();
                } else if let Ok((mut x, n)) = syn::parse::Parser::parse2(
                    |input: syn::parse::ParseStream<'_>| {
                        let x: Expr = input.parse()?;
                        input.parse::<syn::Token![;]>()?;
                        Ok((x, input.parse::<Expr>()?))
                    },
                    m.mac.tokens.clone(),
                ) {
                    Self::floats(&mut x);
                    m.mac.tokens = quote!(#x; #n);
                }
            }
            _ => {}
        }
    }
}

impl VisitMut for FloatParameters {
    fn visit_expr_call_mut(&mut self, c: &mut syn::ExprCall) {
        syn::visit_mut::visit_expr_call_mut(self, c);
        let Some(name) = valid::callee(c) else { return };
        let Some((_, positions)) = REAL_PARAMETERS.iter().find(|(n, _)| *n == name) else { return };
        for (i, arg) in c.args.iter_mut().enumerate() {
            if positions.contains(&i) {
                Self::floats(arg);
            }
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// The variables that the body traces (`c.at(..)` with `c` a variable): a call bound to one
/// of these is traced later, not forgotten.
fn traced_variables(body: &syn::Block) -> Vec<syn::Ident> {
    struct Receivers(Vec<syn::Ident>);
    impl<'ast> syn::visit::Visit<'ast> for Receivers {
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            if m.method == "at" {
                if let Expr::Path(p) = strip_parens(&m.receiver) {
                    if let Some(ident) = p.path.get_ident() {
                        self.0.push(ident.clone());
                    }
                }
            }
            syn::visit::visit_expr_method_call(self, m);
        }
    }
    let mut r = Receivers(Vec::new());
    syn::visit::Visit::visit_block(&mut r, body);
    r.0
}

/// Wraps values that are probably meant to be traced, so that rustc reports a distribution or
/// a generative function call that is not: a statement `normal(0.0, 1.0);` or `sub(x);`, and
/// `let y = sub(x);` where `y` is never traced. Without this the first is only an unused
/// value and the last an error about adding a `Call` to a number. The wrappers are the
/// identity for every other value (see [`body_checks`]).
struct CheckTraced {
    module: syn::Ident,
    traced: Vec<syn::Ident>,
}

impl CheckTraced {
    fn wrap(&self, e: &mut Expr, method: &str) {
        let span = e.span();
        // Every token at the value, so that rustc's error points there (the module's name
        // would otherwise point at the function's).
        let module = syn::Ident::new(&self.module.to_string(), span);
        let method = syn::Ident::new(method, span);
        let inner = e.clone();
        *e = parse_quote_spanned! {span=> #module::__Value::<_, __H>(#inner, ::core::marker::PhantomData).#method() };
    }
}

impl VisitMut for CheckTraced {
    fn visit_stmt_mut(&mut self, s: &mut syn::Stmt) {
        syn::visit_mut::visit_stmt_mut(self, s);
        match s {
            syn::Stmt::Expr(e @ (Expr::Call(_) | Expr::MethodCall(_)), Some(_)) => {
                let is_at = matches!(e, Expr::MethodCall(m) if m.method == "at");
                let is_path_call = matches!(e, Expr::Call(c) if matches!(&*c.func, Expr::Path(_)));
                if is_path_call || (!is_at && matches!(e, Expr::MethodCall(_))) {
                    self.wrap(e, "__must_trace");
                }
            }
            syn::Stmt::Local(syn::Local { pat: syn::Pat::Ident(p), init: Some(init), .. }) if init.diverge.is_none() => {
                // Only a plain `f(..)`, as a model calls another: the wrapper would otherwise
                // decide the type of a value whose type is still open, such as
                // `Default::default()`'s.
                let plain_call = matches!(&*init.expr, Expr::Call(c) if matches!(&*c.func, Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some()));
                if plain_call && !self.traced.contains(&p.ident) {
                    self.wrap(&mut init.expr, "__must_trace_call");
                }
            }
            _ => {}
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Rewrites comparisons (`<`, `<=`, `>`, `>=`, `==`, `!=`) into calls of the traits of
/// [`body_checks`], which forward to `PartialOrd` and `PartialEq` and whose message, where a
/// side is a `Real`, says why a model cannot compare it and what to write instead; rustc's
/// own (binary operation `>` cannot be applied) says neither. The comparisons `valid.rs`
/// can see on continuous values never get here.
struct Comparisons {
    module: syn::Ident,
}

impl VisitMut for Comparisons {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        syn::visit_mut::visit_expr_mut(self, e);
        let Expr::Binary(b) = e else { return };
        let (tr, method) = match b.op {
            syn::BinOp::Lt(_) => ("__PartialOrd", "__lt"),
            syn::BinOp::Le(_) => ("__PartialOrd", "__le"),
            syn::BinOp::Gt(_) => ("__PartialOrd", "__gt"),
            syn::BinOp::Ge(_) => ("__PartialOrd", "__ge"),
            syn::BinOp::Eq(_) => ("__PartialEq", "__eq"),
            syn::BinOp::Ne(_) => ("__PartialEq", "__ne"),
            _ => return,
        };
        let span = b.op.span();
        let module = syn::Ident::new(&self.module.to_string(), span);
        let (left, right) = (&b.left, &b.right);
        let tr = syn::Ident::new(tr, span);
        let method = syn::Ident::new(method, span);
        *e = parse_quote_spanned! {span=> #module::#tr::#method(&(#left), &(#right)) };
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// The items that [`CheckTraced`] and [`Comparisons`] call, put in the model's module (the
/// runtime's `__private` would hold them once for every model).
// Long on purpose: a `quote!` template of the check items, each with its diagnostic text.
fn body_checks() -> TokenStream {
    let rt = quote!(::gen_runtime::__private);
    let branch = format!(
        "if it is a `Real` (which rustc writes `<__H as Handler<'_>>::Real`): a model's control flow cannot depend on a continuous value; {}",
        valid::BRANCH_NOTE
    );
    let help = format!("instead, {}", valid::BRANCH_HELP);
    quote! {
        /// `PartialOrd` for the body's comparisons, with a message for `Real`s.
        #[doc(hidden)]
        #[diagnostic::on_unimplemented(
            message = "cannot compare a value of type `{Self}`",
            label = "`{Self}` has no `PartialOrd` with the other side",
            note = #branch,
            note = #help
        )]
        pub trait __PartialOrd<Rhs: ?Sized> {
            /// `<`.
            fn __lt(&self, other: &Rhs) -> bool;
            /// `<=`.
            fn __le(&self, other: &Rhs) -> bool;
            /// `>`.
            fn __gt(&self, other: &Rhs) -> bool;
            /// `>=`.
            fn __ge(&self, other: &Rhs) -> bool;
        }
        impl<L: ?Sized + ::core::cmp::PartialOrd<R>, R: ?Sized> __PartialOrd<R> for L {
            #[inline(always)]
            fn __lt(&self, other: &R) -> bool { self < other }
            #[inline(always)]
            fn __le(&self, other: &R) -> bool { self <= other }
            #[inline(always)]
            fn __gt(&self, other: &R) -> bool { self > other }
            #[inline(always)]
            fn __ge(&self, other: &R) -> bool { self >= other }
        }
        /// `PartialEq` for the body's comparisons, with a message for `Real`s.
        #[doc(hidden)]
        #[diagnostic::on_unimplemented(
            message = "cannot compare a value of type `{Self}`",
            label = "`{Self}` has no `PartialEq` with the other side",
            note = #branch,
            note = #help
        )]
        pub trait __PartialEq<Rhs: ?Sized> {
            /// `==`.
            fn __eq(&self, other: &Rhs) -> bool;
            /// `!=`.
            fn __ne(&self, other: &Rhs) -> bool;
        }
        impl<L: ?Sized + ::core::cmp::PartialEq<R>, R: ?Sized> __PartialEq<R> for L {
            #[inline(always)]
            fn __eq(&self, other: &R) -> bool { self == other }
            #[inline(always)]
            fn __ne(&self, other: &R) -> bool { self != other }
        }

        /// A value of the body that may have been meant to be traced, with the handler type.
        #[doc(hidden)]
        pub struct __Value<T, H>(pub T, pub ::core::marker::PhantomData<H>);
        /// What a distribution or generative function call would need to be left untraced:
        /// nothing implements it.
        #[doc(hidden)]
        #[diagnostic::on_unimplemented(
            message = "this is never traced: a distribution or a generative function call makes no random choice until it is traced with `.at(\"name\")`",
            label = "trace it: `.at(\"name\")`",
            note = "`normal(0.0, 1.0).at(\"a\")` makes the random choice \"a\" and is its value; `sub(x).at(\"s\")` runs the model `sub` with its choices under \"s\" and is its return value",
            note = "without `.at`, this is a `{Self}`: a description of the choice, not its value"
        )]
        pub trait __Traced {}
        /// Implements [`__Traced`], so that rustc does not suggest implementing a trait that
        /// has no implementations.
        #[doc(hidden)]
        pub enum __Never {}
        impl __Traced for __Never {}
        impl<'__c, T, H> __Value<T, H>
        where
            H: #rt::Handler<'__c>,
            T: #rt::Traceable<'__c, H>,
        {
            /// Fails to compile: `T` is traceable, and here it is not traced.
            #[inline(always)]
            pub fn __must_trace(self) -> T
            where
                T: __Traced,
            {
                self.0
            }
        }
        impl<G: #rt::GenerativeFunction, R: #rt::Real, H> __Value<#rt::Call<G, R>, H> {
            /// Fails to compile: a generative function call bound to a variable that is never
            /// traced. Typed as if it were traced, so that its uses give no further errors.
            #[inline(always)]
            pub fn __must_trace_call(self) -> G::Ret<R>
            where
                #rt::Call<G, R>: __Traced,
            {
                ::core::unreachable!("`__Traced` has no implementation for a call")
            }
        }
        /// The identity, for values that are not traceable.
        #[doc(hidden)]
        pub trait __NotTraceable<T> {
            /// The value.
            fn __must_trace(self) -> T;
            /// The value.
            fn __must_trace_call(self) -> T;
        }
        impl<T, H> __NotTraceable<T> for __Value<T, H> {
            #[inline(always)]
            fn __must_trace(self) -> T { self.0 }
            #[inline(always)]
            fn __must_trace_call(self) -> T { self.0 }
        }
    }
}

/// The arguments declared `f64` that the body never binds again (a `let`, a loop variable, a
/// closure parameter of the same name would shadow them): the same plain number in every
/// engine.
fn constant_arguments(sig: &syn::Signature, body: &syn::Block) -> Vec<syn::Ident> {
    struct Bindings(Vec<syn::Ident>);
    impl<'ast> syn::visit::Visit<'ast> for Bindings {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.push(p.ident.clone());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut bound = Bindings(Vec::new());
    syn::visit::Visit::visit_block(&mut bound, body);
    sig.inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(t) => match (&*t.pat, &*t.ty) {
                (syn::Pat::Ident(p), Type::Path(ty)) if ty.qself.is_none() && ty.path.is_ident("f64") => Some(p.ident.clone()),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .filter(|name| !bound.0.contains(name))
        .collect()
}

// Long on purpose: most of it is the one `quote!` template of the generated items, which
// reads best whole, next to the rewrites that feed it.
fn generate(model: Model) -> TokenStream {
    let func = model.func;
    let rt = quote!(::gen_runtime::__private);
    let name = &func.sig.ident;
    let name_str = name.to_string();
    let vis = &func.vis;
    let attrs = &func.attrs;
    let docs: Vec<_> = attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let other_attrs: Vec<_> = attrs.iter().filter(|a| !a.path().is_ident("doc")).collect();

    // Arguments: name elided lifetimes, collect types and patterns.
    let mut elided = NameElided { used: false };
    let mut arg_types = Vec::new();
    let mut arg_pats = Vec::new();
    let mut arg_names = Vec::new();
    for (i, arg) in func.sig.inputs.iter().enumerate() {
        let FnArg::Typed(t) = arg else { continue };
        let mut ty = (*t.ty).clone();
        elided.visit_type_mut(&mut ty);
        arg_types.push(ty);
        arg_pats.push((*t.pat).clone());
        arg_names.push(format_ident!("__arg{}", i));
    }
    let mut lifetimes: Vec<Lifetime> = func
        .sig
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Lifetime(l) => Some(l.lifetime.clone()),
            _ => None,
        })
        .collect();
    if elided.used {
        lifetimes.push(Lifetime::new("'__a", Span::call_site()));
    }
    let marker_ty = if lifetimes.is_empty() { quote!(#name::Gf) } else { quote!(#name::Gf<#(#lifetimes),*>) };
    let marker_def = if lifetimes.is_empty() {
        quote! {
            /// The generative function as a value, for combinators such as `Map`.
            #[derive(Clone, Copy, Debug, Default)]
            pub struct Gf;
            /// The generative function as a value.
            #[must_use]
            pub fn gf() -> Gf { Gf }
        }
    } else {
        quote! {
            /// The generative function as a value, for combinators such as `Map`.
            #[derive(Clone, Copy, Debug, Default)]
            pub struct Gf<#(#lifetimes),*>(pub ::core::marker::PhantomData<(#(fn() -> &#lifetimes ()),*)>);
            /// The generative function as a value.
            #[must_use]
            pub fn gf<#(#lifetimes),*>() -> Gf<#(#lifetimes),*> { Gf(::core::marker::PhantomData) }
        }
    };
    let impl_generics = if lifetimes.is_empty() { quote!() } else { quote!(<#(#lifetimes),*>) };

    // Return type, with `Real` as the GAT parameter.
    let ret_ty: Type = match &func.sig.output {
        ReturnType::Default => parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let mut gat_ret = ret_ty.clone();
    ReplaceReal(parse_quote!(__R)).visit_type_mut(&mut gat_ret);

    let mut body = (*func.block).clone();
    FloatParameters.visit_block_mut(&mut body);
    let constants = constant_arguments(&func.sig, &body);
    CheckTraced { module: name.clone(), traced: traced_variables(&body) }.visit_block_mut(&mut body);
    RewriteSites { constants }.visit_block_mut(&mut body);
    ReplaceReal(parse_quote!(<__H as #rt::Handler<'__c>>::Real)).visit_block_mut(&mut body);
    Comparisons { module: name.clone() }.visit_block_mut(&mut body);
    let checks = body_checks();

    // Arguments with `Real` are generic over the engine's value type; the others are the
    // same for every engine and are cloned when a call is lifted.
    let args_r: Vec<Type> = arg_types.iter().map(|t| replaced(t, parse_quote!(__R))).collect();
    let lifts = arg_names.iter().zip(&arg_types).map(|(n, t)| lift(n, t));
    let kernel = unfold_kernel(&arg_types, &ret_ty, &impl_generics, &marker_ty);
    let fn_args = arg_names.iter().zip(&args_r).map(|(n, t)| quote!(#n: #t));
    let wrapper_generics = quote!(<#(#lifetimes,)* __R: #rt::Real>);
    let mod_doc = format!("The generative function `{name_str}` as a type (`Gf`), made by `#[gen]`.");

    quote! {
        #[doc = #mod_doc]
        #[allow(non_snake_case, non_camel_case_types)]
        #vis mod #name {
            #marker_def
            #checks
        }

        impl #impl_generics #rt::GenerativeFunction for #marker_ty {
            type Args<__R: #rt::Real> = (#(#args_r,)*);
            type Ret<__R: #rt::Real> = #gat_ret;

            fn name(&self) -> &'static str {
                #name_str
            }

            #[allow(clippy::unused_unit)]
            fn lift_args<__R: #rt::Real>(&self, __args: &Self::Args<f64>) -> Self::Args<__R> {
                let (#(#arg_names,)*) = __args;
                (#(#lifts,)*)
            }

            // `Handler` is named twice on purpose: where a body's value has the wrong type
            // (`f64` for a `Real`), rustc suggests constraining the bound it finds, and with a
            // single `Handler<'__c>` it writes that suggestion after the attribute, as
            // `#[gen]<Real = f64>`, which is not Rust. With two it gives no such suggestion.
            #[allow(unused_mut, unused_variables, unused_parens, clippy::let_unit_value, clippy::unused_unit, clippy::unnecessary_cast, clippy::trait_duplication_in_bounds, clippy::unit_arg)]
            fn run<'__c, __H: #rt::Handler<'__c> + #rt::Handler<'__c>>(&self, __h: &mut __H, __args: Self::Args<__H::Real>) -> Self::Ret<__H::Real>
            where
                f64: #rt::LhsOps<__H::Real> + #rt::LhsOps<__H::Datum>,
            {
                #[allow(unused_imports)]
                use #name::__NotTraceable as _;
                let (#(#arg_pats,)*) = __args;
                #body
            }
        }

        #kernel

        #(#docs)*
        #(#other_attrs)*
        #[must_use = "a generative function call does nothing until it is simulated, generated or traced with `.at`"]
        #vis fn #name #wrapper_generics (#(#fn_args),*) -> #rt::Call<#marker_ty, __R> {
            #rt::Call::new(#name::gf(), (#(#arg_names,)*))
        }
    }
}

#[cfg(test)]
mod tests {
    //! Snapshots of the expansion, so a codegen change is reviewed as a diff of
    //! `src/snapshots/*.snap` (regenerate with `INSTA_UPDATE=always`, or `cargo insta review`).

    use super::expand;
    use quote::quote;

    fn pretty(attr: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        let out = expand(attr, item);
        let file: syn::File = syn::parse2(out).expect("the expansion parses as a file");
        prettyplease::unparse(&file)
    }

    #[test]
    fn plate_and_indexed_addresses_in_a_loop() {
        let item = quote! {
            /// Hierarchical regression: one plate for the observations, one indexed choice
            /// per group.
            pub fn groups(xs: &[f64], n_groups: usize) -> Real {
                let mu = normal(0.0, 1.0).at("mu");
                let tau = half_normal(1.0).at("tau");
                for g in 0..n_groups {
                    normal(mu, tau).at(("offset", g));
                }
                plate(xs, |x| normal(mu + tau * x, 1.0)).at("ys");
                mu
            }
        };
        insta::assert_snapshot!(pretty(quote!(), item));
    }

    #[test]
    fn integer_literals_in_real_parameters_become_floats() {
        let item = quote! {
            fn model(n: u64) -> Real {
                let w = dirichlet(vec![1, 2]).at("w");
                let k = binomial(n, 1).at("k");
                normal(-(3), (2)).at("x") + w[0] + gamma(1, 2u8).at("g")
            }
        };
        let out = pretty(quote!(), item);
        assert!(out.contains("dirichlet(vec![1.0, 2.0])"), "{out}");
        // `binomial`'s count is an integer; a suffixed literal keeps its type.
        assert!(out.contains("binomial(n, 1.0)"), "{out}");
        assert!(out.contains("normal(-(3.0), (2.0))"), "{out}");
        assert!(out.contains("gamma(1.0, 2u8)"), "{out}");
    }

    #[test]
    fn messages_write_expressions_as_people_do() {
        let text = |ts: proc_macro2::TokenStream| crate::valid::text(ts);
        assert_eq!(text(quote!(x.powi(2))), "x.powi(2)");
        assert_eq!(text(quote!(a * b + -1.0)), "a * b + -1.0");
        assert_eq!(text(quote!(("y", i))), "(\"y\", i)");
        assert_eq!(text(quote!(f64::exp(x) >= 0.5)), "f64::exp(x) >= 0.5");
        assert_eq!(text(quote!(vec![x, y][0])), "vec![x, y][0]");
    }

    #[test]
    fn call_of_another_generative_function() {
        let item = quote! {
            fn outer(xs: &[f64]) -> (Real, Real) {
                let shift = normal(0.0, 1.0).at("shift");
                let slope = line(xs).at("line");
                (shift, shift + slope)
            }
        };
        insta::assert_snapshot!(pretty(quote!(), item));
    }
}
