use gen_runtime::prelude::*;

#[gen]
fn sub(x: Real) -> Real {
    normal(x, 1.0).at("s")
}

#[gen]
fn model() -> Real {
    let x = normal(0.0, 1.0).at("x");
    normal(0.0, 1.0);
    sub(x);
    let y = sub(x);
    x + y
}

fn main() {}
