use gen_runtime::prelude::*;

#[gen]
fn model() -> Real {
    let a = normal(0.0, 1.0).at("a");
    let _b = 3.0.at("b");
    a
}

fn main() {}
