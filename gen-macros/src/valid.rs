//! Checks of a `#[gen]` function, each misuse reported at its span; all of them are gathered
//! so one compile shows every problem (serde's `Ctxt` does the same).

use crate::ast::{Model, SiteInfo};
use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit::Visit;
use syn::{BinOp, Expr, FnArg, GenericParam, Ident, ItemFn, Pat, ReturnType, Stmt, Type};

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

    ContinuousValues::check(&model.func, errors);
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

/// Distribution constructors whose values are continuous (`Real`, or vectors of them).
const CONTINUOUS_DISTRIBUTIONS: &[&str] = &[
    "normal",
    "half_normal",
    "lognormal",
    "cauchy",
    "student_t",
    "exponential",
    "gamma",
    "inv_gamma",
    "beta",
    "uniform",
    "dirichlet",
    "mv_normal",
    "mv_normal_diag",
    "mv_normal_cholesky",
];

/// The methods of gen-runtime's `Real` (`gen-runtime/src/real.rs`), which a value made from
/// a `Real` keeps being one through.
pub const REAL_METHODS: &[&str] = &[
    "exp", "ln", "ln_1p", "exp_m1", "sqrt", "powi", "powf", "sin", "cos", "tanh", "atan", "abs", "ln_gamma", "recip", "square", "sigmoid",
    "softplus", "max", "min", "clamp",
];

/// What every message about a `Real` says it is.
const REAL_IS: &str =
    "`f64` when the model is simulated or scored, a dual number when it is differentiated, a batch of values on the Burn engine";

/// The help of every message about branching on a `Real`.
pub const BRANCH_HELP: &str = "compute both branches and blend them (`w * a + (1.0 - w) * b` with `w = ((x - c) / 0.1).sigmoid()`), use `x.max(y)`, `x.min(y)` or `x.clamp(lo, hi)`, or make the decision a discrete random choice, which may steer control flow: `if bernoulli(p).at(\"b\") { .. }`";

/// The note of every message about branching on a `Real`.
pub const BRANCH_NOTE: &str = "a batched engine cannot take a different branch for each particle (the Burn engine runs all particles as one tensor), and a gradient-based sampler replays one recorded path";

/// The list of `Real`'s methods, for messages.
fn real_methods() -> String {
    let (last, rest) = REAL_METHODS.split_last().expect("not empty");
    format!("{} and {last}", rest.join(", "))
}

/// A message in rustc's layout: the error, then `= note:` and `= help:` lines under it.
fn message(error: impl std::fmt::Display, notes: &[(&str, &str)]) -> String {
    let mut m = error.to_string();
    for (kind, text) in notes {
        m.push_str(&format!("\n= {kind}: {text}"));
    }
    m
}

/// Finds what a model body does with continuous values that it cannot: compare or branch on
/// them, pass them to `f64` functions, cast them to `f64`, return them as `f64`.
///
/// A value is known to be continuous when it is a choice of a continuous distribution
/// (`let x = normal(0.0, 1.0).at("x")`), an argument or binding declared with `Real` in its
/// type, a plate closure's data point, or arithmetic, a `Real` method, an index or an array of
/// such values. Anything else (a sub-model's return value, a field of a tuple) is not known
/// here; rustc reports those, and `#[gen]` routes comparisons through a trait whose message
/// explains the rule (see `expand.rs`).
struct ContinuousValues<'e> {
    /// The variables in scope, innermost scope last, each with whether it is continuous.
    scopes: Vec<Vec<(Ident, bool)>>,
    /// Set while visiting the closure of a `plate(xs, |x| ...)`: its parameter is data in the
    /// engine's number type.
    plate_closure: bool,
    /// The declared return type, until a value returned as it has been reported.
    output: Option<Type>,
    /// How many closures the visit is inside (a `return` there returns from the closure).
    closures: usize,
    errors: &'e mut Errors,
}

