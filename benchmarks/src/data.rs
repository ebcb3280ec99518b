//! The standard data sets: generation (fixed seed, byte-for-byte reproducible) and loading.
//!
//! `data/README.md` is the contract; `data/datasets.json` holds every hyperparameter so that no
//! framework hard-codes one. Each file is drawn from its own ChaCha20 stream seeded with the
//! spec's seed (42), so regenerating one file never shifts the numbers of another, and the two
//! noise levels of a polynomial size share one noise realisation (only its scale differs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// Errors from reading the data sets; every variant names the file, and the line where one applies.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file is missing or unreadable.
    #[error("cannot read {}: {reason} (run `benchmarks data` to regenerate the data sets)", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why it could not be read (in the message, so not repeated as a source).
        reason: std::io::Error,
    },
    /// A data set that `datasets.json` does not list (a size or noise level with no file).
    #[error("no data set with {what}: data/datasets.json lists {available}; to add one, add it there and run `benchmarks data`")]
    NotListed {
        /// What was asked for, e.g. `n = 7 points`.
        what: String,
        /// What exists.
        available: String,
    },
    /// A row that does not parse or is out of the model's support.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line number in the file (the header is line 1).
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The file parses but does not match `datasets.json` (row count, header).
    #[error("{}: {message}", path.display())]
    Inconsistent {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A hyperparameter of `datasets.json` outside what its model allows.
    #[error("{}: `{key}` {requirement}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where in the file, e.g. `hmm.transition[1]`.
        key: String,
        /// What it must be, and what it is.
        requirement: String,
    },
    /// Writing a generated file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Everything in `data/datasets.json`: the hyperparameters of every model and how its data were drawn.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatasetsSpec {
    /// Polynomial regression.
    pub polynomial: PolynomialSpec,
    /// Beta-Bernoulli.
    pub beta_bernoulli: BetaBernoulliSpec,
    /// Discrete hidden Markov model.
    pub hmm: HmmSpec,
    /// Linear-Gaussian state-space model.
    pub lgssm: LgssmSpec,
    /// SHA-256 (hex) of every data file by file name: written by `benchmarks data` and checked
    /// on load, so a file edited or cut short (a last number cut in half still parses) is
    /// refused instead of read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checksums: BTreeMap<String, String>,
}

/// Polynomial regression: (a, b, c) ~ Normal(0, prior_sd); y_i ~ Normal(a + b x_i + c x_i^2, noise sd).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolynomialSpec {
    /// The coefficients (a, b, c) the data were drawn from.
    pub true_coeffs: Vec<f64>,
    /// Prior standard deviation of each coefficient.
    pub prior_sd: f64,
    /// Observation noise standard deviations, one data set each.
    pub noise_sds: Vec<f64>,
    /// Data sizes n; x = linspace(0, 1, n).
    pub sizes: Vec<usize>,
    /// Seed of each file's ChaCha20 stream.
    pub seed: u64,
}

/// Beta-Bernoulli: p ~ Beta(alpha, beta); y_i ~ Bernoulli(p).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BetaBernoulliSpec {
    /// Prior shape alpha.
    pub alpha: f64,
    /// Prior shape beta.
    pub beta: f64,
    /// The success probability the observations were drawn with.
    pub p_true: f64,
    /// Number of observations.
    pub n: usize,
    /// Seed.
    pub seed: u64,
}

/// Discrete HMM; rows of `transition` and `emission` are indexed by the current hidden state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HmmSpec {
    /// Distribution of z_1.
    pub initial: Vec<f64>,
    /// `transition[i][j]` = p(z_t = j | z_{t-1} = i).
    pub transition: Vec<Vec<f64>>,
    /// `emission[i][k]` = p(y_t = k | z_t = i).
    pub emission: Vec<Vec<f64>>,
    /// Number of time steps.
    #[serde(rename = "T")]
    pub t: usize,
    /// Seed.
    pub seed: u64,
}

/// LGSSM: x_1 ~ N(x1_mean, x1_sd^2), x_t = a x_{t-1} + N(0, q^2), y_t = x_t + N(0, r^2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LgssmSpec {
    /// State transition coefficient.
    pub a: f64,
    /// State noise standard deviation.
    pub q: f64,
    /// Observation noise standard deviation.
    pub r: f64,
    /// Mean of x_1.
    pub x1_mean: f64,
    /// Standard deviation of x_1.
    pub x1_sd: f64,
    /// Number of time steps.
    #[serde(rename = "T")]
    pub t: usize,
    /// Seed.
    pub seed: u64,
}

