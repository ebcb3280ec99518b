use gen_runtime::prelude::*;

#[gen]
fn model<T: Into<f64>>(scale: T) -> Real {
    normal(0.0, scale.into()).at("a")
}

fn main() {}
