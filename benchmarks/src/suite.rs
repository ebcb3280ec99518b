//! A benchmark run: the grid of configurations of a suite, every framework over it, one row per
//! framework and configuration written as soon as it finishes, then the figures.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use crate::adapters::external::TimedOut;
use crate::adapters::{self, Adapter, Availability, RunResult};
use crate::data::{self, DataSet, DatasetsSpec};
use crate::export::{self, FrameworkInfo, Metadata, ResultFolder, ResultsWriter, RowStatus, RunState, SummaryRow};
use crate::interrupt::{self, Interrupted};
use crate::machine::{GitInfo, Machine};
use crate::models::{Config, Device, HmcConfig, Method, Model, Repeats, RoundShare, Task, ViConfig};
use crate::paths;
use crate::plots;
use crate::progress::Progress;
use crate::quality::{self, Reference};

/// Which configurations a run covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suite {
    /// Polynomial regression by importance sampling.
    PolynomialIs,
    /// Polynomial regression by fixed-step HMC.
    PolynomialHmc,
    /// Both polynomial methods.
    PolynomialAll,
    /// Polynomial regression by mean-field ADVI.
    PolynomialVi,
    /// Beta-Bernoulli by importance sampling.
    BetaBernoulli,
    /// The state-space models (discrete HMM and LGSSM) by SMC.
    Hmm,
    /// Everything.
    All,
    /// A smoke run on the correctness configuration with few repeats.
    Smoke,
}

impl Suite {
    /// Name used in result folders and metadata.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::PolynomialIs => "polynomial_is",
            Self::PolynomialHmc => "polynomial_hmc",
            Self::PolynomialAll => "polynomial_all",
            Self::PolynomialVi => "polynomial_vi",
            Self::BetaBernoulli => "beta_bernoulli",
            Self::Hmm => "hmm",
            Self::All => "all",
            Self::Smoke => "test",
        }
    }

    /// Default `--rounds`: how many rounds each configuration's repeats are split into. Two
    /// run every configuration as A B C then C B A, so a linear drift of the machine's speed
    /// cancels from the ratios, for one more start-up and compilation per external row.
    #[must_use]
    pub fn default_rounds(self) -> usize {
        match self {
            // The smoke run checks answers, not ratios: one round, one start-up per row.
            Self::Smoke => 1,
            _ => 2,
        }
    }

    /// Default wall-clock limit of one external run (a one-time build such as Stan's model
    /// compilation happens before it, outside it): short for the suites meant to finish in
    /// minutes, where one slow framework must not eat the budget (Pyro's and handcoded
    /// PyTorch's HMC take 14-30 s per call here, six calls a run, so theirs time out in `all`
    /// whatever the limit under three minutes; 30 s records that sooner).
    #[must_use]
    pub fn default_timeout_s(self) -> u64 {
        match self {
            Self::All => 30,
            Self::Smoke => 60,
            _ => 300,
        }
    }
}

/// Chains of the multi-chain NUTS rows (Stan's and CmdStan's default).
pub const NUTS_CHAINS: usize = 4;

/// Default particle counts for polynomial IS.
pub const DEFAULT_IS_PARTICLES: [usize; 3] = [100, 1000, 10_000];
/// Default particle count for Beta-Bernoulli IS (GenJAX paper, Fig. 16a).
pub const DEFAULT_BETA_BERNOULLI_PARTICLES: [usize; 1] = [2000];
/// Polynomial data sizes of the `all` suite.
pub const ALL_SIZES: [usize; 3] = [10, 100, 1000];
/// Polynomial IS particle counts of the `all` suite.
pub const ALL_IS_PARTICLES: [usize; 2] = [1000, 10_000];
/// ELBO draws per step (K) of the `polynomial-vi` suite.
pub const VI_ELBO_SAMPLES: [usize; 2] = [1, 10];
/// Default particle counts for the particle filters.
pub const DEFAULT_SMC_PARTICLES: [usize; 3] = [100, 1000, 10_000];