impl DatasetsSpec {
    /// The standard configuration of `data/README.md`.
    #[must_use]
    pub fn standard() -> Self {
        let third = 1.0 / 3.0;
        Self {
            polynomial: PolynomialSpec {
                true_coeffs: vec![0.5, -1.25, 2.0],
                prior_sd: 1.0,
                noise_sds: vec![0.05, 1.0],
                sizes: vec![10, 50, 100, 500, 1000],
                seed: 42,
            },
            beta_bernoulli: BetaBernoulliSpec { alpha: 2.0, beta: 2.0, p_true: 0.7, n: 50, seed: 42 },
            hmm: HmmSpec {
                initial: vec![third, third, third],
                transition: vec![vec![0.8, 0.1, 0.1], vec![0.1, 0.8, 0.1], vec![0.1, 0.1, 0.8]],
                emission: vec![vec![0.7, 0.1, 0.1, 0.1], vec![0.1, 0.7, 0.1, 0.1], vec![0.1, 0.1, 0.4, 0.4]],
                t: 50,
                seed: 42,
            },
            lgssm: LgssmSpec { a: 0.9, q: 0.5, r: 1.0, x1_mean: 0.0, x1_sd: 1.0, t: 100, seed: 42 },
            checksums: BTreeMap::new(),
        }
    }
}

/// Largest |sum - 1| of a probability vector in `datasets.json` (relative to its sum of 1).
pub const PROBABILITY_SUM_TOLERANCE: f64 = 1e-9;

/// A key of `datasets.json` and what is wrong with its value.
type SpecProblem = (String, String);

impl DatasetsSpec {
    /// Checks every hyperparameter against its model's support, so that no exact reference,
    /// generator or sampler is ever handed an impossible model: shapes and sds > 0, HMM matrices
    /// of matching shapes whose rows are probability vectors, data sizes and lengths >= 1.
    ///
    /// # Errors
    /// The first offending key (`beta_bernoulli.alpha`, `hmm.transition[1]`, ...) and what it must be.
    pub fn validate(&self) -> Result<(), SpecProblem> {
        let p = &self.polynomial;
        if p.true_coeffs.len() != 3 {
            return Err(("polynomial.true_coeffs".into(), format!("must hold 3 coefficients (a, b, c), found {}", p.true_coeffs.len())));
        }
        for (i, &c) in p.true_coeffs.iter().enumerate() {
            finite(&format!("polynomial.true_coeffs[{i}]"), c)?;
        }
        positive("polynomial.prior_sd", p.prior_sd)?;
        for (i, &sd) in p.noise_sds.iter().enumerate() {
            positive(&format!("polynomial.noise_sds[{i}]"), sd)?;
        }
        for (i, &n) in p.sizes.iter().enumerate() {
            at_least_one(&format!("polynomial.sizes[{i}]"), n)?;
        }
        let b = &self.beta_bernoulli;
        positive("beta_bernoulli.alpha", b.alpha)?;
        positive("beta_bernoulli.beta", b.beta)?;
        if !(0.0..=1.0).contains(&b.p_true) {
            return Err(("beta_bernoulli.p_true".into(), format!("must be a probability in [0, 1], found {}", b.p_true)));
        }
        let h = &self.hmm;
        let states = h.initial.len();
        if states == 0 {
            return Err(("hmm.initial".into(), "must give at least one state".into()));
        }
        probability_vector("hmm.initial", &h.initial)?;
        shape("hmm.transition", &h.transition, states, states)?;
        let symbols = h.emission.first().map_or(0, Vec::len).max(1);
        shape("hmm.emission", &h.emission, states, symbols)?;
        for (i, row) in h.transition.iter().enumerate() {
            probability_vector(&format!("hmm.transition[{i}]"), row)?;
        }
        for (i, row) in h.emission.iter().enumerate() {
            probability_vector(&format!("hmm.emission[{i}]"), row)?;
        }
        at_least_one("hmm.T", h.t)?;
        let l = &self.lgssm;
        finite("lgssm.a", l.a)?;
        finite("lgssm.x1_mean", l.x1_mean)?;
        positive("lgssm.q", l.q)?;
        positive("lgssm.r", l.r)?;
        positive("lgssm.x1_sd", l.x1_sd)?;
        at_least_one("lgssm.T", l.t)
    }
}

