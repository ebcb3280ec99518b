//! The result of inference on a model: draws keyed by address, in the model's own space.
//!
//! Every one-call entry point ([`Conditioned`](super::Conditioned)'s `nuts`, `hmc`, `mala`,
//! `importance`, `advi`, `laplace`) returns a [`Posterior`]:
//!
//! - **draws per chain, by address, constrained**: `get("tau")` gives the draws of `tau`
//!   itself (not of `log tau`, which the sampler moved in); `get(("theta", 3))` one element of
//!   an indexed family; a vector-valued choice (an `iid` latent, a simplex) has one column per
//!   element, `element("z", 7)`.
//! - **weights** for importance sampling: one "chain" of N particles with their log weights;
//!   every summary is then self-normalized (weighted mean, sd and quantiles; Kish's ESS).
//! - **the sampler's statistics** for MCMC ([`Posterior::samples`]): divergences,
//!   acceptance, step sizes, mass matrices, tree depths, per chain.
//! - **the approximation** for variational inference and Laplace
//!   ([`Posterior::approximation`]): the fitted Gaussian in unconstrained coordinates (and
//!   the ELBO history); the draws are one chain of independent draws from it.
//! - [`Posterior::summary`]: a table with one row per scalar (mean, sd, 5/50/95% quantiles,
//!   MCSE of the mean, bulk and tail ESS, rank-normalized split R-hat), the columns of
//!   NumPyro's `print_summary` and ArviZ's `az.summary`, from [`crate::diagnostics`].
//! - [`Posterior::write_cmdstan_csv`]: one CSV per chain in CmdStan's layout, which ArviZ's
//!   `from_cmdstan`, CmdStanPy and posterior (R) read.
//!
//! Names: in the summary and in messages a column is named as the address reads in Rust,
//! with indices in brackets (`mu`, `theta[3]`, `sub/a`, `z[7]` for element 7 of the vector
//! at `z`). In CSV files, names follow CmdStan: indices are 1-based and dot-separated
//! (`theta.4` is `("theta", 3)`), and the parts of a nested address are joined by `:` (Stan's
//! separator for tuple members), since `/` and `.` would be read as indices.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::address::{Address, IntoAddress, Part};
use crate::diagnostics::{quantile, DiagnosticsError, Summary, SummaryRow};
use crate::native::Particles;

use super::map::{Laplace, Mode};
use super::target::Samples;
use super::vi::VariationalFit;
use super::weights::{ess, normalize};

/// The Gaussian a [`Posterior`] was drawn from, when it came from an approximation rather than
/// a sampler; in the target's unconstrained coordinates.
#[derive(Clone, Debug, PartialEq)]
pub enum Approximation {
    /// ADVI's fitted guide with its objective history.
    Variational(VariationalFit),
    /// A programmable guide's fitted parameters (see
    /// [`Conditioned::vi`](super::Conditioned::vi)).
    Guide(super::guide::GuideFit),
    /// The Laplace approximation at the mode.
    Laplace {
        /// The mode L-BFGS found (of the density in unconstrained coordinates, Jacobian
        /// included).
        mode: Mode,
        /// N(mode, H⁻¹).
        gaussian: Laplace,
    },
}

/// One scalar column of a [`Posterior`]: a choice's address, and the element for a
/// vector-valued choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The choice's address.
    pub address: Address,
    /// The element of a vector-valued choice; `None` for a scalar.
    pub element: Option<usize>,
}

impl Column {
    /// The name in the summary and in messages: `theta[3]`, `sub/a`, `z[7]`.
    #[must_use]
    pub fn label(&self) -> String {
        let mut out = String::new();
        for (i, part) in self.address.parts().iter().enumerate() {
            if i > 0 {
                out.push('/');
            }
            match part {
                Part::Name(n) => out.push_str(n),
                Part::Indexed(n, idx) => {
                    let idx: Vec<String> = idx.iter().map(i64::to_string).collect();
                    out.push_str(&format!("{n}[{}]", idx.join(",")));
                }
                Part::Index(i) => out.push_str(&i.to_string()),
            }
        }
        if let Some(k) = self.element {
            out.push_str(&format!("[{k}]"));
        }
        out
    }

