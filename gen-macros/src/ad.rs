//! Reverse-mode derivatives of plate closures, generated from their source.
//!
//! A plate `plate(xs, |x| normal(a + b * x, s)).at("ys")` is where a model spends its time,
//! and the gradient engine's forward-mode dual numbers carry every latent's tangent through
//! each operation of it, for every data point: several times the arithmetic of the plain
//! log density. Reverse mode needs one adjoint per operation instead, which is what a
//! handcoded gradient does. So, when the closure's body is a call of a distribution whose
//! parameters are all reals, and its arguments are arithmetic on the data point, captured
//! values and literals, the macro writes that closure's adjoint as plain `f64` code:
//! forward through the arguments, the distribution's log density with its partials in each
//! argument (a dual number per argument, the few lanes the distribution needs), then
//! backward, adding each captured value's partial to `g`. The log density comes as
//! `scale * kernel + offset` (gen-runtime's `Distribution::log_density_parts`); where scale
//! and offset are constants (a normal with a constant sigma) only the kernel is propagated
//! and returned, and the gradient engine applies the scale once per plate. It sums this over
//! the data and applies the chain rule to the captured values once per plate. Other handlers
//! ignore it. Anything else in the closure (statements, indexing, calls of other functions)
//! keeps the plain closure, which is always correct; this is an optimization, never a
//! different meaning.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{BinOp, Expr, Lit, Pat, UnOp};

/// Distribution constructors whose every argument is a real parameter (`impl Into<R>`).
const REAL_CONSTRUCTORS: &[&str] =
    &["normal", "half_normal", "lognormal", "cauchy", "student_t", "exponential", "gamma", "inv_gamma", "beta", "bernoulli", "bernoulli_logit", "poisson"];

/// Methods of `Real` with no arguments that the adjoint knows the derivative of.
const UNARY_METHODS: &[&str] =
    &["exp", "ln", "ln_1p", "exp_m1", "sqrt", "sin", "cos", "tanh", "atan", "abs", "square", "recip", "sigmoid", "softplus"];

/// The parts of a differentiable plate: what to pass the handler.
pub struct PlateAdjoint {
    /// The captured values, in the order of the adjoint's `p` and `g`.
    pub captures: Vec<syn::Ident>,
    /// `|x: f64, y, p: &[f64; K], g: &mut [f64; K]| -> LogDensityParts<f64>`.
    pub adjoint: TokenStream,
}

/// One node of an argument's expression tree.
enum Node {
    /// A captured value: `p[k]`.
    Capture(usize),
    /// The data point.
    Datum,
    /// An expression that does not depend on a captured value or the data point (a literal,
    /// a cast), evaluated as it is.
    Constant(Expr),
    Binary(BinOp, Box<Node>, Box<Node>),
    Neg(Box<Node>),
    Method(String, Box<Node>),
    /// `powi(n)` / `powf(p)` with a literal exponent.
    Power(&'static str, Box<Node>, Expr),
}

impl Node {
    /// Whether the node depends on a captured value (needs an adjoint).
    fn active(&self) -> bool {
        match self {
            Node::Capture(_) => true,
            Node::Datum | Node::Constant(_) => false,
            Node::Binary(_, l, r) => l.active() || r.active(),
            Node::Neg(e) | Node::Method(_, e) | Node::Power(_, e, _) => e.active(),
        }
    }
}

/// Builds the adjoint of `closure` if it has the supported form.
///
/// `constants` are names that hold the same `f64` in every engine (arguments declared `f64`
/// that the body never rebinds): they need no adjoint.
pub fn plate_adjoint(closure: &Expr, constants: &[syn::Ident]) -> Option<PlateAdjoint> {
    let Expr::Closure(c) = strip(closure) else { return None };
    if c.inputs.len() != 1 || c.asyncness.is_some() {
        return None;
    }
    let datum = match &c.inputs[0] {
        Pat::Ident(p) if p.subpat.is_none() => p.ident.clone(),
        Pat::Type(t) => match &*t.pat {
            Pat::Ident(p) if p.subpat.is_none() => p.ident.clone(),
            _ => return None,
        },
        _ => return None,
    };
    let body = match strip(&c.body) {
        Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
            syn::Stmt::Expr(e, None) => e,
            _ => return None,
        },
        e => e,
    };
    let Expr::Call(call) = strip(body) else { return None };
    let Expr::Path(ctor) = &*call.func else { return None };
    let name = ctor.path.segments.last()?.ident.to_string();
    if ctor.qself.is_some() || !REAL_CONSTRUCTORS.contains(&name.as_str()) {
        return None;
    }
    let mut parser = Parser { datum, constants, captures: Vec::new() };
    let args: Vec<Node> = call.args.iter().map(|a| parser.node(a)).collect::<Option<_>>()?;
    Some(PlateAdjoint { adjoint: generate(&ctor.path, &args, parser.captures.len()), captures: parser.captures })
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => strip(&p.expr),
        Expr::Group(g) => strip(&g.expr),
        other => other,
    }
}

