use gen_runtime::prelude::*;

#[gen]
fn model() -> Real {
    normal(0.0, 1.0).at("a", 1)
}

fn main() {}
