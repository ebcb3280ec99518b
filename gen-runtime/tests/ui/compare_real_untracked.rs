use gen_runtime::prelude::*;

#[gen]
fn sub() -> Real {
    normal(0.0, 1.0).at("s")
}

// `s` comes from a sub-model: the macro cannot see that it is continuous, so rustc reports
// the comparison.
#[gen]
fn model() -> Real {
    let s = sub().at("sub");
    if s > 0.0 {
        normal(1.0, 1.0).at("a");
    }
    s
}

fn main() {}
