use gen_runtime::prelude::*;

// Discrete choices, data and integers may steer control flow; comparisons of them compile
// and run as in plain Rust. Calls that are not traceable stay plain statements.
#[gen]
fn model(xs: &[f64], n: usize) -> Real {
    let coin = bernoulli(0.5).at("coin");
    let k = poisson(3.0).at("k");
    let mut total = normal(0.0, 1.0).at("x");
    if coin && k > 2 && n != 0 {
        total += normal(0.0, 1.0).at("y");
    }
    let mut seen = Vec::new();
    for (i, x) in xs.iter().enumerate() {
        if *x >= 0.5 && i < n {
            seen.push(i);
        }
    }
    let prior = normal(0.0, 1.0);
    let zs = iid(prior, seen.len()).at("zs");
    match k {
        0 => total,
        _ if zs.is_empty() => total * 2.0,
        _ => total + zs[0],
    }
}

fn main() {
    let xs = [0.1, 0.7, 0.9];
    for seed in 0..20 {
        let trace = model(&xs, 2).simulate(Key::new(seed)).unwrap();
        let (score, _) = model(&xs, 2).assess(trace.choices()).unwrap();
        assert!((score - trace.score()).abs() < 1e-12);
    }
}