impl<'e> ContinuousValues<'e> {
    fn check(func: &ItemFn, errors: &'e mut Errors) {
        let mut arguments = Vec::new();
        for arg in &func.sig.inputs {
            if let FnArg::Typed(t) = arg {
                let continuous = mentions_real(&t.ty);
                bindings(&t.pat, &mut |ident| arguments.push((ident.clone(), continuous)));
            }
        }
        let output = match &func.sig.output {
            ReturnType::Type(_, ty) => Some((**ty).clone()),
            ReturnType::Default => None,
        };
        let mut v = ContinuousValues { scopes: vec![arguments, Vec::new()], plate_closure: false, output, closures: 0, errors };
        for stmt in &func.block.stmts {
            v.visit_stmt(stmt);
        }
        if let Some(Stmt::Expr(tail, None)) = func.block.stmts.last() {
            v.check_returned(tail);
        }
    }

    /// Reports a continuous value returned where the signature says `f64`, once.
    fn check_returned(&mut self, e: &Expr) {
        let Some(ty) = &self.output else { return };
        if let Some(culprit) = self.f64_holding_real(ty, e) {
            let ty = self.output.take().expect("checked above");
            self.return_error(&ty, e, &culprit);
        }
    }

    fn is_continuous(&self, ident: &Ident) -> bool {
        self.scopes.iter().rev().flat_map(|s| s.iter().rev()).find(|(i, _)| i == ident).is_some_and(|(_, c)| *c)
    }

    fn bind(&mut self, pat: &Pat, continuous: bool) {
        let scope = self.scopes.last_mut().expect("a scope is open");
        bindings(pat, &mut |ident| scope.push((ident.clone(), continuous)));
    }

