use gen_runtime::prelude::*;

#[gen]
fn sub() -> Real {
    normal(0.0, 1.0).at("s")
}

// `s` comes from a sub-model, so the macro does not know it is continuous and rustc reports
// the `f64` function; its help must not suggest syntax that does not compile (it used to
// suggest `#[gen]<Real = f64>`).
#[gen]
fn model() -> Real {
    let s = sub().at("sub");
    let e = f64::exp(s);
    s + e
}

fn main() {}
