//! Bad input gives a typed error naming the address or parameter.

use gen_runtime::prelude::*;

#[gen]
fn model(sigma: f64) {
    let mu = normal(0.0, 1.0).at("mu");
    normal(mu, sigma).at("y");
}

#[test]
fn a_constraint_at_an_unvisited_address_is_named() {
    let err = model(1.0).generate(Key::new(0), &choicemap! { "y" => 0.5, "z" => 1.0 }).err().unwrap();
    assert_eq!(err, GenError::UnvisitedConstraint { address: "z".into_address() });
    assert!(err.to_string().contains("`z`"));
}

#[test]
fn a_value_outside_the_support_is_named() {
    #[gen]
    fn positive() {
        exponential(1.0).at("rate");
    }
    let err = positive().generate(Key::new(0), &choicemap! { "rate" => -2.0 }).err().unwrap();
    assert!(matches!(&err, GenError::OutsideSupport { address, .. } if *address == "rate".into_address()), "{err}");
    // In update the same value is a zero-probability proposal, not an error.
    let t = positive().simulate(Key::new(0)).unwrap();
    let (_, w, _) = t.update(Key::new(1), &choicemap! { "rate" => -2.0 }).unwrap();
    assert_eq!(w, f64::NEG_INFINITY);
}

#[test]
fn a_non_positive_sigma_is_named() {
    let err = model(0.0).simulate(Key::new(0)).err().unwrap();
    match &err {
        GenError::InvalidParameter { address, parameter, .. } => {
            assert_eq!(*address, "y".into_address());
            assert_eq!(*parameter, "sigma");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(err.to_string().contains("sigma"));
}

#[test]
fn a_missing_choice_in_assess_is_named() {
    let err = model(1.0).assess(&choicemap! { "y" => 0.5 }).err().unwrap();
    assert_eq!(err, GenError::MissingChoice { address: "mu".into_address() });
}

#[test]
fn a_value_of_the_wrong_type_is_named() {
    let err = model(1.0).generate(Key::new(0), &choicemap! { "y" => true }).err().unwrap();
    assert!(matches!(&err, GenError::WrongType { address, found: "bool", .. } if *address == "y".into_address()), "{err}");
}

#[test]
fn a_plate_of_the_wrong_length_is_named() {
    #[gen]
    fn line(xs: &[f64]) {
        let a = normal(0.0, 1.0).at("a");
        plate(xs, |x| normal(a * x, 1.0)).at("ys");
    }
    let xs = [1.0, 2.0, 3.0];
    let err = line(&xs).generate(Key::new(0), &choicemap! { "ys" => vec![1.0, 2.0] }).err().unwrap();
    assert_eq!(err, GenError::WrongLength { address: "ys".into_address(), expected: 3, found: 2 });
}

#[test]
fn a_duplicate_runtime_address_is_named() {
    #[gen]
    fn twice(n: usize) {
        for _ in 0..n {
            normal(0.0, 1.0).at(("x", 0));
        }
    }
    let err = twice(2).simulate(Key::new(0)).err().unwrap();
    assert_eq!(err, GenError::DuplicateAddress { address: ("x", 0usize).into_address() });
}

/// A latent scale drawn negative for about a sixth of the particles, at a choice that is
/// sampled, not scored.
#[gen]
fn signed_latent_scale() {
    let s = normal(1.0, 1.0).at("s");
    let z = normal(0.0, s).at("z");
    normal(z, 1.0).at("y");
}

/// A particle whose draw puts a parameter out of range is exactly a particle that `generate`
/// refuses with the same key; importance sampling gives it weight zero and counts it (the
/// run fails only when every particle is invalid, with `generate`'s error).
#[test]
fn importance_sampling_gives_weight_zero_to_the_particles_generate_refuses() {
    let obs = choicemap! { "y" => 0.5 };
    let key = Key::new(3);
    let refused: Vec<bool> = (0..200u64).map(|i| signed_latent_scale().generate(key.split(i), &obs).is_err()).collect();
    let first_bad = refused.iter().position(|r| *r).expect("some particle draws a negative scale");
    let expected = signed_latent_scale().generate(key.split(first_bad as u64), &obs).err().unwrap();
    assert!(matches!(&expected, GenError::InvalidParameter { address, parameter: "sigma", .. } if *address == "z".into_address()), "{expected}");
    let particles = gen_runtime::importance_log_weights(&signed_latent_scale(), &obs, 200, key).unwrap();
    assert_eq!(particles.invalid, refused.iter().filter(|r| **r).count());
    for (i, (w, r)) in particles.log_weights.iter().zip(&refused).enumerate() {
        assert_eq!(*w == f64::NEG_INFINITY, *r, "particle {i}: weight {w}");
    }
}
