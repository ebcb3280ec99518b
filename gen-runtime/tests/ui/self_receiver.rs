use gen_runtime::prelude::*;

struct Model;

impl Model {
    #[gen]
    fn model(&self) -> Real {
        normal(0.0, 1.0).at("a")
    }
}

fn main() {}
