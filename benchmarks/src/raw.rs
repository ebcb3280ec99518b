//! Raw outputs of a run and the one place their quality numbers are computed.
//!
//! Every row's ESS, R-hat, posterior moments, IS log-ML and Kish ESS come from the functions
//! here, over the raw draws or weights, whatever framework produced them: the in-process rows
//! pass theirs directly, and an external framework whose manifest says `"raw_output": true`
//! writes them as NumPy `.npy` files into the folder given by `--raw-out` (see
//! `comparisons/PROTOCOL.md`, "Raw output"), which [`RawOutput::read`] loads. The diagnostics
//! themselves are `gen_runtime::diagnostics`'s (Vehtari et al. 2021, as ArviZ and Stan).

use std::path::Path;

use anyhow::Context;

use crate::adapters::Quality;

/// What a run sampled, as the protocol's `.npy` files hold it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RawOutput {
    /// MCMC draws, `draws[chain][draw][latent]` (`draws.npy`, shape chains x draws x latents).
    pub draws: Option<Vec<Vec<Vec<f64>>>>,
    /// Per-transition acceptance statistic or indicator, all chains in order (`accept.npy`).
    pub accept: Option<Vec<f64>>,
    /// IS log weights (`log_weights.npy`, shape N).
    pub log_weights: Option<Vec<f64>>,
    /// IS particles' latents, `samples[particle][latent]` (`samples.npy`, shape N x latents).
    pub samples: Option<Vec<Vec<f64>>>,
    /// A particle filter's last-step log weights before resampling (`final_log_weights.npy`).
    pub final_log_weights: Option<Vec<f64>>,
}

/// Reads `dir/name.npy` as float64 values in C (row-major) order with its shape, or `None`
/// when the file is absent. A Fortran-ordered file (what Julia's NPZ.jl writes: a column-major
/// array as it lies in memory) is reordered, as `numpy.load` does.
fn read_npy(dir: &Path, name: &str) -> anyhow::Result<Option<(Vec<u64>, Vec<f64>)>> {
    let path = dir.join(format!("{name}.npy"));
    if !path.exists() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..]).with_context(|| format!("{} is not a .npy file", path.display()))?;
    let shape = npy.shape().to_vec();
    let order = npy.order();
    let values: Vec<f64> = npy.into_vec().with_context(|| format!("{}: expected float64 values", path.display()))?;
    let values = match order {
        npyz::Order::C => values,
        npyz::Order::Fortran => fortran_to_c(&shape, &values).with_context(|| format!("{}: shape {shape:?} does not match its data", path.display()))?,
    };
    Ok(Some((shape, values)))
}

