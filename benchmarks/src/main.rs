//! The `benchmarks` binary: parses the command line and calls the library's modules.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use benchmarks::adapters::{self, external, Availability};
use benchmarks::models::{Device, Method, Model};
use benchmarks::suite::{self, RunOptions, Suite};
use benchmarks::{data, exact, export, paths, plots, report};
use clap::{Args, Parser, Subcommand};

/// Benchmarks gen-rs against handcoded Rust and the systems people use today (GenJAX, NumPyro,
/// handcoded JAX, Pyro, Stan, Gen.jl) on the same data, with every answer checked against the
/// exact posterior. Results go to data/benchmark_<suite>_<timestamp>/, figures to figs/.
#[derive(Parser)]
#[command(name = "benchmarks", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Polynomial regression by importance sampling with the prior as proposal, over data sizes,
    /// noise levels and particle counts (default N = 100, 1000, 10000).
    PolynomialIs(RunArgs),
    /// Polynomial regression by fixed-step HMC: 1000 samples after 500 warm-up, step 0.01,
    /// 20 leapfrog steps, one chain from zeros.
    PolynomialHmc(RunArgs),
    /// Both polynomial suites.
    PolynomialAll(RunArgs),
    /// Polynomial regression by mean-field ADVI: 2000 Adam steps at learning rate 0.01 from
    /// means 0 and scales 1, K = 1 and 10 ELBO draws per step, every size and noise level;
    /// quality is the closed-form KL to the exact (Gaussian) posterior.
    PolynomialVi(RunArgs),
    /// Beta-Bernoulli by importance sampling (default 2000 particles).
    BetaBernoulli(RunArgs),
    /// The state-space models by bootstrap particle filter: the discrete HMM (against the forward
    /// algorithm) and the linear-Gaussian model (against the Kalman filter); and those exact
    /// filters themselves, as the rows of frameworks without a particle filter (NumPyro).
    Hmm(RunArgs),
    /// Every suite: the main job (a few minutes for the Rust rows; external frameworks add their
    /// start-up and compile time, and their virtualenvs are created on first use).
    All(RunArgs),
    /// Smoke run on the correctness configuration (noise sd 1.0, small sizes, 5 repeats, every
    /// method once; HMC and NUTS with 100 + 300 iterations at step 0.05); exits non-zero if any
    /// row fails or gives an untrustworthy answer. Creates no virtualenv unless the framework is
    /// named in --frameworks.
    Test(RunArgs),
    /// Redraw the figures of a result folder from its summary.csv.
    Plot {
        /// The result folder (data/benchmark_<suite>_<timestamp>).
        #[arg(long)]
        data: PathBuf,
        /// Where the figures go (default: figs/<the result folder's name>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Compare two result folders: for every row measured in both, the new median time over the
    /// old with its bootstrap 95% interval (from the per-repeat timing files); exits with status
    /// 1 when a row is significantly slower by more than --threshold
    Compare {
        /// The earlier result folder.
        old: PathBuf,
        /// The later result folder.
        new: PathBuf,
        /// A regression is a significant slowdown by more than this fraction (0.1: 10%).
        #[arg(long, default_value_t = 0.1)]
        threshold: f64,
        /// Also write the comparison as a self-contained HTML page to this file.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Write (or rewrite) a result folder's report.html: the metadata, the summary as a sortable,
    /// filterable table and the figures inline (drawn first when their folder holds none).
    Report {
        /// The result folder (data/benchmark_<suite>_<timestamp>).
        dir: PathBuf,
        /// Where the figures are (default: figs/<the result folder's name>).
        #[arg(long)]
        figs: Option<PathBuf>,
    },
    /// Regenerate the standard data sets and data/datasets.json (deterministic: seed 42), and
    /// data/exact.json, the exact answers on them that the Python and Julia sides are checked
    /// against.
    Data {
        /// Write somewhere other than data/.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List every framework with its availability, version and methods.
    List,
    /// Create the Python frameworks' virtualenvs the way a benchmark run does on first use (and
    /// the test-only ArviZ env), then probe each framework's version. The test command runs it
    /// before the Python tests. Exits with status 1 when a Python framework cannot be set up; a
    /// framework whose language is not installed (Julia) is reported and skipped.
    Setup {
        /// Frameworks to set up, comma-separated (default: every external framework and the
        /// ArviZ env).
        #[arg(long, value_delimiter = ',', value_parser = framework_parser())]
        frameworks: Option<Vec<String>>,
    },
    /// Internal: run a command and report its max RSS (used for external frameworks).
    #[command(name = "__rusage-exec", hide = true)]
    RusageExec {
        /// The benchmark run's process: when it is gone, the wrapper kills the framework's group.
        #[arg(long)]
        parent: Option<u32>,
        /// File that receives the max RSS in bytes.
        report: PathBuf,
        /// The command.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

/// Options of every benchmark run.
#[derive(Args)]
struct RunArgs {
    /// Frameworks to run, comma-separated (default: all; see `benchmarks list`).
    #[arg(long, value_delimiter = ',', value_parser = framework_parser())]
    frameworks: Option<Vec<String>>,
    /// Particle counts for IS and SMC, comma-separated, replacing the suite's defaults.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..))]
    n_particles: Option<Vec<u64>>,
    /// Polynomial data sizes, comma-separated (default: every size in data/datasets.json).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..))]
    data_size: Option<Vec<u64>>,
    /// Polynomial noise levels, comma-separated: 0.05 (the headline) and 1.0 (the correctness
    /// configuration); default both.
    #[arg(long, value_delimiter = ',', value_parser = ["0.05", "1.0"])]
    noise_sd: Option<Vec<String>>,
    /// Timed repeats per configuration, at least 5 (default: Rust rows fit about 1.5 s of repeats,
    /// between 5 and 100; external rows 10 for IS and SMC, 5 for HMC).
    #[arg(long, value_parser = clap::value_parser!(u64).range(5..))]
    repeats: Option<u64>,
    /// Device for the rows that can use one (handcoded Rust always runs on the CPU).
    #[arg(long, value_enum, default_value_t = Device::Cpu)]
    device: Device,
    /// Result folder (default: a new data/benchmark_<suite>_<YYYYMMDD_HHMMSS>, with _2, _3, ...
    /// when that name is taken). It must be empty unless --overwrite is given, and no other run
    /// may be using it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Let --out name a folder that holds earlier results: they are removed before the run.
    #[arg(long, requires = "out")]
    overwrite: bool,
    /// Wall-clock limit of one external run (all its repeats), in seconds; a run past it is
    /// killed and recorded as failed, and the framework's larger configurations of that method
    /// are not attempted (default: 30 for `all`, 60 for `test`, 300 otherwise).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: Option<u64>,
    /// Base seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Do not draw figures at the end.
    #[arg(long)]
    no_plots: bool,
    /// Rounds each configuration's repeats are split into, the frameworks' rounds interleaved
    /// in time and their order reversed every other round (A B C, C B A, ...), so a drift of
    /// the machine's speed does not enter the ratios; each external round pays its own start-up
    /// (default: 2, and 1 for `test`).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20))]
    rounds: Option<u64>,
}

/// `--frameworks` accepts the registry's names, so an unknown name is refused with the choices.
fn framework_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(adapters::framework_names(&paths::repo_root()))
}

impl RunArgs {
    fn options(self) -> RunOptions {
        let to_usize = |v: Vec<u64>| v.into_iter().map(|x| x as usize).collect();
        RunOptions {
            frameworks: self.frameworks,
            n_particles: self.n_particles.map(to_usize),
            data_sizes: self.data_size.map(to_usize),
            noise_sds: self.noise_sd.map(|v| v.iter().map(|s| s.parse().expect("clap checked the value")).collect()),
            repeats: self.repeats.map(|r| r as usize),
            device: self.device,
            out: self.out,
            overwrite: self.overwrite,
            timeout_s: self.timeout,
            seed: self.seed,
            no_plots: self.no_plots,
            rounds: self.rounds.map(|r| r as usize),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Ok(exe) = std::env::current_exe() {
        external::use_rusage_wrapper(exe);
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    let command_line: Vec<String> = std::env::args().collect();
    let (suite, args) = match command {
        Command::PolynomialIs(a) => (Suite::PolynomialIs, a),
        Command::PolynomialHmc(a) => (Suite::PolynomialHmc, a),
        Command::PolynomialAll(a) => (Suite::PolynomialAll, a),
        Command::PolynomialVi(a) => (Suite::PolynomialVi, a),
        Command::BetaBernoulli(a) => (Suite::BetaBernoulli, a),
        Command::Hmm(a) => (Suite::Hmm, a),
        Command::All(a) => (Suite::All, a),
        Command::Test(mut a) => {
            a.repeats = a.repeats.or(Some(5));
            let h = benchmarks::models::HmcConfig::smoke();
            println!(
                "smoke configuration: noise sd 1.0; HMC and NUTS {} warm-up + {} kept iterations at step {} (the benchmark runs 500 + 1000 at 0.01), so every framework, the eager ones included, finishes within the limit",
                h.n_warmup, h.n_samples, h.step_size
            );
            (Suite::Smoke, a)
        }
        Command::Plot { data, out } => return plot(&data, out),
        Command::Report { dir, figs } => return redraw_report(&dir, figs),
        Command::Compare { old, new, threshold, html } => return compare(&old, &new, threshold, html.as_deref()),
        Command::Data { out } => {
            let dir = out.unwrap_or_else(|| paths::data_dir(&paths::repo_root()));
            for file in data::generate(&dir, &data::DatasetsSpec::standard())? {
                println!("{}", file.display());
            }
            // The exact answers on the data just written, for the Python and Julia sides.
            println!("{}", exact::write_references(&dir)?.display());
            return Ok(ExitCode::SUCCESS);
        }
        Command::List => {
            list();
            return Ok(ExitCode::SUCCESS);
        }
        Command::Setup { frameworks } => return Ok(setup(frameworks.as_deref())),
        Command::RusageExec { parent, report, command } => {
            let code = external::rusage_exec(&report, parent, &command)?;
            return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
        }
    };
    run_suite(suite, args, command_line)
}

/// `benchmarks plot`: the figures of a result folder, from its summary.csv.
fn plot(data: &std::path::Path, out: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let name = data.file_name().context("--data must name a result folder")?;
    let out = out.unwrap_or_else(|| paths::figs_dir(&paths::repo_root()).join(name));
    if let Some(warning) = export::run_state(data).warning(data) {
        eprintln!("note: {warning}");
    }
    let files = plots::plot_dir(data, &out)?;
    println!("{} files (SVG, PNG, PDF) in {}", files.len(), out.display());
    Ok(ExitCode::SUCCESS)
}

/// `benchmarks report`: a result folder's report.html, written again.
fn redraw_report(dir: &std::path::Path, figs: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let name = dir.file_name().context("DIR must name a result folder")?;
    let figs = figs.unwrap_or_else(|| paths::figs_dir(&paths::repo_root()).join(name));
    if let Some(warning) = export::run_state(dir).warning(dir) {
        eprintln!("note: {warning}");
    }
    println!("report in {}", report::redraw(dir, &figs)?.display());
    Ok(ExitCode::SUCCESS)
}

/// `benchmarks compare`: status 1 when a row is significantly slower by more than `threshold`.
fn compare(old: &std::path::Path, new: &std::path::Path, threshold: f64, html: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    if !(threshold.is_finite() && threshold >= 0.0) {
        anyhow::bail!("--threshold must be a fraction >= 0 (0.1 flags slowdowns of more than 10%), not {threshold}");
    }
    for dir in [old, new] {
        if let Some(warning) = export::run_state(dir).warning(dir) {
            eprintln!("note: {warning}");
        }
    }
    let comparison = benchmarks::compare::compare(old, new, threshold)?;
    print!("{}", comparison.render());
    if let Some(path) = html {
        std::fs::write(path, report::render_comparison(&comparison, old, new)).with_context(|| format!("cannot write {}", path.display()))?;
        println!("comparison page: {}", path.display());
    }
    Ok(if comparison.regressions().next().is_some() { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// A benchmark suite (or the smoke run): what it wrote, what failed, and the exit status.
fn run_suite(suite: Suite, args: RunArgs, command_line: Vec<String>) -> anyhow::Result<ExitCode> {
    let named = args.frameworks.is_some();
    let outcome = suite::run(suite, &args.options(), command_line)?;
    println!("{} rows in {}", outcome.rows, outcome.dir.display());
    if let Some(figs) = &outcome.figures {
        println!("figures in {}", figs.display());
    }
    let report_path = outcome.dir.join(report::REPORT_FILE);
    if report_path.is_file() {
        println!("report in {}", report_path.display());
    }
    for s in &outcome.skipped {
        println!("skipped {s}");
    }
    for f in &outcome.failed {
        println!("FAILED {f}");
    }
    if suite == Suite::Smoke {
        for q in &outcome.quality_failures {
            println!("quality not ok: {q}");
        }
        for k in &outcome.known_defects {
            println!("quality not ok, a known defect of the release (flagged, not a failure of this run): {k}");
        }
    } else if !outcome.quality_failures.is_empty() || !outcome.known_defects.is_empty() {
        // Expected for some configurations (prior-proposal IS and step-0.01 HMC at noise 0.05).
        let n = outcome.quality_failures.len() + outcome.known_defects.len();
        println!("{n} rows with quality_ok = false (see quality_reason in summary.csv)");
    }
    if outcome.interrupted {
        println!("interrupted: every finished configuration is in {}", outcome.dir.display());
        return Ok(ExitCode::from(130));
    }
    if !outcome.without_rows.is_empty() {
        for w in &outcome.without_rows {
            eprintln!("error: no row for --frameworks {w}");
        }
        return Ok(ExitCode::FAILURE);
    }
    // A smoke run of frameworks named in --frameworks fails when one of them could not run.
    let skipped_by_name = named && !outcome.skipped.is_empty();
    let smoke_failed = suite == Suite::Smoke && (skipped_by_name || !(outcome.failed.is_empty() && outcome.quality_failures.is_empty()));
    Ok(if smoke_failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// How long `list` waits for one framework's `--version` (an import that hangs is reported, not
/// waited on).
const LIST_PROBE_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `benchmarks setup`: every external framework's `prepare` (the code path of a benchmark run),
/// then the test-only envs; a line per framework.
fn setup(frameworks: Option<&[String]>) -> ExitCode {
    let root = paths::repo_root();
    let progress = benchmarks::progress::Progress::lines_only();
    let mut failed = Vec::new();
    for mut adapter in adapters::registry(&root, LIST_PROBE_LIMIT) {
        let named = frameworks.is_none_or(|names| names.iter().any(|n| n == adapter.name()));
        if !named || adapter.kind() == adapters::AdapterKind::InProcess {
            continue;
        }
        match adapter.prepare(&progress) {
            Availability::Available { version } => println!("{:<18} ready ({version})", adapter.name()),
            Availability::NeedsSetup { what } => {
                println!("{:<18} NOT READY: {what}", adapter.name());
                failed.push(adapter.name().to_owned());
            }
            Availability::Skipped { reason } if adapter.kind() == adapters::AdapterKind::Julia => {
                println!("{:<18} skipped: {reason}", adapter.name());
            }
            Availability::Skipped { reason } => {
                println!("{:<18} FAILED: {reason}", adapter.name());
                failed.push(adapter.name().to_owned());
            }
        }
    }
    if frameworks.is_none() {
        for (env, requirements) in benchmarks::env::TEST_ONLY_ENVS {
            match benchmarks::env::ensure_venv(&root, env, requirements, "python3", &progress) {
                Ok(python) => println!("{:<18} ready ({}; for the tests only)", format!("env {env}"), python.display()),
                Err(reason) => {
                    println!("{:<18} FAILED: {reason}", format!("env {env}"));
                    failed.push(format!("env {env}"));
                }
            }
        }
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("error: could not set up {}", failed.join(", "));
        ExitCode::FAILURE
    }
}

fn list() {
    let root = paths::repo_root();
    let pairs = [
        (Model::Polynomial, Method::Is),
        (Model::Polynomial, Method::Hmc),
        (Model::Polynomial, Method::Nuts),
        (Model::Polynomial, Method::Vi),
        (Model::BetaBernoulli, Method::Is),
        (Model::Hmm, Method::Smc),
        (Model::Lgssm, Method::Smc),
        (Model::Hmm, Method::Exact),
        (Model::Lgssm, Method::Exact),
    ];
    println!("{:<16} {:<24} {:<10} {:<10} {:<40} methods", "framework", "display", "kind", "status", "version / reason");
    for adapter in adapters::registry(&root, LIST_PROBE_LIMIT) {
        let (status, detail) = match adapter.availability() {
            Availability::Available { version } => ("available", version),
            Availability::NeedsSetup { what } => ("setup", what),
            Availability::Skipped { reason } => ("skipped", reason),
        };
        let methods: Vec<String> = pairs.iter().filter(|(m, x)| adapter.supports(*m, *x)).map(|(m, x)| format!("{m}/{x}")).collect();
        let kind = serde_json::to_value(adapter.kind()).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        println!("{:<16} {:<24} {:<10} {:<10} {:<40} {}", adapter.name(), adapter.display_name(), kind, status, detail, methods.join(" "));
    }
}
