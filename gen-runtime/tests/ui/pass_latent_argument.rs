use gen_runtime::prelude::*;

// Latent values pass to sub-models, owned vectors of them too, and a kernel with parameters
// is an Unfold kernel.
#[gen]
fn centered(mu: Real, weights: Vec<Real>, scale: f64) -> Real {
    let mut s = mu;
    for w in weights {
        s += w;
    }
    normal(s, scale).at("x")
}

#[gen]
fn step(t: usize, state: (Real, Real), noise: f64) -> (Real, Real) {
    let _ = t;
    let x = normal(state.0 + state.1, noise).at("x");
    (x, state.1)
}

#[gen]
fn model() -> Real {
    let mu = normal(0.0, 1.0).at("mu");
    let v = centered(mu, vec![mu, mu], 2.0).at("c");
    let path = Unfold::new(step::gf()).apply((2, (v, mu), (0.1,))).at("walk");
    path[1].0
}

fn main() {
    let t = model().simulate(Key::new(0)).unwrap();
    assert_eq!(t.choices().len(), 4);
    let (lp, _) = model().assess(t.choices()).unwrap();
    assert!((lp - t.score()).abs() < 1e-12);
}