/// Options shared by every suite (the command line's run options).
#[derive(Clone, Debug, Serialize)]
pub struct RunOptions {
    /// Frameworks to run (`None`: all).
    pub frameworks: Option<Vec<String>>,
    /// Particle counts replacing every suite default.
    pub n_particles: Option<Vec<usize>>,
    /// Polynomial data sizes replacing the default (all sizes in datasets.json).
    pub data_sizes: Option<Vec<usize>>,
    /// Polynomial noise levels replacing the default (both).
    pub noise_sds: Option<Vec<f64>>,
    /// Timed repeats (`None`: automatic, see [`Repeats`]).
    pub repeats: Option<usize>,
    /// Requested device.
    pub device: Device,
    /// Result folder (`None`: a new `data/benchmark_<suite>_<timestamp>[_<k>]`).
    pub out: Option<PathBuf>,
    /// Clear the earlier results of a non-empty `out` instead of refusing it.
    pub overwrite: bool,
    /// Limit per external run, seconds (`None`: [`Suite::default_timeout_s`]).
    pub timeout_s: Option<u64>,
    /// Base seed.
    pub seed: u64,
    /// Skip drawing figures at the end.
    pub no_plots: bool,
    /// Rounds each configuration's repeats are split into, interleaved between frameworks
    /// (`None`: [`Suite::default_rounds`]).
    pub rounds: Option<usize>,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The result folder.
    pub dir: PathBuf,
    /// Figure folder, when figures were drawn.
    pub figures: Option<PathBuf>,
    /// Rows written.
    pub rows: usize,
    /// Rows that failed.
    pub failed: Vec<String>,
    /// Measured rows whose answer is not trustworthy.
    pub quality_failures: Vec<String>,
    /// Untrustworthy rows that carry a flag naming a known defect of the framework's release
    /// (e.g. `genjax-0.10.3-hmc-stale-gradient`): expected, reported, and no failure of the
    /// smoke run.
    pub known_defects: Vec<String>,
    /// Frameworks skipped, with the reason.
    pub skipped: Vec<String>,
    /// Frameworks named in `--frameworks` that produced no row, with the reason.
    pub without_rows: Vec<String>,
    /// Whether a stop request cut the run short.
    pub interrupted: bool,
}

impl Outcome {
    /// Nothing recorded yet, for the result folder `dir`.
    fn new(dir: PathBuf) -> Self {
        Outcome {
            dir,
            figures: None,
            rows: 0,
            failed: Vec::new(),
            quality_failures: Vec::new(),
            known_defects: Vec::new(),
            skipped: Vec::new(),
            without_rows: Vec::new(),
            interrupted: false,
        }
    }
}

/// The configurations of `suite` under `opts`, grouped by model and method: each suite's grid
/// of sizes, noise levels, particle counts and methods, built by the functions below.
#[must_use]
pub fn configurations(suite: Suite, opts: &RunOptions, spec: &DatasetsSpec) -> Vec<Config> {
    let sizes = opts.data_sizes.clone().unwrap_or_else(|| spec.polynomial.sizes.clone());
    let noise = opts.noise_sds.clone().unwrap_or_else(|| spec.polynomial.noise_sds.clone());
    let particles = |default: &[usize]| opts.n_particles.clone().unwrap_or_else(|| default.to_vec());
    let mut out = Vec::new();
    // Fixed-step HMC (the case study's configuration) and NUTS with adaptation, for quality
    // per second.
    let hmc = if suite == Suite::Smoke { HmcConfig::smoke() } else { HmcConfig::default() };
    match suite {
        Suite::PolynomialIs => polynomial_is(&mut out, &sizes, &noise, &particles(&DEFAULT_IS_PARTICLES)),
        Suite::PolynomialHmc => {
            polynomial_mcmc(&mut out, &sizes, &noise, &[Method::Hmc, Method::Nuts], hmc);
            nuts_chains(&mut out, &sizes, &noise, hmc);
        }
        Suite::PolynomialAll => {
            polynomial_is(&mut out, &sizes, &noise, &particles(&DEFAULT_IS_PARTICLES));
            polynomial_mcmc(&mut out, &sizes, &noise, &[Method::Hmc, Method::Nuts], hmc);
            nuts_chains(&mut out, &sizes, &noise, hmc);
        }
        Suite::PolynomialVi => polynomial_vi(&mut out, &sizes, &noise, &VI_ELBO_SAMPLES),
        Suite::BetaBernoulli => beta_bernoulli(&mut out, &particles(&DEFAULT_BETA_BERNOULLI_PARTICLES), spec),
        Suite::Hmm => state_space(&mut out, &particles(&DEFAULT_SMC_PARTICLES), spec),
        Suite::All => {
            // Every external configuration is a subprocess paying interpreter start-up and
            // compilation, so the main job takes every third size and the two larger particle
            // counts; the single suites cover the full grid.
            let sizes = opts.data_sizes.clone().unwrap_or_else(|| ALL_SIZES.to_vec());
            polynomial_is(&mut out, &sizes, &noise, &particles(&ALL_IS_PARTICLES));
            polynomial_mcmc(&mut out, &sizes, &noise, &[Method::Hmc], hmc);
            // NUTS on the headline noise only, where adaptation matters: within the budget.
            polynomial_mcmc(&mut out, &sizes, &[0.05], &[Method::Nuts], hmc);
            // ADVI on the correctness noise with one draw per step: three fits per framework.
            polynomial_vi(&mut out, &sizes, &[1.0], &VI_ELBO_SAMPLES[..1]);
            beta_bernoulli(&mut out, &particles(&DEFAULT_BETA_BERNOULLI_PARTICLES), spec);
            state_space(&mut out, &particles(&DEFAULT_SMC_PARTICLES), spec);
        }
        Suite::Smoke => {
            // The correctness configuration (noise 1.0), small: every correct implementation passes.
            let sizes = opts.data_sizes.clone().unwrap_or_else(|| vec![10, 100]);
            let noise = opts.noise_sds.clone().unwrap_or_else(|| vec![1.0]);
            polynomial_is(&mut out, &sizes, &noise, &particles(&[1000]));
            // Every method once, at the smallest size: HMC and NUTS in the smoke configuration
            // (`HmcConfig::smoke`), ADVI with one draw per step.
            polynomial_mcmc(&mut out, &sizes[..1], &noise, &[Method::Hmc, Method::Nuts], hmc);
            polynomial_vi(&mut out, &sizes[..1], &noise, &VI_ELBO_SAMPLES[..1]);
            beta_bernoulli(&mut out, &particles(&DEFAULT_BETA_BERNOULLI_PARTICLES), spec);
            state_space(&mut out, &particles(&[1000]), spec);
        }
    }
    out
}