struct Parser<'a> {
    datum: syn::Ident,
    constants: &'a [syn::Ident],
    captures: Vec<syn::Ident>,
}

impl Parser<'_> {
    fn node(&mut self, e: &Expr) -> Option<Node> {
        Some(match strip(e) {
            Expr::Lit(l) if matches!(l.lit, Lit::Float(_) | Lit::Int(_)) => Node::Constant(Expr::Lit(l.clone())),
            Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
                let ident = p.path.get_ident()?;
                if *ident == self.datum {
                    Node::Datum
                } else if self.constants.contains(ident) {
                    Node::Constant(Expr::Path(p.clone()))
                } else {
                    // A local, an argument or a constant: a real in any case, since it takes
                    // part in real arithmetic or is a distribution's real parameter.
                    let k = self.captures.iter().position(|c| c == ident).unwrap_or_else(|| {
                        self.captures.push(ident.clone());
                        self.captures.len() - 1
                    });
                    Node::Capture(k)
                }
            }
            // A cast makes a plain number of something that is not a real (an index).
            Expr::Cast(c) if is_f64(&c.ty) && !mentions(&c.expr, &self.datum) => Node::Constant(Expr::Cast(c.clone())),
            Expr::Binary(b) if matches!(b.op, BinOp::Add(_) | BinOp::Sub(_) | BinOp::Mul(_) | BinOp::Div(_)) => {
                Node::Binary(b.op, Box::new(self.node(&b.left)?), Box::new(self.node(&b.right)?))
            }
            Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => Node::Neg(Box::new(self.node(&u.expr)?)),
            Expr::MethodCall(m) if m.turbofish.is_none() => {
                let method = m.method.to_string();
                let receiver = Box::new(self.node(&m.receiver)?);
                match (method.as_str(), m.args.len()) {
                    (name, 0) if UNARY_METHODS.contains(&name) => Node::Method(method, receiver),
                    ("powi", 1) if is_literal(&m.args[0], false) => Node::Power("powi", receiver, m.args[0].clone()),
                    ("powf", 1) if is_literal(&m.args[0], true) => Node::Power("powf", receiver, m.args[0].clone()),
                    _ => return None,
                }
            }
            _ => return None,
        })
    }
}

fn is_f64(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none() && p.path.is_ident("f64"))
}

fn is_literal(e: &Expr, float: bool) -> bool {
    match strip(e) {
        Expr::Lit(l) => matches!((&l.lit, float), (Lit::Int(_), false) | (Lit::Float(_) | Lit::Int(_), true)),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => is_literal(&u.expr, float),
        _ => false,
    }
}