    /// The name in CmdStan's CSV layout: the address's names joined by `:`, then every index
    /// (the address's, then the element's) 1-based after a dot: `("theta", 3)` is `theta.4`,
    /// `2/"x"` is `x.3`, element 7 of `z` is `z.8`.
    #[must_use]
    pub fn cmdstan_name(&self) -> String {
        let (mut names, mut indices) = (Vec::new(), Vec::new());
        for part in self.address.parts() {
            match part {
                Part::Name(n) => names.push(n.to_string()),
                Part::Indexed(n, idx) => {
                    names.push(n.to_string());
                    indices.extend(idx.iter().copied());
                }
                Part::Index(i) => indices.push(*i),
            }
        }
        indices.extend(self.element.map(|k| k as i64));
        let mut out = if names.is_empty() { "value".to_string() } else { names.join(":") };
        for i in indices {
            out.push_str(&format!(".{}", i + 1));
        }
        out
    }
}

/// Why a [`Posterior`] could not answer.
#[derive(Debug, thiserror::Error)]
pub enum PosteriorError {
    /// No latent at this address.
    #[error("the posterior has no draws at `{address}`; its latents are: {known}")]
    UnknownAddress {
        /// The address asked for.
        address: Address,
        /// The addresses it has, listed.
        known: String,
    },
    /// A vector-valued latent asked for as a scalar.
    #[error("`{address}` holds {len} values per draw; ask for one with `element({address:?}, k)`")]
    NotScalar {
        /// The address.
        address: Address,
        /// The number of values.
        len: usize,
    },
    /// An element past the end of a vector-valued latent.
    #[error("`{address}` has {len} elements; element {element} does not exist")]
    NoSuchElement {
        /// The address.
        address: Address,
        /// The element asked for.
        element: usize,
        /// The number of elements.
        len: usize,
    },
    /// A diagnostic could not be computed (too few draws, a non-finite draw).
    #[error(transparent)]
    Diagnostics(#[from] DiagnosticsError),
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// The draws of one scalar: `chains[c][i]` is draw `i` of chain `c`, the layout
/// [`crate::diagnostics`] takes; with importance weights for importance sampling.
#[derive(Clone, Debug, PartialEq)]
pub struct Draws {
    /// One vector of draws per chain.
    pub chains: Vec<Vec<f64>>,
    /// Normalized importance weights of the (single chain's) draws; `None` for MCMC.
    pub weights: Option<Vec<f64>>,
}

impl Draws {
    /// Every draw with its weight (1/n each for MCMC); particles of weight zero (invalid
    /// ones, whose latents are NaN) are left out.
    fn weighted(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        let n: usize = self.chains.iter().map(Vec::len).sum();
        let uniform = 1.0 / n as f64;
        self.chains
            .iter()
            .flatten()
            .enumerate()
            .map(move |(i, x)| (*x, self.weights.as_ref().map_or(uniform, |w| w[i])))
            .filter(|(_, w)| *w > 0.0)
    }

    /// The posterior mean (self-normalized with weights).
    #[must_use]
    pub fn mean(&self) -> f64 {
        self.weighted().map(|(x, w)| w * x).sum()
    }

    /// The posterior standard deviation: the sample sd (divisor n − 1) for MCMC, as ArviZ;
    /// the weighted sd for importance sampling.
    #[must_use]
    pub fn sd(&self) -> f64 {
        let m = self.mean();
        let ss: f64 = self.weighted().map(|(x, w)| w * (x - m) * (x - m)).sum();
        match self.weights {
            Some(_) => ss.sqrt(),
            None => {
                let n: usize = self.chains.iter().map(Vec::len).sum();
                (ss * n as f64 / (n as f64 - 1.0)).sqrt()
            }
        }
    }

    /// The `prob` quantile: type 7 (NumPy's default) for MCMC; for weighted draws, the
    /// smallest draw whose cumulative normalized weight reaches `prob`.
    ///
    /// # Errors
    /// As [`crate::diagnostics::quantile`].
    pub fn quantile(&self, prob: f64) -> Result<f64, DiagnosticsError> {
        let Some(weights) = &self.weights else { return quantile(&self.chains, prob) };
        let mut pairs: Vec<(f64, f64)> = self.weighted().collect();
        let _ = weights;
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut total = 0.0;
        for (x, w) in &pairs {
            total += w;
            if total >= prob {
                return Ok(*x);
            }
        }
        Ok(pairs.last().map_or(f64::NAN, |p| p.0))
    }

    /// Every draw, chains one after the other.
    pub fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        self.chains.iter().flatten().copied()
    }

    /// The summary row (see [`Posterior::summary`]).
    fn row(&self, name: String) -> Result<SummaryRow, DiagnosticsError> {
        let Some(weights) = &self.weights else { return SummaryRow::new(name, &self.chains) };
        // Self-normalized importance sampling: no chains to compare, and the ESS is Kish's
        // (Σw)²/Σw², which also gives the MCSE of the mean, sd/√ESS.
        let ess = 1.0 / weights.iter().map(|w| w * w).sum::<f64>();
        let sd = self.sd();
        Ok(SummaryRow {
            name,
            mean: self.mean(),
            sd,
            q5: self.quantile(0.05)?,
            q50: self.quantile(0.5)?,
            q95: self.quantile(0.95)?,
            mcse_mean: sd / ess.sqrt(),
            ess_bulk: ess,
            ess_tail: f64::NAN,
            r_hat: f64::NAN,
        })
    }
}

/// Draws from a posterior, by address, in the model's constrained space (see the module
/// documentation).
#[derive(Clone, Debug)]
pub struct Posterior {
    columns: Vec<Column>,
    /// `chains[c][i * columns.len() + j]`: draw `i` of chain `c`, column `j` (MCMC; empty for
    /// importance sampling, whose draws are the particles' rows).
    chains: Vec<Vec<f64>>,
    num_draws: usize,
    samples: Option<Samples>,
    particles: Option<Particles>,
    /// Boxed: a fitted guide or a Laplace approximation is large beside the other results.
    approximation: Option<Box<Approximation>>,
}

/// One draw of every latent of a [`Posterior`], as [`Posterior::derive`] passes it.
pub struct Draw<'a> {
    posterior: &'a Posterior,
    /// The draw's value of every column.
    row: &'a [f64],
}