/// Polynomial importance sampling at every noise level, size and particle count.
fn polynomial_is(out: &mut Vec<Config>, sizes: &[usize], noise: &[f64], particles: &[usize]) {
    for &sd in noise {
        for &n in sizes {
            for &np in particles {
                out.push(Config { model: Model::Polynomial, method: Method::Is, n_points: n, noise_sd: Some(sd), n_particles: Some(np), hmc: None, vi: None });
            }
        }
    }
}

/// Polynomial MCMC (`methods`: fixed-step HMC, NUTS) in the `hmc` configuration, one chain.
fn polynomial_mcmc(out: &mut Vec<Config>, sizes: &[usize], noise: &[f64], methods: &[Method], hmc: HmcConfig) {
    for &sd in noise {
        for &n in sizes {
            for &method in methods {
                out.push(Config { model: Model::Polynomial, method, n_points: n, noise_sd: Some(sd), n_particles: None, hmc: Some(hmc), vi: None });
            }
        }
    }
}

/// NUTS with four chains, for the rank-normalized R-hat and bulk/tail ESS Stan users read, in
/// the frameworks that run chains in one call.
fn nuts_chains(out: &mut Vec<Config>, sizes: &[usize], noise: &[f64], hmc: HmcConfig) {
    polynomial_mcmc(out, sizes, noise, &[Method::Nuts], HmcConfig { n_chains: NUTS_CHAINS, ..hmc });
}

/// Mean-field ADVI, one configuration for every framework, at each number of ELBO draws.
fn polynomial_vi(out: &mut Vec<Config>, sizes: &[usize], noise: &[f64], draws: &[usize]) {
    for &sd in noise {
        for &n in sizes {
            for &k in draws {
                let vi = ViConfig { n_elbo_samples: k, ..ViConfig::default() };
                out.push(Config { model: Model::Polynomial, method: Method::Vi, n_points: n, noise_sd: Some(sd), n_particles: None, hmc: None, vi: Some(vi) });
            }
        }
    }
}

/// Beta-Bernoulli importance sampling at each particle count.
fn beta_bernoulli(out: &mut Vec<Config>, particles: &[usize], spec: &DatasetsSpec) {
    for &np in particles {
        out.push(Config { model: Model::BetaBernoulli, method: Method::Is, n_points: spec.beta_bernoulli.n, noise_sd: None, n_particles: Some(np), hmc: None, vi: None });
    }
}

/// Particle filters at each particle count, then the exact filter they approximate (the
/// forward algorithm, the Kalman filter): the answer of a framework without SMC.
fn state_space(out: &mut Vec<Config>, particles: &[usize], spec: &DatasetsSpec) {
    for (model, t) in [(Model::Hmm, spec.hmm.t), (Model::Lgssm, spec.lgssm.t)] {
        for &np in particles {
            out.push(Config { model, method: Method::Smc, n_points: t, noise_sd: None, n_particles: Some(np), hmc: None, vi: None });
        }
        out.push(Config { model, method: Method::Exact, n_points: t, noise_sd: None, n_particles: None, hmc: None, vi: None });
    }
}

/// Loads the data set of every configuration (once per file), failing on the first bad file.
fn load_data(configs: &[Config], dir: &std::path::Path, spec: &DatasetsSpec) -> anyhow::Result<Vec<(Arc<DataSet>, Arc<Reference>)>> {
    let mut cache: HashMap<String, (Arc<DataSet>, Arc<Reference>)> = HashMap::new();
    configs
        .iter()
        .map(|c| {
            let key = format!("{}/{}/{:?}", c.model, c.n_points, c.noise_sd);
            if let Some(hit) = cache.get(&key) {
                return Ok(hit.clone());
            }
            let data = match c.model {
                Model::Polynomial => DataSet::Polynomial(data::load_polynomial(dir, spec, c.n_points, c.noise_sd.unwrap_or(0.05))?),
                Model::BetaBernoulli => DataSet::BetaBernoulli(data::load_beta_bernoulli(dir, spec)?),
                Model::Hmm => DataSet::Hmm(data::load_hmm(dir, spec)?),
                Model::Lgssm => DataSet::Lgssm(data::load_lgssm(dir, spec)?),
            };
            let reference = Reference::exact(&data);
            let entry = (Arc::new(data), Arc::new(reference));
            cache.insert(key, entry.clone());
            Ok(entry)
        })
        .collect()
}

