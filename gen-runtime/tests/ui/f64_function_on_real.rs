use gen_runtime::prelude::*;

#[gen]
fn model() -> Real {
    let x = normal(0.0, 1.0).at("x");
    let s = f64::exp(x) + f64::ln(x * 2.0);
    let t = f64::powi(x, 2) + f64::max(x, 0.0);
    let u = f64::floor(s) + x as f64;
    s + t + u
}

fn main() {}