impl Draw<'_> {
    /// The value of the scalar latent at `address` in this draw.
    ///
    /// # Errors
    /// As [`Posterior::get`].
    pub fn get(&self, address: impl IntoAddress) -> Result<f64, PosteriorError> {
        Ok(self.row[self.posterior.scalar_column(address.into_address())?])
    }

    /// The value of element `k` of the vector-valued latent at `address` in this draw.
    ///
    /// # Errors
    /// As [`Posterior::element`].
    pub fn element(&self, address: impl IntoAddress, k: usize) -> Result<f64, PosteriorError> {
        Ok(self.row[self.posterior.element_column(address.into_address(), k)?])
    }
}

impl Posterior {
    /// A posterior from MCMC: `samples` in the sampler's coordinates, `constrained[c]` chain
    /// `c`'s draws mapped to the model's space, row-major over `columns`.
    pub(crate) fn from_mcmc(columns: Vec<Column>, constrained: Vec<Vec<f64>>, samples: Samples) -> Self {
        Posterior { columns, chains: constrained, num_draws: samples.num_samples, samples: Some(samples), particles: None, approximation: None }
    }

    /// A posterior of independent draws from an approximation: `constrained` holds
    /// `num_draws` rows over `columns`, mapped to the model's space.
    pub(crate) fn from_approximation(columns: Vec<Column>, constrained: Vec<f64>, num_draws: usize, approximation: Approximation) -> Self {
        Posterior { columns, chains: vec![constrained], num_draws, samples: None, particles: None, approximation: Some(Box::new(approximation)) }
    }

