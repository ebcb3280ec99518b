use gen_runtime::prelude::*;

// A borrowed slice of `Real` cannot be lifted to dual numbers or batches without a copy.
#[gen]
fn model(mus: &[Real]) -> Real {
    normal(mus[0], 1.0).at("x")
}

fn main() {}