    /// What makes `e` a continuous value, for messages (`` `x` ``), or `None` where it is not
    /// known to be one.
    fn culprit(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::Path(p) if p.qself.is_none() => {
                if let Some(ident) = p.path.get_ident() {
                    return self.is_continuous(ident).then(|| format!("`{ident}`"));
                }
                None
            }
            Expr::Paren(p) => self.culprit(&p.expr),
            Expr::Group(g) => self.culprit(&g.expr),
            Expr::Reference(r) => self.culprit(&r.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_) | syn::UnOp::Deref(_)) => self.culprit(&u.expr),
            Expr::Binary(b) if matches!(b.op, BinOp::Add(_) | BinOp::Sub(_) | BinOp::Mul(_) | BinOp::Div(_)) => {
                self.culprit(&b.left).or_else(|| self.culprit(&b.right))
            }
            Expr::Index(i) => self.culprit(&i.expr),
            Expr::Array(a) => a.elems.iter().find_map(|e| self.culprit(e)),
            Expr::Tuple(t) => t.elems.iter().find_map(|e| self.culprit(e)),
            Expr::Repeat(r) => self.culprit(&r.expr),
            Expr::Block(b) => self.tail_culprit(&b.block),
            Expr::If(i) => self.tail_culprit(&i.then_branch).or_else(|| i.else_branch.as_ref().and_then(|(_, e)| self.culprit(e))),
            Expr::MethodCall(m) if m.method == "at" => {
                let continuous = match strip(&m.receiver) {
                    Expr::Call(c) => match callee(c) {
                        Some(name) if name == "iid" => c.args.first().is_some_and(
                            |d| matches!(strip(d), Expr::Call(d) if callee(d).is_some_and(|n| is_continuous_distribution(&n))),
                        ),
                        Some(name) => is_continuous_distribution(&name),
                        None => false,
                    },
                    _ => false,
                };
                continuous.then(|| format!("the continuous choice at {}", text(m.args.to_token_stream())))
            }
            Expr::MethodCall(m) if REAL_METHODS.contains(&m.method.to_string().as_str()) => {
                self.culprit(&m.receiver).or_else(|| m.args.iter().find_map(|a| self.culprit(a)))
            }
            // `Real::cst(1.0)`, `Real::from(x)`.
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) if p.qself.is_none() && p.path.segments.len() == 2 && p.path.segments[0].ident == "Real" => {
                    Some(format!("`{}`", text(c.to_token_stream())))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The culprit of a block's value, read in the block's own scope (its `let`s).
    fn tail_culprit(&self, block: &syn::Block) -> Option<String> {
        let Some(Stmt::Expr(tail, None)) = block.stmts.last() else { return None };
        let mut ignored = Errors::default();
        let mut inner =
            ContinuousValues { scopes: self.scopes.clone(), plate_closure: false, output: None, closures: 0, errors: &mut ignored };
        inner.scopes.push(Vec::new());
        for stmt in &block.stmts[..block.stmts.len() - 1] {
            if let Stmt::Local(l) = stmt {
                inner.bind_local(l);
            }
        }
        inner.culprit(tail)
    }

    /// Binds a `let`'s variables (its value already visited).
    fn bind_local(&mut self, l: &syn::Local) {
        let continuous = match &l.pat {
            Pat::Type(t) => mentions_real(&t.ty),
            _ => l.init.as_ref().is_some_and(|init| self.culprit(&init.expr).is_some()),
        };
        self.bind(&l.pat, continuous);
    }

    /// Where `e`, returned as `ty`, puts a continuous value in an `f64`: its culprit.
    fn f64_holding_real(&self, ty: &Type, e: &Expr) -> Option<String> {
        match (ty, strip(e)) {
            (Type::Paren(p), _) => self.f64_holding_real(&p.elem, e),
            (Type::Tuple(t), Expr::Tuple(v)) if t.elems.len() == v.elems.len() => {
                t.elems.iter().zip(&v.elems).find_map(|(t, e)| self.f64_holding_real(t, e))
            }
            _ if mentions_f64(ty) && !mentions_real(ty) && !matches!(ty, Type::Tuple(_)) => self.culprit(e),
            _ => None,
        }
    }

    fn return_error(&mut self, ty: &Type, e: &Expr, culprit: &str) {
        let declared = type_text(ty);
        let fixed = type_text(&super_real(ty));
        let mut err = syn::Error::new_spanned(
            ty,
            message(
                format!("this #[gen] function returns `{declared}`, but it returns {culprit}, which is a `Real`: declare `-> {fixed}`"),
                &[
                    ("note", &format!("a model's continuous values have the engine's number type `Real`: {REAL_IS}")),
                    ("note", "a trace's return value is an `f64` all the same: `Real` is `f64` when the model is run from Rust"),
                ],
            ),
        );
        err.combine(syn::Error::new_spanned(e, format!("{culprit} is returned here")));
        self.errors.push(err);
    }

    fn compare_error(&mut self, e: &impl ToTokens, culprit: &str, what: &str) {
        self.errors.push(syn::Error::new_spanned(
            e,
            message(
                format!("{what} {culprit}, a continuous value (`Real`): a model's control flow cannot depend on continuous values"),
                &[("note", BRANCH_NOTE), ("help", BRANCH_HELP)],
            ),
        ));
    }

    /// `f64::exp(x)` and friends on a continuous `x`.
    fn f64_function(&mut self, c: &syn::ExprCall) {
        let Expr::Path(p) = &*c.func else { return };
        if p.qself.is_some() || p.path.segments.len() != 2 || p.path.segments[0].ident != "f64" {
            return;
        }
        let Some(culprit) = c.args.iter().find_map(|a| self.culprit(a)) else { return };
        let name = p.path.segments[1].ident.to_string();
        let is = format!("`f64::{name}` takes an `f64`, but {culprit} is a `Real` ({REAL_IS})");
        let methods = format!("`Real`'s methods are {}, and it has arithmetic with `f64` on either side", real_methods());
        let m = if name == "from" {
            message(
                format!("{culprit} is a `Real`, which cannot become an `f64` in a model body: keep it a `Real`"),
                &[("note", &format!("`Real` is {REAL_IS}")), ("note", &methods)],
            )
        } else if REAL_METHODS.contains(&name.as_str()) {
            let receiver = c.args.first().map(receiver_text).unwrap_or_default();
            let rest: Vec<String> = c.args.iter().skip(1).map(|a| text(a.to_token_stream())).collect();
            message(format!("{is}: write the method `{receiver}.{name}({})`", rest.join(", ")), &[("note", &methods)])
        } else {
            let x = c.args.first().map(receiver_text).unwrap_or_default();
            let instead = match name.as_str() {
                "log10" => format!("write `{x}.ln() / std::f64::consts::LN_10`"),
                "log2" => format!("write `{x}.ln() / std::f64::consts::LN_2`"),
                "log" => "write `x.ln() / base.ln()`".to_string(),
                "exp2" => format!("write `({x} * std::f64::consts::LN_2).exp()`"),
                "tan" => format!("write `{x}.sin() / {x}.cos()`"),
                "cbrt" => format!("write `{x}.powf(1.0 / 3.0)` (for positive values)"),
                "hypot" => "write `(x.square() + y.square()).sqrt()`".to_string(),
                "mul_add" => "write `x * a + b`".to_string(),
                "floor" | "ceil" | "round" | "trunc" | "fract" | "signum" => {
                    "a step function has no derivative to follow, and a batched engine cannot branch on its value; a discrete quantity is a discrete random choice (`poisson`, `categorical`, `bernoulli`)".to_string()
                }
                _ => "write it with `Real`'s methods and arithmetic".to_string(),
            };
            message(format!("{is}, and `Real` has no method `{name}`: {instead}"), &[("note", &methods)])
        };
        self.errors.push(syn::Error::new_spanned(c, m));
    }
}