fn framework_info(adapter: &dyn Adapter, availability: Availability) -> FrameworkInfo {
    FrameworkInfo {
        name: adapter.name().to_owned(),
        display_name: adapter.display_name().to_owned(),
        this_system: adapter.is_this_system(),
        kind: adapter.kind(),
        availability,
    }
}

/// Runs `suite`: every selected framework over every configuration it supports. The steps:
/// load the data, open the result folder, prepare every framework (`prepare_lane`), run each
/// configuration on all of them in interleaved rounds (`run_configuration`), record its rows
/// (`record_rows`), then draw the figures and the report (`finish_run`).
pub fn run(suite: Suite, opts: &RunOptions, command_line: Vec<String>) -> anyhow::Result<Outcome> {
    let root = paths::repo_root();
    let data_dir = paths::data_dir(&root);
    let spec = data::load_spec(&data_dir).context("loading the data sets' hyperparameters")?;
    let configs = configurations(suite, opts, &spec);
    let inputs = load_data(&configs, &data_dir, &spec).context("loading the data sets")?;

    let timeout_s = opts.timeout_s.unwrap_or_else(|| suite.default_timeout_s());
    let mut adapters = adapters::registry(&root, Duration::from_secs(timeout_s));
    if let Some(selected) = &opts.frameworks {
        adapters.retain(|a| selected.iter().any(|s| s == a.name()));
    }
    let repeats = opts.repeats.map_or(Repeats::Auto, Repeats::Fixed);
    for dir in export::mark_aborted_runs(&data_dir) {
        eprintln!("note: {}", RunState::EndedAbnormally.warning(&dir).unwrap_or_default());
    }
    let run_config = RunConfiguration { options: opts, repeats, timeout_s, configurations: &configs, data_dir: data_dir.display().to_string() };
    let (mut writer, dir) = open_results(suite, opts, &run_config, command_line, &root, &data_dir)?;
    interrupt::install()?;

    // An adapter that can run nothing (an unreadable manifest) gets a skipped row on every
    // configuration's model and method, so it never vanishes from the results.
    let covers = |adapter: &dyn Adapter, c: &Config| {
        let chains = c.hmc.map_or(1, |h| h.n_chains);
        adapter.unusable().is_some() || (adapter.supports(c.model, c.method) && (chains == 1 || adapter.supports_chains(c.method)))
    };
    let total: usize = adapters.iter().map(|a| configs.iter().filter(|c| covers(a.as_ref(), c)).count()).sum();
    let progress = Progress::new(total as u64);
    progress.println(format!("results: {}", dir.display()));
    let mut outcome = Outcome::new(dir.clone());

    // Every framework is prepared (availability, one-time builds) before any configuration
    // runs; then each configuration runs every framework in rounds, interleaved in time.
    let mut lanes: Vec<Lane> = Vec::new();
    for adapter in adapters {
        if interrupt::requested() {
            break;
        }
        let supported: Vec<usize> = (0..configs.len()).filter(|&i| covers(adapter.as_ref(), &configs[i])).collect();
        if let Some(lane) = prepare_lane(adapter, supported, &configs, suite, opts, &data_dir, &mut writer, &progress, &mut outcome)? {
            lanes.push(lane);
        }
    }
    let rounds = opts.rounds.unwrap_or_else(|| suite.default_rounds()).max(1);
    for (i, config) in configs.iter().enumerate() {
        if interrupt::requested() {
            break;
        }
        let active: Vec<usize> = (0..lanes.len()).filter(|&l| lanes[l].supported.contains(&i)).collect();
        let task = |round: usize| Task {
            config: config.clone(),
            data: Arc::clone(&inputs[i].0),
            root: root.clone(),
            data_dir: data_dir.clone(),
            repeats: RoundShare { repeats, rounds },
            seed: opts.seed + ROUND_SEED_STRIDE * round as u64,
            device: opts.device,
            timeout: Duration::from_secs(timeout_s),
        };
        let Some(results) = run_configuration(&mut lanes, &active, config, rounds, &task, &progress)? else { break };
        let mut sink = RowSink { writer: &mut writer, progress: &progress, outcome: &mut outcome };
        record_rows(&lanes, results, config, &inputs[i].1, opts.seed, &mut sink)?;
    }
    progress.finish();
    finish_run(writer, outcome, opts, &root)
}

