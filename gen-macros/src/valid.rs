//! Checks of a `#[gen]` function, each misuse reported at its span; all of them are gathered
//! so one compile shows every problem (serde's `Ctxt` does the same).

use crate::ast::{Model, SiteInfo};
use syn::{FnArg, GenericParam, ReturnType, Type};

/// Gathers errors.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    /// Adds an error.
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    /// The combined error, if any.
    pub fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

impl SiteInfo {
    /// An error at the site's address (its arguments), or at the `at` of `.at()` when it has
    /// none.
    fn error(&self, message: impl std::fmt::Display) -> syn::Error {
        if self.args.is_empty() {
            syn::Error::new(self.span, message)
        } else {
            syn::Error::new_spanned(&self.args, message)
        }
    }
}

/// Whether two sites can both run in one execution: they can unless they sit in different
/// arms of the same `if` or `match`.
fn may_both_run(a: &SiteInfo, b: &SiteInfo) -> bool {
    for (x, y) in a.branches.iter().zip(&b.branches) {
        if x.0 == y.0 && x.1 != y.1 {
            return false;
        }
        if x != y {
            break;
        }
    }
    true
}

/// Checks the signature and the trace sites.
pub fn check(model: &Model, errors: &mut Errors) {
    let sig = &model.func.sig;
    if let Some(a) = &sig.asyncness {
        errors.push(syn::Error::new(a.span, "#[gen] functions cannot be async"));
    }
    if let Some(c) = &sig.constness {
        errors.push(syn::Error::new(c.span, "#[gen] functions cannot be const"));
    }
    if let Some(v) = &sig.variadic {
        errors.push(syn::Error::new_spanned(v, "#[gen] functions cannot be variadic"));
    }
    for p in &sig.generics.params {
        match p {
            GenericParam::Lifetime(_) => {}
            GenericParam::Type(t) => errors.push(syn::Error::new_spanned(
                t,
                "#[gen] functions cannot have type parameters: the macro makes the body generic over the engine's value type itself; use `Real` for continuous values",
            )),
            GenericParam::Const(c) => errors.push(syn::Error::new_spanned(c, "#[gen] functions cannot have const parameters")),
        }
    }
    if let Some(w) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(w, "#[gen] functions cannot have a where clause"));
    }
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => errors.push(syn::Error::new_spanned(
                r,
                "#[gen] functions cannot take `self`: write a free function and pass the data as an argument",
            )),
            FnArg::Typed(t) => {
                if let Type::ImplTrait(i) = &*t.ty {
                    errors.push(syn::Error::new_spanned(i, "#[gen] arguments cannot be `impl Trait`: name a concrete type"));
                } else if contains_reference(&t.ty) && mentions_real(&t.ty) {
                    // A borrowed `&[f64]` cannot become a borrowed slice of dual numbers or a
                    // batch without a copy, so engines could not lift such an argument.
                    errors.push(syn::Error::new_spanned(
                        &t.ty,
                        "#[gen] arguments cannot borrow `Real` values: pass them owned (`Vec<Real>`, `[Real; N]`) or as data (`&[f64]`)",
                    ));
                }
            }
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output {
        if contains_reference(ty) {
            errors.push(syn::Error::new_spanned(ty, "#[gen] functions cannot return references: return owned values"));
        }
    }

    for (i, site) in model.sites.iter().enumerate() {
        if site.arity != 1 {
            errors.push(site.error("`.at` takes exactly one argument: the address, e.g. `.at(\"a\")` or `.at((\"y\", i))`"));
            continue;
        }
        let Some(name) = &site.name else { continue };
        if name.is_empty() {
            errors.push(site.error("an address name cannot be empty"));
        }
        if !site.plain {
            continue;
        }
        if site.in_loop {
            errors.push(site.error(
                format!("the literal address \"{name}\" is inside a loop or closure, so it would be visited more than once; index it: `.at((\"{name}\", i))`"),
            ));
            continue;
        }
        if let Some(first) = model.sites[..i].iter().find(|s| s.plain && s.name.as_ref() == Some(name) && may_both_run(s, site)) {
            let mut e = site.error(format!("duplicate address \"{name}\": every random choice needs its own address"));
            e.combine(first.error(format!("\"{name}\" is first used here")));
            errors.push(e);
        }
    }
}

fn contains_reference(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_reference(&mut self, _: &'ast syn::TypeReference) {
            self.0 = true;
        }
    }
    let mut f = Finder(false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}

/// Whether `ty` mentions the engine's value type `Real`.
pub fn mentions_real(ty: &Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
            if p.qself.is_none() && p.path.is_ident("Real") {
                self.0 = true;
            }
            syn::visit::visit_type_path(self, p);
        }
    }
    let mut f = Finder(false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}