impl<'ast> Visit<'ast> for ContinuousValues<'_> {
    fn visit_block(&mut self, b: &'ast syn::Block) {
        self.scopes.push(Vec::new());
        syn::visit::visit_block(self, b);
        self.scopes.pop();
    }

    fn visit_local(&mut self, l: &'ast syn::Local) {
        if let Some(init) = &l.init {
            self.visit_expr(&init.expr);
            if let Some((_, diverge)) = &init.diverge {
                self.visit_expr(diverge);
            }
        }
        self.bind_local(l);
    }

    fn visit_expr_closure(&mut self, c: &'ast syn::ExprClosure) {
        let data = std::mem::take(&mut self.plate_closure);
        self.scopes.push(Vec::new());
        for p in &c.inputs {
            let continuous = data || matches!(p, Pat::Type(t) if mentions_real(&t.ty));
            self.bind(p, continuous);
        }
        // A `return` in a closure returns from the closure.
        self.closures += 1;
        self.visit_expr(&c.body);
        self.closures -= 1;
        self.scopes.pop();
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        self.f64_function(c);
        if callee(c).is_some_and(|n| n == "plate") && c.args.len() == 2 {
            self.visit_expr(&c.args[0]);
            self.plate_closure = matches!(strip(&c.args[1]), Expr::Closure(_));
            self.visit_expr(&c.args[1]);
            self.plate_closure = false;
            return;
        }
        syn::visit::visit_expr_call(self, c);
    }

    fn visit_expr_binary(&mut self, b: &'ast syn::ExprBinary) {
        if matches!(b.op, BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_) | BinOp::Eq(_) | BinOp::Ne(_)) {
            if let Some(culprit) = self.culprit(&b.left).or_else(|| self.culprit(&b.right)) {
                self.compare_error(b, &culprit, "this compares");
            }
        }
        syn::visit::visit_expr_binary(self, b);
    }

    fn visit_expr_match(&mut self, m: &'ast syn::ExprMatch) {
        self.visit_expr(&m.expr);
        let continuous = self.culprit(&m.expr);
        if let Some(culprit) = continuous.as_ref().filter(|_| m.arms.iter().any(|a| compares_value(&a.pat))) {
            self.compare_error(&m.expr, culprit, "this `match` branches on");
        }
        for arm in &m.arms {
            self.scopes.push(Vec::new());
            self.bind(&arm.pat, continuous.is_some());
            if let Some((_, guard)) = &arm.guard {
                self.visit_expr(guard);
            }
            self.visit_expr(&arm.body);
            self.scopes.pop();
        }
    }

    fn visit_expr_if(&mut self, i: &'ast syn::ExprIf) {
        // `if let PAT = e`: PAT's variables are in scope in the `then` branch only.
        self.scopes.push(Vec::new());
        self.visit_expr(&i.cond);
        self.visit_block(&i.then_branch);
        self.scopes.pop();
        if let Some((_, e)) = &i.else_branch {
            self.visit_expr(e);
        }
    }

    fn visit_expr_while(&mut self, w: &'ast syn::ExprWhile) {
        self.scopes.push(Vec::new());
        self.visit_expr(&w.cond);
        self.visit_block(&w.body);
        self.scopes.pop();
    }

    fn visit_expr_let(&mut self, l: &'ast syn::ExprLet) {
        self.visit_expr(&l.expr);
        let continuous = self.culprit(&l.expr);
        if let Some(culprit) = continuous.as_ref().filter(|_| compares_value(&l.pat)) {
            self.compare_error(&l.expr, culprit, "this `let` pattern branches on");
        }
        self.bind(&l.pat, continuous.is_some());
    }

    fn visit_expr_for_loop(&mut self, f: &'ast syn::ExprForLoop) {
        self.visit_expr(&f.expr);
        self.scopes.push(Vec::new());
        let continuous = self.culprit(&f.expr).is_some();
        self.bind(&f.pat, continuous);
        self.visit_block(&f.body);
        self.scopes.pop();
    }

    fn visit_expr_cast(&mut self, c: &'ast syn::ExprCast) {
        if let Some(culprit) = self.culprit(&c.expr) {
            let to = text(c.ty.to_token_stream());
            self.errors.push(syn::Error::new_spanned(
                c,
                message(
                    format!("{culprit} is a `Real`, which cannot be cast to `{to}` in a model body: keep it a `Real`"),
                    &[
                        ("note", &format!("`Real` is {REAL_IS}")),
                        ("note", &format!("`Real`'s methods are {}, and it has arithmetic with `f64` on either side", real_methods())),
                    ],
                ),
            ));
        }
        syn::visit::visit_expr_cast(self, c);
    }

    fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
        if let (Some(e), 0) = (&r.expr, self.closures) {
            self.check_returned(e);
        }
        syn::visit::visit_expr_return(self, r);
    }

    // Nested items are not part of this body.
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// Whether matching `pat` compares the value itself (`0.0`, `0.0..=1.0`), rather than only
/// binding it or taking it apart (`v`, `(v, 0)`).
fn compares_value(pat: &Pat) -> bool {
    match pat {
        Pat::Lit(_) | Pat::Range(_) => true,
        Pat::Or(o) => o.cases.iter().any(compares_value),
        Pat::Ident(i) => i.subpat.as_ref().is_some_and(|(_, p)| compares_value(p)),
        Pat::Paren(p) => compares_value(&p.pat),
        Pat::Type(t) => compares_value(&t.pat),
        _ => false,
    }
}