fn finite(key: &str, v: f64) -> Result<(), SpecProblem> {
    if v.is_finite() {
        Ok(())
    } else {
        Err((key.to_owned(), format!("must be a finite number, found {v}")))
    }
}

fn positive(key: &str, v: f64) -> Result<(), SpecProblem> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err((key.to_owned(), format!("must be a finite number > 0, found {v}")))
    }
}

fn at_least_one(key: &str, n: usize) -> Result<(), SpecProblem> {
    if n >= 1 {
        Ok(())
    } else {
        Err((key.to_owned(), "must be at least 1, found 0".to_owned()))
    }
}

/// `matrix` must be `rows` x `columns` (rows indexed by the hidden state).
fn shape(key: &str, matrix: &[Vec<f64>], rows: usize, columns: usize) -> Result<(), SpecProblem> {
    if matrix.len() != rows {
        return Err((key.to_owned(), format!("must have one row per hidden state ({rows}, from hmm.initial), found {}", matrix.len())));
    }
    match matrix.iter().position(|r| r.len() != columns) {
        Some(i) => Err((format!("{key}[{i}]"), format!("must have {columns} entries like the other rows, found {}", matrix[i].len()))),
        None => Ok(()),
    }
}

fn probability_vector(key: &str, row: &[f64]) -> Result<(), SpecProblem> {
    if let Some((j, &v)) = row.iter().enumerate().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
        return Err((format!("{key}[{j}]"), format!("must be a probability >= 0, found {v}")));
    }
    let sum: f64 = row.iter().sum();
    if (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
        return Err((key.to_owned(), format!("must sum to 1 (within {PROBABILITY_SUM_TOLERANCE:e}), sums to {sum}")));
    }
    Ok(())
}

/// The spelling of a noise level in file names and on the command line: `0.05`, `1.0`.
#[must_use]
pub fn format_noise_sd(sd: f64) -> String {
    if sd.fract() == 0.0 {
        format!("{sd:.1}")
    } else {
        format!("{sd}")
    }
}

/// File name of the polynomial data set with `n` points and noise `sd`.
#[must_use]
pub fn polynomial_file_name(n: usize, sd: f64) -> String {
    format!("polynomial_n{n}_sd{}.csv", format_noise_sd(sd))
}

/// File name of the Beta-Bernoulli observations.
pub const BETA_BERNOULLI_FILE: &str = "beta_bernoulli.csv";
/// File name of the HMM observations.
pub const HMM_FILE: &str = "hmm.csv";
/// File name of the LGSSM observations.
pub const LGSSM_FILE: &str = "lgssm.csv";
/// File name of the hyperparameters.
pub const SPEC_FILE: &str = "datasets.json";

/// x = linspace(0, 1, n), computed as i / (n - 1) so that the end points are exact.
#[must_use]
pub fn linspace01(n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![0.0],
        _ => (0..n).map(|i| i as f64 / (n - 1) as f64).collect(),
    }
}

/// Writes every data set and `datasets.json` (with the files' checksums) into `dir`; returns
/// the files written.
///
/// Floats are written with Rust's shortest round-tripping formatting, so reading them back gives
/// the identical f64, and the output is byte-for-byte identical from run to run.
pub fn generate(dir: &Path, spec: &DatasetsSpec) -> Result<Vec<PathBuf>, DataError> {
    fs::create_dir_all(dir).map_err(|source| DataError::Write { path: dir.to_path_buf(), source })?;
    let mut written = Vec::new();
    let mut checksums = BTreeMap::new();
    let mut write = |name: &str, contents: String| -> Result<(), DataError> {
        let path = dir.join(name);
        fs::write(&path, &contents).map_err(|source| DataError::Write { path: path.clone(), source })?;
        checksums.insert(name.to_owned(), sha256_hex(contents.as_bytes()));
        written.push(path);
        Ok(())
    };

    let poly = &spec.polynomial;
    for &sd in &poly.noise_sds {
        for &n in &poly.sizes {
            write(&polynomial_file_name(n, sd), polynomial_csv(poly, n, sd))?;
        }
    }
    write(BETA_BERNOULLI_FILE, beta_bernoulli_csv(&spec.beta_bernoulli))?;
    write(HMM_FILE, hmm_csv(&spec.hmm))?;
    write(LGSSM_FILE, lgssm_csv(&spec.lgssm))?;
    let spec = DatasetsSpec { checksums, ..spec.clone() };
    let mut json = serde_json::to_string_pretty(&spec).expect("the spec is plain data");
    json.push('\n');
    let path = dir.join(SPEC_FILE);
    fs::write(&path, json).map_err(|source| DataError::Write { path: path.clone(), source })?;
    written.push(path);
    Ok(written)
}

