use gen_runtime::prelude::*;

#[gen]
fn model() -> Real {
    let a = normal(0.0, 1.0).at("a");
    let b = normal(a, 1.0).at("a");
    b
}

fn main() {}