/// Whether `e` mentions the identifier `ident` anywhere.
fn mentions(e: &Expr, ident: &syn::Ident) -> bool {
    fn walk(ts: TokenStream, ident: &syn::Ident) -> bool {
        ts.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Ident(i) => i == *ident,
            proc_macro2::TokenTree::Group(g) => walk(g.stream(), ident),
            _ => false,
        })
    }
    walk(quote!(#e), ident)
}

/// The forward pass: one `let` per node, in evaluation order.
struct Emit {
    forward: Vec<TokenStream>,
    next: usize,
}

/// Generates the adjoint closure for a constructor `ctor` with argument trees `args` and
/// `k` captured values.
fn generate(ctor: &syn::Path, args: &[Node], k: usize) -> TokenStream {
    let rt = quote!(::gen_runtime::__private);
    let mut emit = Emit { forward: Vec::new(), next: 0 };
    // Values of every node, bound in the forward pass, then the backward pass walks the
    // same trees with those names.
    let mut bound: Vec<Bound> = Vec::new();
    for a in args {
        bound.push(bind(a, &mut emit));
    }
    let lanes = args.iter().filter(|a| a.active()).count();
    let mut lane = 0usize;
    let ctor_args: Vec<TokenStream> = args
        .iter()
        .zip(&bound)
        .map(|(a, b)| {
            let v = &b.name;
            if a.active() {
                let l = lane;
                lane += 1;
                quote!(#rt::Dual::<#lanes>::variable(#v, #l))
            } else {
                quote!(#rt::Dual::<#lanes>::constant(#v))
            }
        })
        .collect();
    let mut backward = Vec::new();
    let mut lane = 0usize;
    for (a, b) in args.iter().zip(&bound) {
        if a.active() {
            let l = lane;
            lane += 1;
            reverse(a, b, quote!(__lp.eps[#l]), &mut backward);
        }
    }
    let forward = &emit.forward;
    quote! {
        |__x: f64, __y, __p: &[f64; #k], __g: &mut [f64; #k]| -> #rt::LogDensityParts<f64> {
            #(#forward)*
            let (__lp, __parts) = #rt::adjoint_parts(#rt::Distribution::log_density_parts(&#rt::ad_distribution::<#lanes, _>(#ctor(#(#ctor_args),*)), __y));
            #(#backward)*
            __parts
        }
    }
}

/// A node with its value bound to a name, and its children likewise.
struct Bound {
    name: TokenStream,
    children: Vec<Bound>,
}

fn bind(node: &Node, emit: &mut Emit) -> Bound {
    let children: Vec<Bound> = match node {
        Node::Binary(_, l, r) => vec![bind(l, emit), bind(r, emit)],
        Node::Neg(e) | Node::Method(_, e) | Node::Power(_, e, _) => vec![bind(e, emit)],
        _ => Vec::new(),
    };
    let rt = quote!(::gen_runtime::__private);
    let c: Vec<&TokenStream> = children.iter().map(|c| &c.name).collect();
    let expr = match node {
        Node::Capture(k) => quote!(__p[#k]),
        Node::Datum => quote!(__x),
        Node::Constant(e) => quote!(((#e) as f64)),
        Node::Binary(op, _, _) => {
            let (l, r) = (c[0], c[1]);
            quote!(#l #op #r)
        }
        Node::Neg(_) => {
            let e = c[0];
            quote!(-#e)
        }
        Node::Method(m, _) => {
            let (e, m) = (c[0], format_ident!("{}", m));
            quote!(<f64 as #rt::Real>::#m(#e))
        }
        Node::Power(m, _, p) => {
            let (e, m) = (c[0], format_ident!("{}", m));
            quote!(<f64 as #rt::Real>::#m(#e, #p))
        }
    };
    let name = format_ident!("__v{}", emit.next);
    emit.next += 1;
    emit.forward.push(quote!(let #name: f64 = #expr;));
    Bound { name: quote!(#name), children }
}

/// Pushes the statements that propagate the adjoint `adj` of `node` (an active node) to the
/// captured values below it.
fn reverse(node: &Node, b: &Bound, adj: TokenStream, out: &mut Vec<TokenStream>) {
    let v = &b.name;
    let child = |i: usize| &b.children[i].name;
    match node {
        Node::Capture(k) => out.push(quote!(__g[#k] += #adj;)),
        Node::Datum | Node::Constant(_) => {}
        Node::Binary(op, l, r) => {
            let (lv, rv) = (child(0), child(1));
            let (la, ra) = match op {
                BinOp::Add(_) => (quote!(#adj), quote!(#adj)),
                BinOp::Sub(_) => (quote!(#adj), quote!(-(#adj))),
                BinOp::Mul(_) => (quote!((#adj) * #rv), quote!((#adj) * #lv)),
                // d(l/r)/dr = -(l/r)/r.
                _ => (quote!((#adj) / #rv), quote!(-(#adj) * #v / #rv)),
            };
            for (n, bound, a) in [(&**l, &b.children[0], la), (&**r, &b.children[1], ra)] {
                if n.active() {
                    let name = format_ident!("__a{}", out.len());
                    out.push(quote!(let #name: f64 = #a;));
                    reverse(n, bound, quote!(#name), out);
                }
            }
        }
        Node::Neg(e) => reverse(e, &b.children[0], quote!(-(#adj)), out),
        Node::Method(m, e) => {
            let x = child(0);
            let d = match m.as_str() {
                "exp" => quote!(#v),
                "ln" => quote!(1.0 / #x),
                "ln_1p" => quote!(1.0 / (1.0 + #x)),
                "exp_m1" => quote!(#x.exp()),
                "sqrt" => quote!(0.5 / #v),
                "sin" => quote!(#x.cos()),
                "cos" => quote!(-#x.sin()),
                "tanh" => quote!(1.0 - #v * #v),
                "atan" => quote!(1.0 / (1.0 + #x * #x)),
                "abs" => quote!(if #x > 0.0 { 1.0 } else if #x < 0.0 { -1.0 } else { 0.0 }),
                "square" => quote!(2.0 * #x),
                "recip" => quote!(-(#v * #v)),
                "sigmoid" => quote!(#v * (1.0 - #v)),
                // d softplus(x)/dx = sigmoid(x).
                _ => quote!(1.0 / (1.0 + (-#x).exp())),
            };
            let name = format_ident!("__a{}", out.len());
            out.push(quote!(let #name: f64 = (#adj) * (#d);));
            reverse(e, &b.children[0], quote!(#name), out);
        }
        Node::Power(m, e, p) => {
            let x = child(0);
            let d = if *m == "powi" { quote!(f64::from(#p) * #x.powi(#p - 1)) } else { quote!((#p as f64) * #x.powf((#p as f64) - 1.0)) };
            let name = format_ident!("__a{}", out.len());
            out.push(quote!(let #name: f64 = (#adj) * (#d);));
            reverse(e, &b.children[0], quote!(#name), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::plate_adjoint;
    use syn::parse_quote;

    fn captures(closure: syn::Expr, constants: &[syn::Ident]) -> Option<Vec<String>> {
        plate_adjoint(&closure, constants).map(|ad| ad.captures.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn simple_closures_get_an_adjoint_and_name_their_captures_once() {
        let noise: syn::Ident = parse_quote!(noise);
        assert_eq!(captures(parse_quote!(|x| normal(a + b * x + c * x * x, noise)), &[]).unwrap(), ["a", "b", "c", "noise"]);
        // A constant argument is not a capture; a repeated capture is one.
        assert_eq!(captures(parse_quote!(|x| normal(a * x + a, noise)), &[noise]).unwrap(), ["a"]);
        assert_eq!(captures(parse_quote!(|x: f64| { bernoulli((w * x).sigmoid()) }), &[]).unwrap(), ["w"]);
        assert_eq!(captures(parse_quote!(|x| normal((i as f64) * x, s.exp().powi(2))), &[]).unwrap(), ["s"]);
    }

    #[test]
    fn other_closures_keep_the_plain_path() {
        for closure in [
            parse_quote!(|x| { let m = a * x; normal(m, 1.0) }),
            parse_quote!(|x| normal(w[0] * x, 1.0)),
            parse_quote!(|x| normal(f(a) * x, 1.0)),
            parse_quote!(|x| uniform(0.0, 1.0)),
            parse_quote!(|x| binomial(10, p)),
            parse_quote!(|x| normal(a.powf(b), 1.0)),
            parse_quote!(|x| normal((x as f64) * a, 1.0)),
            parse_quote!(|(x, y)| normal(x, y)),
            parse_quote!(|x| categorical(ps)),
        ] {
            assert!(captures(closure, &[]).is_none());
        }
    }
}
