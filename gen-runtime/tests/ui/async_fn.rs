use gen_runtime::prelude::*;

#[gen]
async fn model() -> Real {
    normal(0.0, 1.0).at("a")
}

fn main() {}