    /// A posterior from importance sampling: one chain of weighted particles (its latent
    /// scalar columns).
    pub(crate) fn from_particles(particles: Particles) -> Self {
        let columns = particles.addresses.iter().map(|a| Column { address: a.clone(), element: None }).collect();
        let num_draws = particles.log_weights.len();
        // The draws stay in the particles (their latent rows), not copied: `particles()`
        // hands them out whole.
        Posterior { columns, chains: Vec::new(), num_draws, samples: None, particles: Some(particles), approximation: None }
    }

    /// Chain `c`'s draws, row-major over the columns (the particles' latent rows for
    /// importance sampling).
    fn chain(&self, c: usize) -> &[f64] {
        match &self.particles {
            Some(p) => &p.latents,
            None => &self.chains[c],
        }
    }

    /// The scalar columns, in the order of the model's choices.
    #[must_use]
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The addresses of the latents, each once, in the order of the model's choices.
    pub fn addresses(&self) -> impl Iterator<Item = &Address> {
        let mut last: Option<&Address> = None;
        self.columns.iter().filter_map(move |c| {
            let new = last != Some(&c.address);
            last = Some(&c.address);
            new.then_some(&c.address)
        })
    }

    /// The number of chains (1 for importance sampling).
    #[must_use]
    pub fn num_chains(&self) -> usize {
        if self.particles.is_some() {
            1
        } else {
            self.chains.len()
        }
    }

    /// Draws per chain (particles for importance sampling).
    #[must_use]
    pub fn num_draws(&self) -> usize {
        self.num_draws
    }

    fn column_draws(&self, j: usize) -> Draws {
        let width = self.columns.len();
        let chains = (0..self.num_chains()).map(|c| self.chain(c).iter().skip(j).step_by(width).copied().collect()).collect();
        Draws { chains, weights: self.weights() }
    }

    /// The normalized importance weights of the draws; `None` for MCMC.
    fn weights(&self) -> Option<Vec<f64>> {
        self.particles.as_ref().map(|p| normalize(&p.log_weights))
    }

    fn columns_of(&self, address: &Address) -> Result<std::ops::Range<usize>, PosteriorError> {
        let first = self.columns.iter().position(|c| c.address == *address).ok_or_else(|| PosteriorError::UnknownAddress {
            address: address.clone(),
            known: self.addresses().map(ToString::to_string).collect::<Vec<_>>().join(", "),
        })?;
        let len = self.columns[first..].iter().take_while(|c| c.address == *address).count();
        Ok(first..first + len)
    }

    /// The column of the scalar latent at `address` (see [`Posterior::get`]).
    fn scalar_column(&self, address: Address) -> Result<usize, PosteriorError> {
        let range = self.columns_of(&address)?;
        if self.columns[range.start].element.is_some() {
            return Err(PosteriorError::NotScalar { address, len: range.len() });
        }
        Ok(range.start)
    }

    /// The column of element `k` of the vector latent at `address` (see
    /// [`Posterior::element`]).
    fn element_column(&self, address: Address, k: usize) -> Result<usize, PosteriorError> {
        let range = self.columns_of(&address)?;
        if k >= range.len() || self.columns[range.start].element.is_none() {
            return Err(PosteriorError::NoSuchElement { address, element: k, len: range.len() });
        }
        Ok(range.start + k)
    }

    /// The draws of the scalar latent at `address`.
    ///
    /// # Errors
    /// No latent there ([`PosteriorError::UnknownAddress`], listing the ones there are), or a
    /// vector-valued one ([`PosteriorError::NotScalar`]).
    pub fn get(&self, address: impl IntoAddress) -> Result<Draws, PosteriorError> {
        Ok(self.column_draws(self.scalar_column(address.into_address())?))
    }