/// What the metadata records of how the run was configured.
#[derive(Serialize)]
struct RunConfiguration<'a> {
    options: &'a RunOptions,
    repeats: Repeats,
    timeout_s: u64,
    configurations: &'a [Config],
    data_dir: String,
}

/// Claims the result folder (before anything slow, so a second run on the same folder fails at
/// once) and starts its files with the run's metadata.
fn open_results(
    suite: Suite,
    opts: &RunOptions,
    configuration: &RunConfiguration<'_>,
    command_line: Vec<String>,
    root: &std::path::Path,
    data_dir: &std::path::Path,
) -> anyhow::Result<(ResultsWriter, PathBuf)> {
    let folder = match &opts.out {
        Some(out) => ResultFolder::claim(out, opts.overwrite)?,
        None => ResultFolder::create_unique(data_dir, &format!("benchmark_{}_{}", suite.name(), export::timestamp()))?,
    };
    let dir = folder.path().to_path_buf();
    let metadata = Metadata {
        suite: suite.name().to_owned(),
        status: "running".to_owned(),
        command_line,
        started: export::now_rfc3339(),
        finished: None,
        configuration: serde_json::to_value(configuration)?,
        frameworks: Vec::new(),
        machine: Machine::detect(),
        git: GitInfo::detect(root),
        benchmarks_version: env!("CARGO_PKG_VERSION").to_owned(),
        notes: vec![
            "times in seconds; std_time divides by n".to_owned(),
            "peak memory: heap_high_water = heap bytes above the baseline during one in-process call; process_max_rss = max RSS of the whole subprocess (interpreter and imports included); not comparable across kinds".to_owned(),
            "compile_time: the first call, excluded from the repeats (for Rust rows nothing compiles: it is the cold first call)".to_owned(),
        ],
    };
    Ok((ResultsWriter::create(folder, metadata)?, dir))
}

/// Where a configuration's rows go: the result files, the progress lines, the run's outcome.
struct RowSink<'a> {
    writer: &'a mut ResultsWriter,
    progress: &'a Progress,
    outcome: &'a mut Outcome,
}

/// Writes one configuration's rows: each framework's result assessed against the exact
/// `reference`, with its time ratio to handcoded Rust's in the same configuration (and its
/// bootstrap interval); a failed or skipped framework's row says why.
fn record_rows(lanes: &[Lane], results: Vec<LaneResult>, config: &Config, reference: &Reference, seed: u64, sink: &mut RowSink<'_>) -> anyhow::Result<()> {
    let baseline = results.iter().find_map(|(l, r)| match r {
        Ok(r) if lanes[*l].adapter.name() == adapters::handcoded::NAME => Some(r.times_s.clone()),
        _ => None,
    });
    for (l, result) in results {
        let lane = &lanes[l];
        let (mut row, times) = match result {
            Ok(result) => {
                let assessment = quality::assess(config, &result.quality, reference);
                (SummaryRow::measured(&lane.info, config, seed, &result, &assessment), result.times_s)
            }
            Err(RoundFailure::NotRun(message)) => {
                record_not_run(sink.writer, sink.progress, sink.outcome, &lane.info, config, seed, &message)?;
                continue;
            }
            Err(RoundFailure::Failed(message)) => (SummaryRow::failed(&lane.info, config, seed, &message), Vec::new()),
        };
        let is_baseline = lane.adapter.name() == adapters::handcoded::NAME;
        if let Some(ci) = baseline.as_deref().filter(|_| !is_baseline).and_then(|b| crate::timing::ratio_of_medians(&times, b)) {
            (row.time_ratio, row.time_ratio_low, row.time_ratio_high) = (Some(ci.ratio), Some(ci.low), Some(ci.high));
        }
        sink.writer.write(&row, &times)?;
        sink.progress.println(describe(&row, config));
        let outcome = &mut *sink.outcome;
        match (row.status, row.quality_ok) {
            (Some(RowStatus::Failed), _) => outcome.failed.push(format!("{} {}: {}", row.framework, config.label(), row.message)),
            (_, Some(false)) if !row.flags.is_empty() => {
                outcome.known_defects.push(format!("{} {} [{}]: {}", row.framework, config.label(), row.flags, row.quality_reason));
            }
            (_, Some(false)) => outcome.quality_failures.push(format!("{} {}: {}", row.framework, config.label(), row.quality_reason)),
            _ => {}
        }
        sink.progress.inc();
    }
    Ok(())
}

