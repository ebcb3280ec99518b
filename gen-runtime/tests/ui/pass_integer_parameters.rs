use gen_runtime::prelude::*;

// Integer literals are accepted as real distribution parameters (Gen.jl, NumPyro and Stan
// accept `normal(0, 1)`): `#[gen]` reads them as floats. Other integers keep their type.
#[gen]
fn with_integers(n: u64) -> Real {
    let mu = normal(0, 1).at("mu");
    let sigma = gamma(2, 1).at("sigma");
    let w = dirichlet([1, 1, 1]).at("w");
    let k = binomial(n, 0.5).at("k");
    let ys = iid(normal(-mu, (2)), 2).at("ys");
    mu + sigma + w[0] + ys[0] + k as f64 * 0.0
}

#[gen]
fn with_floats(n: u64) -> Real {
    let mu = normal(0.0, 1.0).at("mu");
    let sigma = gamma(2.0, 1.0).at("sigma");
    let w = dirichlet([1.0, 1.0, 1.0]).at("w");
    let k = binomial(n, 0.5).at("k");
    let ys = iid(normal(-mu, (2.0)), 2).at("ys");
    mu + sigma + w[0] + ys[0] + k as f64 * 0.0
}

fn main() {
    let trace = with_integers(10).simulate(Key::new(0)).unwrap();
    let (score, _) = with_floats(10).assess(trace.choices()).unwrap();
    assert_eq!(score, trace.score());
    let again = with_floats(10).simulate(Key::new(0)).unwrap();
    assert_eq!(again.score(), trace.score());
}