/// Calls `f` on every variable a pattern binds.
fn bindings(pat: &Pat, f: &mut impl FnMut(&Ident)) {
    struct Finder<'f, F>(&'f mut F);
    impl<'ast, F: FnMut(&Ident)> Visit<'ast> for Finder<'_, F> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            (self.0)(&p.ident);
            syn::visit::visit_pat_ident(self, p);
        }
        // `Some(x)`'s `Some` and a path pattern's names are not bindings.
        fn visit_path(&mut self, _: &'ast syn::Path) {}
    }
    Finder(f).visit_pat(pat);
}

/// The name of the function a call calls, when it is a path: `normal` for
/// `gen_runtime::distributions::normal(..)`.
pub fn callee(c: &syn::ExprCall) -> Option<String> {
    match strip(&c.func) {
        Expr::Path(p) if p.qself.is_none() => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn is_continuous_distribution(name: &str) -> bool {
    CONTINUOUS_DISTRIBUTIONS.contains(&name)
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        other => other,
    }
}

/// Whether `ty` mentions `f64`.
fn mentions_f64(ty: &Type) -> bool {
    fn walk(ts: TokenStream) -> bool {
        ts.into_iter().any(|t| match t {
            TokenTree::Ident(i) => i == "f64",
            TokenTree::Group(g) => walk(g.stream()),
            _ => false,
        })
    }
    walk(ty.to_token_stream())
}

/// A type as a person writes it, for messages: `Vec<Real>`, `(Real, usize)`.
fn type_text(ty: &Type) -> String {
    text(ty.to_token_stream()).replace(" < ", "<").replace(" > ", ">").trim_end().to_string()
}

/// `ty` with every `f64` written `Real`.
fn super_real(ty: &Type) -> Type {
    struct Replace;
    impl syn::visit_mut::VisitMut for Replace {
        fn visit_type_path_mut(&mut self, p: &mut syn::TypePath) {
            if p.qself.is_none() && p.path.is_ident("f64") {
                p.path = syn::parse_quote!(Real);
            }
            syn::visit_mut::visit_type_path_mut(self, p);
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Replace, &mut ty);
    ty
}

/// An expression as the receiver of a method call in a message: `x`, or `(x * 2.0)`.
fn receiver_text(e: &Expr) -> String {
    let t = text(e.to_token_stream());
    match strip(e) {
        Expr::Path(_) | Expr::MethodCall(_) | Expr::Field(_) | Expr::Index(_) | Expr::Call(_) | Expr::Paren(_) => t,
        _ => format!("({t})"),
    }
}

/// Tokens as a person writes them, for messages: `x.powi(2)`, `a * b + 1.0`, `("y", i)`.
///
/// Written here rather than taken from the token stream's `Display`, whose spacing differs
/// between the compiler and proc-macro2's fallback (the macro's unit tests).
pub fn text(ts: TokenStream) -> String {
    let mut out = String::new();
    // Whether the last token ends an operand (so a following `-` is binary, `(` a call).
    let mut operand = false;
    let mut tokens = ts.into_iter().peekable();
    while let Some(t) = tokens.next() {
        match t {
            TokenTree::Ident(i) => {
                if operand {
                    out.push(' ');
                }
                out.push_str(&i.to_string());
                operand = true;
            }
            TokenTree::Literal(l) => {
                if operand {
                    out.push(' ');
                }
                out.push_str(&l.to_string());
                operand = true;
            }
            TokenTree::Group(g) => {
                let (open, close) = match g.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{ ", " }"),
                    Delimiter::None => ("", ""),
                };
                if operand && g.delimiter() == Delimiter::Brace {
                    out.push(' ');
                }
                out.push_str(open);
                out.push_str(&text(g.stream()));
                out.push_str(close);
                operand = true;
            }
            TokenTree::Punct(p) => {
                let mut op = p.as_char().to_string();
                let mut spacing = p.spacing();
                while spacing == Spacing::Joint {
                    match tokens.peek() {
                        Some(TokenTree::Punct(q)) => {
                            op.push(q.as_char());
                            spacing = q.spacing();
                            tokens.next();
                        }
                        _ => break,
                    }
                }
                match op.as_str() {
                    "." | ".." | "..=" | "::" => {
                        out.push_str(&op);
                        operand = false;
                    }
                    "," | ";" | ":" => {
                        out.push_str(&op);
                        out.push(' ');
                        operand = false;
                    }
                    "?" | "!" if operand => out.push_str(&op),
                    _ if operand => {
                        out.push(' ');
                        out.push_str(&op);
                        out.push(' ');
                        operand = false;
                    }
                    // Unary: `-x`, `&x`, `!x`, `*x`.
                    _ => out.push_str(&op),
                }
            }
        }
    }
    out
}
