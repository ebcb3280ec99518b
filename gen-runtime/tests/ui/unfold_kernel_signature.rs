use gen_runtime::prelude::*;

// An Unfold kernel is `fn(t: usize, state: S, params...) -> S`: here the state is missing.
#[gen]
fn step(t: usize) -> Real {
    normal(t as f64, 1.0).at("x")
}

#[gen]
fn model() -> Real {
    let path = Unfold::new(step::gf()).apply((3, 0.0, ())).at("walk");
    path[2]
}

fn main() {}
