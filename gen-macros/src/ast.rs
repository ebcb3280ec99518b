//! The parsed model of a `#[gen]` function: its signature and its trace sites.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Expr, ExprLit, ItemFn, Lit};

/// One `.at(addr)` trace site.
pub struct SiteInfo {
    /// The literal name of the address, if it has one (`"a"` or `("y", i)`).
    pub name: Option<String>,
    /// Whether the address is a literal name alone (no indices).
    pub plain: bool,
    /// Where it is: the `at` of `.at(...)`.
    pub span: Span,
    /// The tokens of its arguments, so errors about the address can point at the address.
    pub args: TokenStream,
    /// The enclosing branches, as (branch id, arm) pairs from outermost to innermost.
    pub branches: Vec<(usize, usize)>,
    /// Whether it is inside a loop.
    pub in_loop: bool,
    /// The number of arguments `.at` was given.
    pub arity: usize,
}

/// The function as the macro sees it.
pub struct Model {
    /// The function.
    pub func: ItemFn,
    /// Its trace sites in source order.
    pub sites: Vec<SiteInfo>,
}

/// The literal name of an address expression: `"a"` or the first element of `("y", i)`.
pub fn address_name(addr: &Expr) -> (Option<String>, bool) {
    match addr {
        Expr::Lit(ExprLit { lit: Lit::Str(s), .. }) => (Some(s.value()), true),
        Expr::Tuple(t) => match t.elems.first() {
            Some(Expr::Lit(ExprLit { lit: Lit::Str(s), .. })) if t.elems.len() > 1 => (Some(s.value()), false),
            _ => (None, false),
        },
        Expr::Paren(p) => address_name(&p.expr),
        _ => (None, false),
    }
}

/// Collects trace sites with their control-flow context.
struct SiteCollector {
    sites: Vec<SiteInfo>,
    branches: Vec<(usize, usize)>,
    next_branch: usize,
    loops: usize,
}

impl<'ast> Visit<'ast> for SiteCollector {
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        if m.method == "at" {
            let (name, plain) = m.args.first().map_or((None, false), address_name);
            self.sites.push(SiteInfo {
                name,
                plain,
                span: m.method.span(),
                args: m.args.to_token_stream(),
                branches: self.branches.clone(),
                in_loop: self.loops > 0,
                arity: m.args.len(),
            });
        }
        syn::visit::visit_expr_method_call(self, m);
    }

    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        let id = self.next_branch;
        self.next_branch += 1;
        self.visit_expr(&e.cond);
        self.branches.push((id, 0));
        self.visit_block(&e.then_branch);
        self.branches.pop();
        if let Some((_, els)) = &e.else_branch {
            self.branches.push((id, 1));
            self.visit_expr(els);
            self.branches.pop();
        }
    }

    fn visit_expr_match(&mut self, e: &'ast syn::ExprMatch) {
        let id = self.next_branch;
        self.next_branch += 1;
        self.visit_expr(&e.expr);
        for (i, arm) in e.arms.iter().enumerate() {
            self.branches.push((id, i));
            self.visit_arm(arm);
            self.branches.pop();
        }
    }

    fn visit_expr_for_loop(&mut self, e: &'ast syn::ExprForLoop) {
        self.visit_expr(&e.expr);
        self.loops += 1;
        self.visit_block(&e.body);
        self.loops -= 1;
    }

    fn visit_expr_while(&mut self, e: &'ast syn::ExprWhile) {
        self.loops += 1;
        syn::visit::visit_expr_while(self, e);
        self.loops -= 1;
    }

    fn visit_expr_loop(&mut self, e: &'ast syn::ExprLoop) {
        self.loops += 1;
        syn::visit::visit_expr_loop(self, e);
        self.loops -= 1;
    }

    fn visit_expr_closure(&mut self, e: &'ast syn::ExprClosure) {
        // A closure may run any number of times, like a loop body.
        self.loops += 1;
        syn::visit::visit_expr_closure(self, e);
        self.loops -= 1;
    }

    // Nested items are not part of this body.
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

impl Model {
    /// Parses the function and collects its trace sites.
    pub fn parse(func: ItemFn) -> Model {
        let mut c = SiteCollector { sites: Vec::new(), branches: Vec::new(), next_branch: 0, loops: 0 };
        c.visit_block(&func.block);
        Model { func, sites: c.sites }
    }
}