/// The values of a column-major array of `shape` in row-major order (the first index varies
/// fastest in `values`, the last fastest in the result).
fn fortran_to_c(shape: &[u64], values: &[f64]) -> anyhow::Result<Vec<f64>> {
    let dims: Vec<usize> = shape.iter().map(|&d| usize::try_from(d)).collect::<Result<_, _>>()?;
    anyhow::ensure!(dims.iter().product::<usize>() == values.len(), "{} values", values.len());
    let mut out = Vec::with_capacity(values.len());
    let mut index = vec![0usize; dims.len()];
    for _ in 0..values.len() {
        // Column-major offset of the row-major index being visited.
        let (mut offset, mut stride) = (0, 1);
        for (i, d) in index.iter().zip(&dims) {
            offset += i * stride;
            stride *= d;
        }
        out.push(values[offset]);
        // Advance the row-major index: the last axis fastest.
        for axis in (0..dims.len()).rev() {
            index[axis] += 1;
            if index[axis] < dims[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
    Ok(out)
}

fn rows(shape: &[u64], values: &[f64], name: &str) -> anyhow::Result<Vec<Vec<f64>>> {
    let [n, d] = shape else { anyhow::bail!("{name}.npy has shape {shape:?}; expected (particles, latents)") };
    let d = usize::try_from(*d)?;
    anyhow::ensure!(d > 0 && values.len() == usize::try_from(*n)? * d, "{name}.npy: shape {shape:?} does not match its data");
    Ok(values.chunks_exact(d).map(<[f64]>::to_vec).collect())
}

impl RawOutput {
    /// Loads whichever of the protocol's files `dir` holds.
    ///
    /// # Errors
    /// A file that is not a C-ordered float64 `.npy` array of the expected rank.
    pub fn read(dir: &Path) -> anyhow::Result<Self> {
        let draws = match read_npy(dir, "draws")? {
            None => None,
            Some((shape, values)) => {
                let [c, n, d] = shape[..] else { anyhow::bail!("draws.npy has shape {shape:?}; expected (chains, draws, latents)") };
                let (c, n, d) = (usize::try_from(c)?, usize::try_from(n)?, usize::try_from(d)?);
                anyhow::ensure!(c > 0 && n > 0 && d > 0 && values.len() == c * n * d, "draws.npy: shape {shape:?} does not match its data");
                Some(values.chunks_exact(n * d).map(|chain| chain.chunks_exact(d).map(<[f64]>::to_vec).collect()).collect())
            }
        };
        let flat = |name: &str| -> anyhow::Result<Option<Vec<f64>>> { Ok(read_npy(dir, name)?.map(|(_, v)| v)) };
        let samples = match read_npy(dir, "samples")? {
            None => None,
            Some((shape, values)) => Some(rows(&shape, &values, "samples")?),
        };
        Ok(Self {
            draws,
            accept: flat("accept")?,
            log_weights: flat("log_weights")?,
            samples,
            final_log_weights: flat("final_log_weights")?,
        })
    }
}

/// The quality block of MCMC draws, `chains[chain][draw][latent]`: posterior mean and sd over
/// every draw, `ess` the smallest over the latents of the ESS of the mean (split chains,
/// ArviZ's `ess(method="mean")`; NaN for a latent that never moved), bulk and tail ESS (their
/// smallest), and `rhat` the largest rank-normalized split R-hat. A single chain's R-hat is
/// that of its two halves (which the function splits again: four quarters, so it is at least
/// as sensitive as a two-chain R-hat); ArviZ reports NaN for one chain, and the benchmark's rows
/// are single chains. The in-process and external rows all report these.
#[must_use]
pub fn mcmc_quality(chains: &[Vec<Vec<f64>>], acceptance_rate: Option<f64>, divergences: Option<u64>) -> Quality {
    use gen_runtime::diagnostics as diag;
    let latents = chains.first().and_then(|c| c.first()).map_or(0, Vec::len);
    let column = |j: usize| -> Vec<Vec<f64>> { chains.iter().map(|c| c.iter().map(|d| d[j]).collect()).collect() };
    let (mut mean, mut sd) = (Vec::new(), Vec::new());
    let (mut ess, mut bulk, mut tail, mut rhat) = (f64::INFINITY, f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    // NaN wins every min and max: a latent without a number makes the row's number unknown.
    let worst = |acc: f64, x: f64, better: fn(f64, f64) -> f64| if acc.is_nan() || x.is_nan() { f64::NAN } else { better(acc, x) };
    for j in 0..latents {
        let cols = column(j);
        let all: Vec<f64> = cols.iter().flatten().copied().collect();
        let (m, s) = crate::diagnostics::mean_sd(&all);
        mean.push(m);
        sd.push(s);
        let moved = all.iter().any(|&x| x != all[0]);
        let nan_unless_moved = |r: Result<f64, diag::DiagnosticsError>| if moved { r.unwrap_or(f64::NAN) } else { f64::NAN };
        ess = worst(ess, nan_unless_moved(diag::ess_mean(&cols)), f64::min);
        bulk = worst(bulk, nan_unless_moved(diag::ess_bulk(&cols)), f64::min);
        tail = worst(tail, nan_unless_moved(diag::ess_tail(&cols)), f64::min);
        let halves: Vec<Vec<f64>> = match &cols[..] {
            [one] => {
                let half = one.len() / 2;
                vec![one[..half].to_vec(), one[one.len() - half..].to_vec()]
            }
            _ => cols.clone(),
        };
        rhat = worst(rhat, nan_unless_moved(diag::rank_normalized_split_rhat(&halves)), f64::max);
    }
    let finite_or_none = |x: f64| (latents > 0).then_some(x);
    Quality {
        ess: finite_or_none(ess),
        ess_bulk: finite_or_none(bulk),
        ess_tail: finite_or_none(tail),
        rhat: finite_or_none(rhat),
        posterior_mean: Some(mean),
        posterior_sd: Some(sd),
        acceptance_rate,
        divergences,
        chains: Some(chains.len()),
        ..Quality::default()
    }
}

/// The quality block of importance sampling: log-ML (log of the mean weight), Kish ESS and,
/// when the particles are given, the self-normalized posterior mean and sd.
#[must_use]
pub fn is_quality(log_weights: &[f64], samples: Option<&[Vec<f64>]>) -> Quality {
    let max = log_weights.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = log_weights.iter().map(|lw| (lw - max).exp()).collect();
    let total: f64 = w.iter().sum();
    let log_ml = max + (total / log_weights.len() as f64).ln();
    let ess = total * total / w.iter().map(|x| x * x).sum::<f64>();
    let moments = samples.filter(|s| s.len() == w.len() && !s.is_empty()).map(|s| {
        let d = s[0].len();
        let mean: Vec<f64> = (0..d).map(|j| s.iter().zip(&w).map(|(x, w)| w * x[j]).sum::<f64>() / total).collect();
        let sd: Vec<f64> =
            (0..d).map(|j| (s.iter().zip(&w).map(|(x, w)| w * (x[j] - mean[j]).powi(2)).sum::<f64>() / total).sqrt()).collect();
        (mean, sd)
    });
    let (posterior_mean, posterior_sd) = moments.map_or((None, None), |(m, s)| (Some(m), Some(s)));
    Quality { log_ml: Some(log_ml), ess: Some(ess), posterior_mean, posterior_sd, ..Quality::default() }
}

/// Kish ESS of a particle filter's last-step log weights (before resampling).
#[must_use]
pub fn kish_ess(log_weights: &[f64]) -> f64 {
    is_quality(log_weights, None).ess.unwrap_or(f64::NAN)
}

/// Replaces a row's self-reported quality numbers with the ones computed here from its raw
/// output, where the raw output has them; keeps the rest (the framework's own log-ML of a
/// particle filter, ELBO, divergences). Returns which numbers were recomputed.
#[must_use]
pub fn recompute(mut quality: Quality, raw: &RawOutput) -> (Quality, Vec<&'static str>) {
    let mut done = Vec::new();
    if let Some(draws) = &raw.draws {
        let acceptance =
            raw.accept.as_ref().filter(|a| !a.is_empty()).map(|a| a.iter().sum::<f64>() / a.len() as f64).or(quality.acceptance_rate);
        quality = Quality { log_ml: quality.log_ml, elbo: quality.elbo, ..mcmc_quality(draws, acceptance, quality.divergences) };
        done.extend(["posterior mean and sd", "ESS (mean, bulk, tail)", "R-hat", "acceptance rate"]);
    }
    if let Some(lw) = &raw.log_weights {
        let q = is_quality(lw, raw.samples.as_deref());
        quality.log_ml = q.log_ml;
        quality.ess = q.ess;
        if q.posterior_mean.is_some() {
            (quality.posterior_mean, quality.posterior_sd) = (q.posterior_mean, q.posterior_sd);
        }
        done.extend(["log-ML", "Kish ESS", "weighted moments"]);
    }
    if let Some(lw) = &raw.final_log_weights {
        quality.ess = Some(kish_ess(lw));
        done.push("Kish ESS of the last step");
    }
    (quality, done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn importance_weights_give_the_log_mean_weight_and_kish_ess() {
        let q = is_quality(&[0.0, 0.0, 2f64.ln(), 0.0], Some(&[vec![1.0], vec![1.0], vec![4.0], vec![1.0]]));
        // Weights 1, 1, 2, 1: mean 1.25, Kish 25 / 7, weighted mean (1 + 1 + 8 + 1) / 5.
        assert!((q.log_ml.unwrap() - 1.25f64.ln()).abs() < 1e-12);
        assert!((q.ess.unwrap() - 25.0 / 7.0).abs() < 1e-12);
        assert!((q.posterior_mean.unwrap()[0] - 2.2).abs() < 1e-12);
    }

    /// The same (chains, draws, latents) array written in C order and in Fortran order (as
    /// Julia's NPZ.jl writes it) reads back as the same draws.
    #[test]
    fn fortran_ordered_files_read_as_their_c_ordered_twin() {
        use npyz::WriterBuilder;
        let dir = std::env::temp_dir().join(format!("raw-order-{}", std::process::id()));
        let (c_dir, f_dir) = (dir.join("c"), dir.join("f"));
        std::fs::create_dir_all(&c_dir).unwrap();
        std::fs::create_dir_all(&f_dir).unwrap();
        let (chains, draws, latents) = (2usize, 5usize, 3usize);
        let value = |c: usize, n: usize, d: usize| (100 * c + 10 * n + d) as f64;
        let write = |path: std::path::PathBuf, order: npyz::Order, data: Vec<f64>| {
            let mut bytes = Vec::new();
            let mut w = npyz::WriteOptions::new().default_dtype().shape(&[chains as u64, draws as u64, latents as u64]).order(order).writer(&mut bytes).begin_nd().unwrap();
            w.extend(data).unwrap();
            w.finish().unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        let c_data = (0..chains).flat_map(|c| (0..draws).flat_map(move |n| (0..latents).map(move |d| value(c, n, d)))).collect();
        let f_data = (0..latents).flat_map(|d| (0..draws).flat_map(move |n| (0..chains).map(move |c| value(c, n, d)))).collect();
        write(c_dir.join("draws.npy"), npyz::Order::C, c_data);
        write(f_dir.join("draws.npy"), npyz::Order::Fortran, f_data);
        let (c, f) = (RawOutput::read(&c_dir).unwrap().draws.unwrap(), RawOutput::read(&f_dir).unwrap().draws.unwrap());
        assert_eq!(c[1][4], vec![140.0, 141.0, 142.0]);
        assert_eq!(c, f);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_latent_that_never_moved_has_no_ess_or_rhat() {
        let chain: Vec<Vec<f64>> = (0..100).map(|i| vec![f64::from(i % 7), 3.0]).collect();
        let q = mcmc_quality(&[chain], Some(0.0), Some(0));
        assert!(q.ess.unwrap().is_nan() && q.rhat.unwrap().is_nan());
        assert_eq!(q.posterior_mean.unwrap()[1], 3.0);
    }
}