/// SHA-256 of `bytes`, lower-case hex (as `sha256sum` prints it).
#[must_use]
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

fn polynomial_csv(spec: &PolynomialSpec, n: usize, sd: f64) -> String {
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let [a, b, c] = [spec.true_coeffs[0], spec.true_coeffs[1], spec.true_coeffs[2]];
    let mut out = String::from("x,y\n");
    for x in linspace01(n) {
        let eps: f64 = rng.sample(StandardNormal);
        let y = a + b * x + c * x * x + sd * eps;
        writeln!(out, "{x},{y}").expect("writing to a String cannot fail");
    }
    out
}

fn beta_bernoulli_csv(spec: &BetaBernoulliSpec) -> String {
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let mut out = String::from("y\n");
    for _ in 0..spec.n {
        let y = u8::from(rng.random::<f64>() < spec.p_true);
        writeln!(out, "{y}").expect("writing to a String cannot fail");
    }
    out
}

/// Index drawn from the probability vector `probs` with one uniform variate.
fn categorical(rng: &mut impl Rng, probs: &[f64]) -> usize {
    let u: f64 = rng.random();
    let mut cumulative = 0.0;
    for (k, p) in probs.iter().enumerate() {
        cumulative += p;
        if u < cumulative {
            return k;
        }
    }
    probs.len() - 1
}

fn hmm_csv(spec: &HmmSpec) -> String {
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let mut out = String::from("t,y\n");
    let mut z = categorical(&mut rng, &spec.initial);
    for t in 1..=spec.t {
        if t > 1 {
            z = categorical(&mut rng, &spec.transition[z]);
        }
        let y = categorical(&mut rng, &spec.emission[z]);
        writeln!(out, "{t},{y}").expect("writing to a String cannot fail");
    }
    out
}

fn lgssm_csv(spec: &LgssmSpec) -> String {
    let mut rng = ChaCha20Rng::seed_from_u64(spec.seed);
    let mut out = String::from("t,y\n");
    let mut x = spec.x1_mean + spec.x1_sd * rng.sample::<f64, _>(StandardNormal);
    for t in 1..=spec.t {
        if t > 1 {
            x = spec.a * x + spec.q * rng.sample::<f64, _>(StandardNormal);
        }
        let y = x + spec.r * rng.sample::<f64, _>(StandardNormal);
        writeln!(out, "{t},{y}").expect("writing to a String cannot fail");
    }
    out
}

/// Polynomial observations with their model constants.
#[derive(Clone, Debug)]
pub struct PolynomialData {
    /// Inputs x_i.
    pub x: Vec<f64>,
    /// Observations y_i.
    pub y: Vec<f64>,
    /// Observation noise standard deviation (known).
    pub noise_sd: f64,
    /// Prior standard deviation of a, b, c.
    pub prior_sd: f64,
}

/// Beta-Bernoulli observations with the prior.
#[derive(Clone, Debug)]
pub struct BetaBernoulliData {
    /// Observations, 0 or 1.
    pub y: Vec<u8>,
    /// Prior shape alpha.
    pub alpha: f64,
    /// Prior shape beta.
    pub beta: f64,
}

/// HMM observations (symbol indices from 0) with the model parameters.
#[derive(Clone, Debug)]
pub struct HmmData {
    /// Observed symbols y_1..y_T as 0-based indices into an emission row.
    pub y: Vec<usize>,
    /// Parameters.
    pub spec: HmmSpec,
}

/// LGSSM observations with the model parameters.
#[derive(Clone, Debug)]
pub struct LgssmData {
    /// Observations y_1..y_T.
    pub y: Vec<f64>,
    /// Parameters.
    pub spec: LgssmSpec,
}

