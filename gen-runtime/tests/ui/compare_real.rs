use gen_runtime::prelude::*;

// Comparisons of continuous values that the macro can see: choices of continuous
// distributions, `Real` arguments, and values computed from them.
#[gen]
fn model(shift: Real) -> Real {
    let x = normal(0.0, 1.0).at("x");
    let y = normal(x, 1.0).at("y");
    let z = x * 2.0 + y.exp();
    if x > 0.0 {
        normal(1.0, 1.0).at("a");
    }
    let _less = x < shift;
    while z >= 1.0 {}
    let _big = match y {
        v if v > 1.0 => v,
        v => -v,
    };
    match y {
        0.0 => x,
        v => v,
    }
}

fn main() {}
