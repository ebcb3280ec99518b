use super::{sampler, Distribution, Support};
use crate::error::{require, ParamError};
use crate::real::{Real, Scalar};
use crate::rng::KeyRng;
use rand_distr::Distribution as _;

/// The Bernoulli distribution parameterized by its log-odds: `true` with probability
/// sigmoid(logit) (Stan's `bernoulli_logit`, NumPyro's `Bernoulli(logits=...)`).
///
/// Mass P(true) = 1 / (1 + e^-logit). The log mass is -softplus(-logit) or -softplus(logit),
/// finite for every finite logit: `bernoulli(eta.sigmoid())` loses `false` to ln(0) once the
/// sigmoid rounds to 1 (eta above about 37), which separable data reach.
#[derive(Clone, Copy, Debug)]
pub struct BernoulliLogit<R> {
    /// The log-odds of `true`.
    pub logit: R,
}

/// BernoulliLogit(logit): `true` with probability sigmoid(logit).
#[inline]
pub fn bernoulli_logit<R: Real>(logit: impl Into<R>) -> BernoulliLogit<R> {
    BernoulliLogit { logit: logit.into() }
}

impl<R: Real> Distribution for BernoulliLogit<R> {
    type Real = R;
    type Value = bool;
    type Data = bool;
    const NAME: &'static str = "bernoulli_logit";

    type Scalar = BernoulliLogit<f64>;

    fn to_scalar(&self, param: &mut dyn FnMut(&R) -> f64) -> BernoulliLogit<f64> {
        BernoulliLogit { logit: param(&self.logit) }
    }

    /// ln sigmoid(logit) = -softplus(-logit), or ln(1 - sigmoid(logit)) = -softplus(logit).
    #[inline]
    fn log_density(&self, x: &bool) -> R {
        if *x {
            -(-self.logit).softplus()
        } else {
            -self.logit.softplus()
        }
    }

    #[inline]
    fn lift(&self, x: &bool) -> bool {
        *x
    }

    #[inline]
    fn lower(x: &bool) -> bool
    where
        R: Scalar,
    {
        *x
    }

    /// # Panics
    /// If the parameters are invalid (see [`Distribution::check`]).
    #[inline]
    fn sample(&self, rng: &mut KeyRng) -> bool
    where
        R: Scalar,
    {
        sampler(self, rand_distr::Bernoulli::new(self.logit.value().sigmoid())).sample(rng)
    }

    fn check(&self) -> Result<(), ParamError>
    where
        R: Scalar,
    {
        let logit = self.logit.value();
        require(!logit.is_nan(), "logit", logit, "not NaN")
    }

    fn support(&self) -> Support {
        Support::Boolean
    }

    fn in_support(&self, _x: &bool) -> bool
    where
        R: Scalar,
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_mass_is_the_log_sigmoid_and_stays_finite_where_the_probability_rounds_to_one() {
        for eta in [-3.0f64, -0.2, 0.0, 1.5, 4.0] {
            let p = 1.0 / (1.0 + (-eta).exp());
            let d = bernoulli_logit::<f64>(eta);
            assert!((d.log_density(&true) - p.ln()).abs() < 1e-12);
            assert!((d.log_density(&false) - (1.0 - p).ln()).abs() < 1e-12);
        }
        // sigmoid(40) rounds to 1 in f64: ln(1 - p) would be -inf; the log mass is -40.
        let d = bernoulli_logit::<f64>(40.0);
        assert!((d.log_density(&false) + 40.0).abs() < 1e-9);
        assert!(d.log_density(&true).abs() < 1e-15);
        assert!(bernoulli_logit::<f64>(f64::NAN).check().is_err());
    }
}
