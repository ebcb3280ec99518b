use gen_runtime::prelude::*;

#[gen]
fn model() -> f64 {
    normal(0.0, 1.0).at("a")
}

#[gen]
fn pair() -> (f64, f64) {
    let a = normal(0.0, 1.0).at("a");
    (a, a * 2.0)
}

fn main() {}
