use gen_runtime::prelude::*;

#[gen]
fn model(n: usize) -> Real {
    let mu = normal(0.0, 1.0).at("mu");
    for _i in 0..n {
        normal(mu, 1.0).at("y");
    }
    mu
}

fn main() {}