/// Closes the result files, then draws the figures and writes report.html (a run cut short by
/// a stop request gets neither figures nor a full report).
fn finish_run(mut writer: ResultsWriter, mut outcome: Outcome, opts: &RunOptions, root: &std::path::Path) -> anyhow::Result<Outcome> {
    outcome.interrupted = interrupt::requested();
    outcome.rows = writer.rows();
    writer.finish(outcome.interrupted)?;
    let dir = outcome.dir.clone();
    if !outcome.interrupted && !opts.no_plots {
        let figs = paths::figs_dir(root).join(dir.file_name().unwrap_or_default());
        // An overwritten folder's old figures would otherwise stay beside the new ones.
        let cleared = if opts.overwrite { plots::clear_figures(&figs) } else { Ok(()) };
        match cleared.and_then(|()| plots::plot_dir(&dir, &figs)) {
            Ok(_) => outcome.figures = Some(figs),
            Err(e) => eprintln!("warning: figures not drawn: {e:#}"),
        }
    }
    // report.html: metadata, the summary table and the figures inline (main prints its path).
    if let Err(e) = crate::report::write_after_run(&dir, outcome.figures.as_deref(), opts.no_plots, outcome.interrupted) {
        eprintln!("warning: report.html not written: {e:#}");
    }
    Ok(outcome)
}

/// Round r of a configuration uses seed `seed + ROUND_SEED_STRIDE * r`, so no two rounds
/// repeat the same random work (a round has at most `Repeats::AUTO_MAX` repeats, each of
/// which adds at most its index to the seed).
pub const ROUND_SEED_STRIDE: u64 = 1000;

/// One framework through the run: its adapter, what it reported, which configurations it
/// covers, and what stops it from running some of them.
struct Lane {
    adapter: Box<dyn Adapter>,
    info: FrameworkInfo,
    /// Indices into the run's configurations.
    supported: Vec<usize>,
    /// Model and method pairs whose one-time build failed, with the message.
    build_failed: Vec<((Model, Method), String)>,
    /// Configurations that timed out: those at least as large are not attempted.
    timed_out: Vec<Config>,
}

impl Lane {
    /// Why `config` is not run, when it is not.
    fn not_run(&self, config: &Config) -> Option<String> {
        self.build_failed.iter().find(|(pair, _)| *pair == (config.model, config.method)).map(|(_, m)| m.clone()).or_else(|| {
            self.timed_out.iter().find(|t| at_least_as_large(config, t)).map(|limit| format!("not run: timed out at {}", limit.label()))
        })
    }
}

