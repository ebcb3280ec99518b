use gen_runtime::prelude::*;

#[gen(foo)]
fn model() -> Real {
    normal(0.0, 1.0).at("a")
}

fn main() {}