/// One loaded data set, the input of a benchmark task.
#[derive(Clone, Debug)]
pub enum DataSet {
    /// Polynomial regression.
    Polynomial(PolynomialData),
    /// Beta-Bernoulli.
    BetaBernoulli(BetaBernoulliData),
    /// Discrete HMM.
    Hmm(HmmData),
    /// LGSSM.
    Lgssm(LgssmData),
}

impl DataSet {
    /// Number of observations (n for regression and Beta-Bernoulli, T for the state-space models).
    #[must_use]
    pub fn len(&self) -> usize {
        match self {
            Self::Polynomial(d) => d.y.len(),
            Self::BetaBernoulli(d) => d.y.len(),
            Self::Hmm(d) => d.y.len(),
            Self::Lgssm(d) => d.y.len(),
        }
    }

    /// Whether there are no observations.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads `datasets.json` from `dir` and checks it ([`DatasetsSpec::validate`]).
pub fn load_spec(dir: &Path) -> Result<DatasetsSpec, DataError> {
    let path = dir.join(SPEC_FILE);
    let text = fs::read_to_string(&path).map_err(|reason| DataError::Unreadable { path: path.clone(), reason })?;
    let spec: DatasetsSpec =
        serde_json::from_str(&text).map_err(|e| DataError::Malformed { path: path.clone(), line: e.line() as u64, message: e.to_string() })?;
    spec.validate().map_err(|(key, requirement)| DataError::Invalid { path, key, requirement })?;
    Ok(spec)
}

/// Loads `polynomial_n{n}_sd{sd}.csv` and checks it has `n` rows; `n` and `noise_sd` must be
/// among the sizes and noise levels `datasets.json` lists.
pub fn load_polynomial(dir: &Path, spec: &DatasetsSpec, n: usize, noise_sd: f64) -> Result<PolynomialData, DataError> {
    let p = &spec.polynomial;
    let list = |items: Vec<String>| items.join(", ");
    if !p.sizes.contains(&n) {
        let available = format!("the sizes {} (`polynomial.sizes`)", list(p.sizes.iter().map(ToString::to_string).collect()));
        return Err(DataError::NotListed { what: format!("n = {n} points"), available });
    }
    if !p.noise_sds.contains(&noise_sd) {
        let available = format!("the noise levels {} (`polynomial.noise_sds`)", list(p.noise_sds.iter().map(|&sd| format_noise_sd(sd)).collect()));
        return Err(DataError::NotListed { what: format!("noise sd {}", format_noise_sd(noise_sd)), available });
    }
    let path = dir.join(polynomial_file_name(n, noise_sd));
    let rows = read_table(&path, spec, &["x", "y"], |_, _, v| Ok(v))?;
    expect_rows(&path, rows.len(), n)?;
    let (x, y) = rows.into_iter().map(|r| (r[0], r[1])).unzip();
    Ok(PolynomialData { x, y, noise_sd, prior_sd: spec.polynomial.prior_sd })
}

/// Loads `beta_bernoulli.csv`; every y must be 0 or 1.
pub fn load_beta_bernoulli(dir: &Path, spec: &DatasetsSpec) -> Result<BetaBernoulliData, DataError> {
    let path = dir.join(BETA_BERNOULLI_FILE);
    let rows = read_table(&path, spec, &["y"], |_, _, v| match v[0] {
        0.0 => Ok(0u8),
        1.0 => Ok(1u8),
        other => Err(format!("y = {other} is not 0 or 1")),
    })?;
    expect_rows(&path, rows.len(), spec.beta_bernoulli.n)?;
    Ok(BetaBernoulliData { y: rows, alpha: spec.beta_bernoulli.alpha, beta: spec.beta_bernoulli.beta })
}

/// Loads `hmm.csv`; every y must be a symbol index of the emission matrix.
pub fn load_hmm(dir: &Path, spec: &DatasetsSpec) -> Result<HmmData, DataError> {
    let path = dir.join(HMM_FILE);
    let n_symbols = spec.hmm.emission.first().map_or(0, Vec::len);
    let rows = read_table(&path, spec, &["t", "y"], |_, _, v| {
        let y = v[1];
        if y.fract() == 0.0 && y >= 0.0 && (y as usize) < n_symbols {
            Ok(y as usize)
        } else {
            Err(format!("y = {y} is not a symbol index in 0..{n_symbols}"))
        }
    })?;
    expect_rows(&path, rows.len(), spec.hmm.t)?;
    Ok(HmmData { y: rows, spec: spec.hmm.clone() })
}

/// Loads `lgssm.csv`.
pub fn load_lgssm(dir: &Path, spec: &DatasetsSpec) -> Result<LgssmData, DataError> {
    let path = dir.join(LGSSM_FILE);
    let rows = read_table(&path, spec, &["t", "y"], |_, _, v| Ok(v[1]))?;
    expect_rows(&path, rows.len(), spec.lgssm.t)?;
    Ok(LgssmData { y: rows, spec: spec.lgssm.clone() })
}

fn expect_rows(path: &Path, found: usize, expected: usize) -> Result<(), DataError> {
    if found == expected {
        Ok(())
    } else {
        Err(DataError::Inconsistent {
            path: path.to_path_buf(),
            message: format!("expected {expected} data rows (from datasets.json), found {found}"),
        })
    }
}

/// Reads a headed CSV of finite numbers with exactly `columns`, mapping each row through `check`
/// (which gets the path, the line and the parsed values and may reject the row), and checks the
/// file against its checksum in `spec` (after parsing, so a bad row is named by its line).
fn read_table<T>(
    path: &Path,
    spec: &DatasetsSpec,
    columns: &[&str],
    check: impl Fn(&Path, u64, Vec<f64>) -> Result<T, String>,
) -> Result<Vec<T>, DataError> {
    let bytes = fs::read(path).map_err(|reason| DataError::Unreadable { path: path.to_path_buf(), reason })?;
    let rows = parse_table(path, &bytes, columns, check)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let inconsistent = |message: String| DataError::Inconsistent { path: path.to_path_buf(), message };
    let Some(expected) = spec.checksums.get(name.as_ref()) else {
        return Err(inconsistent(format!("{SPEC_FILE} records no checksum for it; run `benchmarks data` to regenerate the data sets")));
    };
    let found = sha256_hex(&bytes);
    if &found != expected {
        return Err(inconsistent(format!(
            "its SHA-256 is {found} but {SPEC_FILE} records {expected}: the file changed since `benchmarks data` wrote it (edited, or cut short); restore it (`git checkout data/`) or regenerate the data sets with `benchmarks data`"
        )));
    }
    Ok(rows)
}

/// The rows of a headed CSV of finite numbers (see [`read_table`]).
fn parse_table<T>(path: &Path, bytes: &[u8], columns: &[&str], check: impl Fn(&Path, u64, Vec<f64>) -> Result<T, String>) -> Result<Vec<T>, DataError> {
    let malformed = |line: u64, message: String| DataError::Malformed { path: path.to_path_buf(), line, message };
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let header = reader.headers().map_err(|e| malformed(1, csv_message(&e)))?.clone();
    if header.iter().map(str::trim).ne(columns.iter().copied()) {
        return Err(malformed(1, format!("header is `{}`, expected `{}`", header.iter().collect::<Vec<_>>().join(","), columns.join(","))));
    }
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, csv::Position::line);
            malformed(line, csv_message(&e))
        })?;
        let line = record.position().map_or(0, csv::Position::line);
        let mut values = Vec::with_capacity(columns.len());
        for (field, name) in record.iter().zip(columns) {
            let value: f64 = field.trim().parse().map_err(|_| malformed(line, format!("column `{name}`: `{field}` is not a number")))?;
            if !value.is_finite() {
                return Err(malformed(line, format!("column `{name}`: `{field}` is not finite")));
            }
            values.push(value);
        }
        out.push(check(path, line, values).map_err(|message| malformed(line, message))?);
    }
    Ok(out)
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("{len} fields where the header has {expected_len}")
        }
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_has_exact_end_points() {
        let x = linspace01(5);
        assert_eq!(x, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn noise_levels_are_spelled_as_in_the_file_names() {
        assert_eq!(polynomial_file_name(10, 0.05), "polynomial_n10_sd0.05.csv");
        assert_eq!(polynomial_file_name(1000, 1.0), "polynomial_n1000_sd1.0.csv");
    }
}