/// Readies one framework: its availability (installing it where it needs set-up), skipped rows
/// when it cannot run, and its one-time builds (Stan's model compilation) before any timed run,
/// so the per-run limit times the inference and not the compiler. `None` when it runs nothing.
#[allow(clippy::too_many_arguments)]
fn prepare_lane(
    mut adapter: Box<dyn Adapter>,
    supported: Vec<usize>,
    configs: &[Config],
    suite: Suite,
    opts: &RunOptions,
    data_dir: &std::path::Path,
    writer: &mut ResultsWriter,
    progress: &Progress,
    outcome: &mut Outcome,
) -> anyhow::Result<Option<Lane>> {
    if supported.is_empty() {
        // Every adapter left here was named in --frameworks, when that was given.
        if opts.frameworks.is_some() {
            outcome.without_rows.push(format!("{}: it implements no model and method of this suite (see `benchmarks list`)", adapter.name()));
        }
        return Ok(None);
    }
    let mut pairs: Vec<(Model, Method)> = Vec::new();
    for &i in &supported {
        let pair = (configs[i].model, configs[i].method);
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    progress.set_message(format!("{}: preparing", adapter.name()));
    let availability = match adapter.availability() {
        // The smoke run never installs anything that was not asked for by name.
        Availability::NeedsSetup { what } if suite == Suite::Smoke && opts.frameworks.is_none() => {
            Availability::Skipped { reason: format!("{what} (name it in --frameworks to create it)") }
        }
        Availability::NeedsSetup { .. } => adapter.prepare(progress),
        other => other,
    };
    let availability = match availability {
        Availability::NeedsSetup { what } => Availability::Skipped { reason: what },
        other => other,
    };
    let info = framework_info(adapter.as_ref(), availability.clone());
    writer.record_framework(info.clone())?;
    if let Availability::Skipped { reason } = &availability {
        progress.println(format!("{}: skipped ({reason})", adapter.name()));
        outcome.skipped.push(format!("{}: {reason}", adapter.name()));
        for &(model, method) in &pairs {
            writer.write(&SummaryRow::skipped(&info, model, method, reason), &[])?;
        }
        for _ in &supported {
            progress.inc();
        }
        return Ok(None);
    }
    let mut build_failed = Vec::new();
    for (model, method) in pairs {
        match adapter.build(model, method, data_dir, progress) {
            Ok(Some(note)) => progress.println(format!("{}: {}/{} {note}", adapter.name(), model.as_str(), method.as_str())),
            Ok(None) => {}
            Err(e) if e.is::<Interrupted>() => return Ok(None),
            Err(e) => build_failed.push(((model, method), format!("build failed: {e:#}"))),
        }
    }
    Ok(Some(Lane { adapter, info, supported, build_failed, timed_out: Vec::new() }))
}

/// A framework's (index into the lanes) merged result for one configuration.
type LaneResult = (usize, Result<RunResult, RoundFailure>);

/// Why a framework has no measured row for a configuration.
enum RoundFailure {
    /// It was not attempted (a failed build, a smaller size that timed out, too little memory).
    NotRun(String),
    /// A round failed, with its message.
    Failed(String),
}

/// Runs one configuration on the frameworks `active` (indices into `lanes`) in `rounds`
/// rounds, each doing its share of the repeats, the order reversed every other round (A B C,
/// C B A, A B C, ...: ABBA for two frameworks), so a drift of the machine's speed during the
/// configuration falls on every framework alike instead of into their ratios. A framework's
/// rounds are merged into one result ([`merge_rounds`]); a failed round fails its row and ends
/// its rounds. `None` when a stop was requested (the configuration is dropped).
fn run_configuration(
    lanes: &mut [Lane],
    active: &[usize],
    config: &Config,
    rounds: usize,
    task: &dyn Fn(usize) -> Task,
    progress: &Progress,
) -> anyhow::Result<Option<Vec<LaneResult>>> {
    let mut state: Vec<Result<Vec<RunResult>, RoundFailure>> = active
        .iter()
        .map(|&l| match lanes[l].not_run(config) {
            Some(message) => Err(RoundFailure::NotRun(message)),
            None => Ok(Vec::new()),
        })
        .collect();
    for round in 0..rounds {
        let order: Vec<usize> = if round % 2 == 0 { (0..active.len()).collect() } else { (0..active.len()).rev().collect() };
        for k in order {
            let Ok(done) = &mut state[k] else { continue };
            if interrupt::requested() {
                return Ok(None);
            }
            let lane = &mut lanes[active[k]];
            let task = task(round);
            progress.set_message(format!("{}: {} (round {}/{rounds})", lane.adapter.name(), config.label(), round + 1));
            if round == 0 {
                match memory_check(lane.adapter.as_mut(), &task) {
                    Err(e) if e.is::<Interrupted>() => return Ok(None),
                    Ok(MemoryCheck { refusal: Some(message), .. }) | Err(message) => {
                        state[k] = Err(RoundFailure::NotRun(message.to_string()));
                        continue;
                    }
                    Ok(MemoryCheck { note, .. }) => {
                        if let Some(note) = note {
                            progress.println(format!("{}: {}: {note}", lane.adapter.name(), config.label()));
                        }
                    }
                }
            }
            match lane.adapter.run(&task) {
                Ok(result) => done.push(result),
                Err(e) if e.is::<Interrupted>() => return Ok(None),
                Err(e) => {
                    if e.is::<TimedOut>() {
                        lane.timed_out.push(config.clone());
                    }
                    // A later round's failure says which round: the earlier ones ran.
                    let message = if round > 0 { format!("round {}/{rounds}: {e:#}", round + 1) } else { format!("{e:#}") };
                    state[k] = Err(RoundFailure::Failed(message));
                }
            }
        }
    }
    Ok(Some(active.iter().zip(state).map(|(&l, s)| (l, s.map(|r| merge_rounds(r, rounds)))).collect()))
}

/// One framework's rounds of a configuration as one result: every round's timed repeats in
/// the order they ran, the first round's compile time (the cold call; later rounds' first
/// calls are excluded from the repeats too), the last round's quality, the largest peak
/// memory, and every note and flag once.
fn merge_rounds(results: Vec<RunResult>, rounds: usize) -> RunResult {
    let mut merged: Option<RunResult> = None;
    for r in results {
        merged = Some(match merged {
            None => r,
            Some(mut m) => {
                m.times_s.extend(r.times_s);
                m.quality = r.quality;
                m.peak_memory = match (m.peak_memory, r.peak_memory) {
                    (Some(a), Some(b)) => Some(if b.bytes > a.bytes { b } else { a }),
                    (a, b) => a.or(b),
                };
                for note in r.notes {
                    if !m.notes.contains(&note) {
                        m.notes.push(note);
                    }
                }
                for flag in r.flags {
                    if !m.flags.contains(&flag) {
                        m.flags.push(flag);
                    }
                }
                m
            }
        });
    }
    let mut merged = merged.expect("a framework that ran has at least one round");
    if rounds > 1 {
        merged.notes.push(format!("repeats in {rounds} rounds interleaved with the other frameworks of this configuration"));
    }
    merged
}

/// Records a configuration that was not run (a failed build, a larger size that timed out,
/// particles that cannot fit) as a failed row with its reason.
fn record_not_run(
    writer: &mut ResultsWriter,
    progress: &Progress,
    outcome: &mut Outcome,
    info: &FrameworkInfo,
    config: &Config,
    seed: u64,
    message: &str,
) -> anyhow::Result<()> {
    let row = SummaryRow::failed(info, config, seed, message);
    writer.write(&row, &[])?;
    progress.println(describe(&row, config));
    outcome.failed.push(format!("{} {}: {message}", row.framework, config.label()));
    progress.inc();
    Ok(())
}

/// Particles of the probe that measures an in-process row's memory per particle.
const MEMORY_PROBE_PARTICLES: usize = 10_000;

/// A row's estimated memory is worth a line from this many bytes on.
const MEMORY_NOTE_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// What [`memory_check`] found.
#[derive(Debug, Default)]
struct MemoryCheck {
    /// Why the row must not run (it cannot fit).
    refusal: Option<anyhow::Error>,
    /// The estimate, when it is large enough to mention.
    note: Option<String>,
}

/// Before an in-process row with more particles than [`MEMORY_PROBE_PARTICLES`] allocates them:
/// runs the same configuration at the probe's size, scales its measured heap high-water mark to
/// the row's particle count, and refuses the row when that is more than the memory available
/// (`MemAvailable`). Memory grows linearly in the particles for every in-process row (each
/// particle owns its latents, weight and, on the Burn engine, its row of every tensor), so the
/// scaled probe is the row's peak to within the probe's fixed costs. Subprocess rows are not
/// probed: their memory is the framework's own, and an out-of-memory kill is reported as such.
fn memory_check(adapter: &mut dyn Adapter, task: &Task) -> anyhow::Result<MemoryCheck> {
    let Some(n) = task.config.n_particles.filter(|&n| n > MEMORY_PROBE_PARTICLES) else { return Ok(MemoryCheck::default()) };
    if adapter.kind() != adapters::AdapterKind::InProcess {
        return Ok(MemoryCheck::default());
    }
    let mut probe = task.clone();
    probe.config.n_particles = Some(MEMORY_PROBE_PARTICLES);
    probe.repeats = RoundShare::whole(Repeats::Fixed(Repeats::MIN));
    let measured = adapter.run(&probe).context("the memory probe (the same configuration at 10^4 particles) failed")?;
    let Some(peak) = measured.peak_memory else { return Ok(MemoryCheck::default()) };
    let per_particle = peak.bytes as f64 / MEMORY_PROBE_PARTICLES as f64;
    let needed = per_particle * n as f64;
    let gib = |bytes: f64| bytes / (1024.0 * 1024.0 * 1024.0);
    let estimate = format!(
        "{n} particles need about {:.1} GiB ({per_particle:.0} bytes per particle, measured at {MEMORY_PROBE_PARTICLES} particles)",
        gib(needed)
    );
    let available = crate::machine::meminfo_bytes("MemAvailable");
    if let Some(available) = available.filter(|&a| needed > a as f64) {
        let refusal = anyhow::anyhow!("not run: {estimate}, more than the {:.1} GiB available; lower --n-particles", gib(available as f64));
        return Ok(MemoryCheck { refusal: Some(refusal), note: None });
    }
    Ok(MemoryCheck { refusal: None, note: (needed >= MEMORY_NOTE_BYTES).then_some(estimate) })
}

/// Whether `config` is the same model and method as `other` with at least its data size and
/// particle count (so at least its work).
fn at_least_as_large(config: &Config, other: &Config) -> bool {
    config.model == other.model
        && config.method == other.method
        && config.n_points >= other.n_points
        && config.n_particles.unwrap_or(0) >= other.n_particles.unwrap_or(0)
}

/// One line per finished configuration.
fn describe(row: &SummaryRow, config: &Config) -> String {
    match row.status {
        Some(RowStatus::Ok) => {
            let mut s = format!(
                "{:<16} {:<48} median {:>10}  ({} repeats)",
                row.framework,
                config.label(),
                format_seconds(row.median_time.unwrap_or(f64::NAN)),
                row.repeats.unwrap_or(0)
            );
            if let Some(err) = row.log_ml_error {
                s.push_str(&format!("  log-ML err {err:+.3}"));
            }
            if let Some(e) = row.ess {
                s.push_str(&format!("  ESS {e:.1}"));
            }
            if let Some(a) = row.acceptance_rate {
                s.push_str(&format!("  accept {a:.2}"));
            }
            if row.quality_ok == Some(false) {
                s.push_str(&format!("  [quality: {}]", row.quality_reason));
            }
            s
        }
        _ => format!("{:<16} {:<48} FAILED: {}", row.framework, config.label(), row.message),
    }
}

/// Seconds in the most readable unit (`12.3 us`, `4.56 ms`, `1.23 s`).
#[must_use]
pub fn format_seconds(t: f64) -> String {
    if !t.is_finite() {
        format!("{t}")
    } else if t < 1e-3 {
        format!("{:.1} us", t * 1e6)
    } else if t < 1.0 {
        format!("{:.2} ms", t * 1e3)
    } else {
        format!("{t:.2} s")
    }
}
