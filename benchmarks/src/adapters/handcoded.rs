//! The handcoded Rust row: [`crate::handcoded`]'s plain-loop algorithms, run in process.

use anyhow::bail;

use super::{in_process_result, Adapter, AdapterKind, Availability, Quality, RunResult};
use crate::data::DataSet;
use crate::handcoded;
use crate::models::{Method, Model, Task};
use crate::timing::{measure_in_process, Measured};

/// The handcoded Rust baseline (the floor): `--frameworks handcoded-rust`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HandcodedRust;

/// Its `--frameworks` name.
pub const NAME: &str = "handcoded-rust";

impl Adapter for HandcodedRust {
    fn name(&self) -> &str {
        NAME
    }

    fn display_name(&self) -> &str {
        "Handcoded Rust"
    }

    fn kind(&self) -> AdapterKind {
        AdapterKind::InProcess
    }

    fn supports(&self, model: Model, method: Method) -> bool {
        matches!(
            (model, method),
            (Model::Polynomial, Method::Is | Method::Hmc | Method::Vi) | (Model::BetaBernoulli, Method::Is) | (Model::Hmm | Model::Lgssm, Method::Smc | Method::Exact)
        )
    }

    fn availability(&self) -> Availability {
        Availability::Available { version: concat!("benchmarks ", env!("CARGO_PKG_VERSION")).to_owned() }
    }

    fn run(&mut self, task: &Task) -> anyhow::Result<RunResult> {
        let config = &task.config;
        let particles = || config.n_particles.ok_or_else(|| anyhow::anyhow!("{} needs --n-particles", config.label()));
        let (repeats, seed) = (task.repeats, task.seed);
        let (measured, quality) = match (task.data.as_ref(), config.method) {
            (DataSet::Polynomial(d), Method::Is) => {
                let n = particles()?;
                is_quality(measure_in_process(repeats, seed, |s| handcoded::polynomial_is(d, n, s))?)
            }
            (DataSet::BetaBernoulli(d), Method::Is) => {
                let n = particles()?;
                is_quality(measure_in_process(repeats, seed, |s| handcoded::beta_bernoulli_is(d, n, s))?)
            }
            (DataSet::Polynomial(d), Method::Hmc) => {
                let hmc = config.hmc.unwrap_or_default();
                let m = measure_in_process(repeats, seed, |s| handcoded::polynomial_hmc(d, &hmc, s))?;
                let quality = hmc_quality(&m.last);
                (m.without_output(), quality)
            }
            (DataSet::Polynomial(d), Method::Vi) => {
                let vi = config.vi.unwrap_or_default();
                let m = measure_in_process(repeats, seed, |s| handcoded::polynomial_advi(d, &vi, s))?;
                let quality = Quality {
                    posterior_mean: Some(m.last.loc.to_vec()),
                    posterior_sd: Some(m.last.scale.to_vec()),
                    elbo: Some(m.last.elbo),
                    ..Quality::default()
                };
                (m.without_output(), quality)
            }
            (DataSet::Hmm(d), Method::Smc) => {
                let n = particles()?;
                smc_quality(measure_in_process(repeats, seed, |s| handcoded::hmm_bootstrap_pf(d, n, s))?)
            }
            (DataSet::Lgssm(d), Method::Smc) => {
                let n = particles()?;
                smc_quality(measure_in_process(repeats, seed, |s| handcoded::lgssm_bootstrap_pf(d, n, s))?)
            }
            (DataSet::Hmm(d), Method::Exact) => exact_quality(measure_in_process(repeats, seed, |_| handcoded::hmm_forward_log_ml(std::hint::black_box(d)))?),
            (DataSet::Lgssm(d), Method::Exact) => exact_quality(measure_in_process(repeats, seed, |_| handcoded::lgssm_kalman_log_ml(std::hint::black_box(d)))?),
            _ => bail!("handcoded Rust does not implement {}", config.label()),
        };
        Ok(in_process_result(measured, quality))
    }
}

fn is_quality(m: Measured<handcoded::IsOutput>) -> (Measured<()>, Quality) {
    let q = Quality {
        log_ml: Some(m.last.log_ml),
        ess: Some(m.last.ess),
        posterior_mean: Some(m.last.posterior_mean.clone()),
        posterior_sd: Some(m.last.posterior_sd.clone()),
        ..Quality::default()
    };
    (m.without_output(), q)
}

fn smc_quality(m: Measured<handcoded::SmcOutput>) -> (Measured<()>, Quality) {
    let q = Quality { log_ml: Some(m.last.log_ml), ess: Some(m.last.min_ess), ..Quality::default() };
    (m.without_output(), q)
}

fn exact_quality(m: Measured<f64>) -> (Measured<()>, Quality) {
    let q = Quality { log_ml: Some(m.last), ..Quality::default() };
    (m.without_output(), q)
}

/// Posterior moments over the kept samples and the smallest per-latent ESS.
fn hmc_quality(out: &handcoded::HmcOutput) -> Quality {
    let chain: Vec<Vec<f64>> = out.samples.iter().map(|s| s.to_vec()).collect();
    crate::raw::mcmc_quality(&[chain], Some(out.acceptance_rate), Some(out.divergences as u64))
}
