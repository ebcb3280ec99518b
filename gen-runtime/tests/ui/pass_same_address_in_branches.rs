use gen_runtime::prelude::*;

// The same literal address in the two arms of an `if`/`else` (and of a `match`) is one
// choice per execution, so it is accepted.
#[gen]
fn model(wide: bool, k: u8) -> Real {
    let x = if wide {
        normal(0.0, 10.0).at("x")
    } else {
        normal(0.0, 1.0).at("x")
    };
    let y = match k {
        0 => normal(x, 1.0).at("y"),
        1 => normal(x, 2.0).at("y"),
        _ => normal(x, 3.0).at("y"),
    };
    x + y
}

fn main() {
    let trace = model(true, 1).simulate(Key::new(0)).unwrap();
    let (score, _) = model(true, 1).assess(trace.choices()).unwrap();
    assert!((score - trace.score()).abs() < 1e-12);
    let trace = model(false, 5).simulate(Key::new(1)).unwrap();
    assert!(trace.score().is_finite());
}