    /// The draws of element `k` of the vector-valued latent at `address`.
    ///
    /// # Errors
    /// No latent there, or fewer than `k + 1` elements.
    pub fn element(&self, address: impl IntoAddress, k: usize) -> Result<Draws, PosteriorError> {
        Ok(self.column_draws(self.element_column(address.into_address(), k)?))
    }

    /// A quantity computed from every draw's latents, as Stan's generated quantities are:
    /// `f` reads one draw by address ([`Draw::get`], [`Draw::element`]) and returns the
    /// quantity's value there. The result has the posterior's chains (and its importance
    /// weights), so its mean, sd and quantiles are the quantity's posterior ones, and for MCMC
    /// [`Summary::push`](crate::diagnostics::Summary::push) gives it a summary row with MCSE,
    /// ESS and R-hat.
    ///
    /// ```
    /// # use gen_runtime::prelude::*;
    /// # use gen_runtime::inference::NutsConfig;
    /// #[gen]
    /// fn model() {
    ///     let mu = normal(0.0, 1.0).at("mu");
    ///     let tau = half_normal(1.0).at("tau");
    ///     let z = normal(0.0, 1.0).at("z");
    ///     normal(mu + tau * z, 1.0).at("y");
    /// }
    /// let config = NutsConfig { num_warmup: 200, num_samples: 200, num_chains: 2, ..NutsConfig::default() };
    /// let posterior = model().condition(&choicemap! { "y" => 0.5 }).nuts(&config, Key::new(1))?;
    /// // theta = mu + tau z, draw by draw.
    /// let theta = posterior.derive(|draw| Ok(draw.get("mu")? + draw.get("tau")? * draw.get("z")?))?;
    /// assert_eq!(theta.chains.len(), 2);
    /// println!("theta: mean {:.2}, 90% interval [{:.2}, {:.2}]", theta.mean(), theta.quantile(0.05)?, theta.quantile(0.95)?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The first error `f` returns (an address that is not a latent, read as
    /// [`Posterior::get`] would report it).
    pub fn derive(&self, mut f: impl FnMut(&Draw<'_>) -> Result<f64, PosteriorError>) -> Result<Draws, PosteriorError> {
        let width = self.columns.len();
        let chains = (0..self.num_chains())
            .map(|c| {
                let chain = self.chain(c);
                (0..self.num_draws).map(|i| f(&Draw { posterior: self, row: &chain[i * width..(i + 1) * width] })).collect()
            })
            .collect::<Result<_, _>>()?;
        Ok(Draws { chains, weights: self.weights() })
    }

    /// The posterior mean of the scalar at `address` (see [`Draws::mean`]).
    ///
    /// # Errors
    /// As [`Posterior::get`].
    pub fn mean(&self, address: impl IntoAddress) -> Result<f64, PosteriorError> {
        Ok(self.get(address)?.mean())
    }

    /// The posterior sd of the scalar at `address` (see [`Draws::sd`]).
    ///
    /// # Errors
    /// As [`Posterior::get`].
    pub fn sd(&self, address: impl IntoAddress) -> Result<f64, PosteriorError> {
        Ok(self.get(address)?.sd())
    }

    /// One row per scalar column (see the module documentation). For importance sampling the
    /// rows are self-normalized, the ESS is Kish's, and tail ESS and R-hat are NaN.
    ///
    /// # Errors
    /// Too few draws for the diagnostics (4 per chain), or a non-finite draw, naming the
    /// column.
    pub fn summary(&self) -> Result<Summary, PosteriorError> {
        let mut summary = Summary::new();
        for (j, c) in self.columns.iter().enumerate() {
            let name = c.label();
            let row = self.column_draws(j).row(name.clone()).map_err(|source| DiagnosticsError::Parameter { name, source: Box::new(source) })?;
            summary.rows.push(row);
        }
        Ok(summary)
    }

    /// The sampler's draws (in its unconstrained coordinates) and statistics per chain:
    /// divergences, acceptance, step sizes, mass matrices. `None` for importance sampling.
    #[must_use]
    pub fn samples(&self) -> Option<&Samples> {
        self.samples.as_ref()
    }

    /// The importance-sampling particles' weights, log marginal likelihood and invalid count
    /// (their latent columns are this posterior's draws). `None` for MCMC.
    #[must_use]
    pub fn particles(&self) -> Option<&Particles> {
        self.particles.as_ref()
    }

    /// The Gaussian the draws came from, for variational inference and Laplace; `None` for
    /// samplers.
    #[must_use]
    pub fn approximation(&self) -> Option<&Approximation> {
        self.approximation.as_deref()
    }

    /// Divergent transitions after warm-up over all chains (0 for importance sampling).
    #[must_use]
    pub fn divergences(&self) -> usize {
        self.samples.as_ref().map_or(0, Samples::divergences)
    }

    /// Writes one CSV file per chain in CmdStan's layout, `{stem}_{c}.csv` for chain c = 1, 2,
    /// ... in `dir` (CmdStan's `output_1.csv` naming), and returns their paths.
    ///
    /// Each file opens with `#` comment lines giving the method, `num_samples`, `num_warmup`,
    /// `save_warmup = 0` and `thin = 1` (what ArviZ's `from_cmdstan` reads), then a header
    /// row: for MCMC Stan's sampler columns `lp__`, `accept_stat__`, `stepsize__`,
    /// `treedepth__`, `n_leapfrog__`, `divergent__`, `energy__`, then one column per scalar
    /// named as [`Column::cmdstan_name`]; for importance sampling `lp__` is replaced by
    /// `log_weight__`. Values are written with Rust's shortest round-trip formatting.
    ///
    /// # Errors
    /// A file that cannot be written ([`PosteriorError::Io`], naming it).
    pub fn write_cmdstan_csv(&self, dir: impl AsRef<Path>, stem: &str) -> Result<Vec<PathBuf>, PosteriorError> {
        let dir = dir.as_ref();
        let mut paths = Vec::with_capacity(self.num_chains());
        for c in 0..self.num_chains() {
            let path = dir.join(format!("{stem}_{}.csv", c + 1));
            let io = |source| PosteriorError::Io { path: path.clone(), source };
            let file = std::fs::File::create(&path).map_err(io)?;
            let mut out = std::io::BufWriter::new(file);
            self.write_chain(c, &mut out).and_then(|()| out.flush()).map_err(io)?;
            paths.push(path);
        }
        Ok(paths)
    }

    fn write_chain(&self, c: usize, out: &mut impl Write) -> std::io::Result<()> {
        let width = self.columns.len();
        let names: Vec<String> = self.columns.iter().map(Column::cmdstan_name).collect();
        writeln!(out, "# written by gen-runtime {}", env!("CARGO_PKG_VERSION"))?;
        let (method, warmup) = match (&self.samples, self.approximation.as_deref()) {
            (Some(s), _) => ("sample (MCMC)", s.chains[c].warmup_accept_prob.len()),
            (None, Some(Approximation::Variational(_))) => ("variational (ADVI draws)", 0),
            (None, Some(Approximation::Laplace { .. })) => ("laplace (draws)", 0),
            (None, Some(Approximation::Guide(_))) => ("variational (guide draws)", 0),
            (None, None) => ("importance sampling", 0),
        };
        writeln!(out, "# method = {method}")?;
        writeln!(out, "#   num_samples = {}", self.num_draws)?;
        writeln!(out, "#   num_warmup = {warmup}")?;
        writeln!(out, "#   save_warmup = 0")?;
        writeln!(out, "#   thin = 1")?;
        writeln!(out, "# chain_id = {}", c + 1)?;
        let draws = self.chain(c);
        match (&self.samples, &self.particles) {
            (Some(s), _) => {
                let chain = &s.chains[c];
                writeln!(out, "# Step size = {}", chain.step_size)?;
                writeln!(out, "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,{}", names.join(","))?;
                for i in 0..self.num_draws {
                    let depth = chain.tree_depth.get(i).copied().unwrap_or(0);
                    write!(
                        out,
                        "{},{},{},{},{},{},{}",
                        chain.log_density[i],
                        chain.accept_prob[i],
                        chain.step_size,
                        depth,
                        chain.num_leapfrog[i],
                        u8::from(chain.divergent[i]),
                        chain.energy[i]
                    )?;
                    for x in &draws[i * width..(i + 1) * width] {
                        write!(out, ",{x}")?;
                    }
                    writeln!(out)?;
                }
            }
            (None, Some(p)) => {
                writeln!(out, "log_weight__,{}", names.join(","))?;
                for i in 0..self.num_draws {
                    write!(out, "{}", p.log_weights[i])?;
                    for x in &draws[i * width..(i + 1) * width] {
                        write!(out, ",{x}")?;
                    }
                    writeln!(out)?;
                }
            }
            (None, None) => {
                // Independent draws from an approximation: `lp__` is 0, as in CmdStan's
                // variational output, whose draws have no sampler statistics.
                writeln!(out, "lp__,{}", names.join(","))?;
                for i in 0..self.num_draws {
                    write!(out, "0")?;
                    for x in &draws[i * width..(i + 1) * width] {
                        write!(out, ",{x}")?;
                    }
                    writeln!(out)?;
                }
            }
        }
        Ok(())
    }

    /// The Kish effective sample size of importance sampling's weights; for MCMC, the
    /// total number of draws.
    #[must_use]
    pub fn weight_ess(&self) -> f64 {
        self.particles.as_ref().map_or((self.num_draws * self.num_chains()) as f64, |p| ess(&p.log_weights))
    }
}

impl fmt::Display for Posterior {
    /// The summary table with a line on divergences, or why it could not be computed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.summary() {
            Ok(s) => write!(f, "{s}")?,
            Err(e) => writeln!(f, "(no summary: {e})")?,
        }
        if let Some(s) = &self.samples {
            writeln!(
                f,
                "{} chains x {} draws; {} divergent transitions; mean acceptance {:.3}",
                s.num_chains(),
                s.num_samples,
                s.divergences(),
                s.mean_accept_prob()
            )?;
        }
        match self.approximation.as_deref() {
            Some(Approximation::Variational(fit)) => writeln!(
                f,
                "{} draws from the fitted {:?} guide; {} steps, final ELBO estimate {:.4} (mean of the last 10%){}",
                self.num_draws,
                fit.guide,
                fit.history.len(),
                fit.final_estimate(fit.history.len() / 10),
                if fit.converged { "; converged" } else { "" }
            )?,
            Some(Approximation::Guide(fit)) => writeln!(
                f,
                "{} draws from the fitted guide ({} parameters); {} steps, final ELBO estimate {:.4} (mean of the last 10%)",
                self.num_draws,
                fit.params.values.len(),
                fit.history.len(),
                fit.final_estimate(fit.history.len() / 10)
            )?,
            Some(Approximation::Laplace { mode, .. }) => writeln!(
                f,
                "{} draws from the Laplace approximation at the mode (log density {:.4}, {} L-BFGS iterations, {})",
                self.num_draws, mode.log_density, mode.iterations, mode.termination
            )?,
            None => {}
        }
        if let Some(p) = &self.particles {
            writeln!(
                f,
                "{} particles; ESS {:.1}; log marginal likelihood {:.4} (se {:.4}); {} invalid",
                p.len(),
                p.ess(),
                p.log_marginal_likelihood(),
                p.log_marginal_likelihood_se(),
                p.invalid
            )?;
        }
        Ok(())
    }
}
