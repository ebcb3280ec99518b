//! `report.html`: one self-contained page per result folder, with the run's metadata, the
//! summary as a sortable and filterable table, and the figures inline as SVG.
//!
//! The page needs nothing beyond itself: its CSS and its small script are written into it, the
//! figures are the `.svg` files' markup, and nothing is fetched when it is viewed. Every string
//! that comes from the results (notes, messages, the command line, names) goes through
//! [`escape_html`].
//!
//! The page's script sorts the table when a column header is clicked (numeric columns by value,
//! blanks last in either direction) and filters its rows by a text box (substring over every
//! cell) and by framework, model, method and status. The URL can ask for the same state:
//! `report.html?sort=median_time&dir=desc&framework=gen-native&q=text` (also `model`, `method`,
//! `status`) goes through the very functions a header click and the filter controls call, which
//! is how `tests/report.rs` checks sorting and filtering from the DOM that headless Chromium
//! renders.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use crate::adapters::handcoded;
use crate::export::{self, RowStatus, RunState, SummaryRow};
use crate::plots;

/// File name of the report inside a result folder.
pub const REPORT_FILE: &str = "report.html";

/// Where the report's figures come from.
#[derive(Clone, Debug)]
pub enum Figures<'a> {
    /// Embed every `.svg` file directly in this folder (`figs/<result folder name>/`).
    Folder(&'a Path),
    /// No figures; the report says why (e.g. the run was started with `--no-plots`).
    Absent(String),
}

/// Writes `results_dir/report.html` from the folder's `metadata.json` and `summary.csv` and
/// the given figures, and returns its path.
pub fn write_report(results_dir: &Path, figures: &Figures<'_>) -> anyhow::Result<PathBuf> {
    let html = render(results_dir, figures)?;
    let path = results_dir.join(REPORT_FILE);
    std::fs::write(&path, html).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The report at the end of a run: with the figures in `figures` when they were drawn, else
/// saying why not (`--no-plots`, an interrupted run, or a failure the run already reported).
pub fn write_after_run(results_dir: &Path, figures: Option<&Path>, no_plots: bool, interrupted: bool) -> anyhow::Result<PathBuf> {
    let figures = match figures {
        Some(dir) => Figures::Folder(dir),
        None if no_plots => Figures::Absent("the run was started with --no-plots".to_owned()),
        None if interrupted => Figures::Absent("the run was interrupted before the figures were drawn".to_owned()),
        None => Figures::Absent("the figures could not be drawn (the run printed why)".to_owned()),
    };
    write_report(results_dir, &figures)
}

/// The `report` command: rewrites `results_dir/report.html` with the figures in `figs_dir`,
/// drawing them first with [`plots::plot_dir`] when that folder holds none (a failure to draw
/// them is said in the report, which is written anyway). Fails when `results_dir` has neither a
/// `metadata.json` nor a `summary.csv`.
pub fn redraw(results_dir: &Path, figs_dir: &Path) -> anyhow::Result<PathBuf> {
    if !results_dir.join("metadata.json").is_file() && !results_dir.join("summary.csv").is_file() {
        anyhow::bail!("{} is not a result folder: it has neither metadata.json nor summary.csv", results_dir.display());
    }
    let figures = if svg_files(figs_dir).is_empty() {
        match plots::plot_dir(results_dir, figs_dir) {
            Ok(_) => Figures::Folder(figs_dir),
            Err(e) => Figures::Absent(format!("the figures could not be drawn into {}: {e:#}", figs_dir.display())),
        }
    } else {
        Figures::Folder(figs_dir)
    };
    write_report(results_dir, &figures)
}

/// Escapes `&`, `<`, `>`, `"` and `'`, so that `s` is safe as HTML text and inside a quoted
/// attribute value.
#[must_use]
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole page for `results_dir` (what [`write_report`] writes).
pub fn render(results_dir: &Path, figures: &Figures<'_>) -> anyhow::Result<String> {
    let folder_name = results_dir.file_name().map_or_else(|| results_dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let metadata_path = results_dir.join("metadata.json");
    let metadata: Result<Value, String> = std::fs::read_to_string(&metadata_path)
        .map_err(|e| format!("cannot read {}: {e}", metadata_path.display()))
        .and_then(|t| serde_json::from_str(&t).map_err(|e| format!("{} does not parse: {e}", metadata_path.display())));
    let summary_path = results_dir.join("summary.csv");
    let rows: Result<Vec<SummaryRow>, String> = export::read_summary(&summary_path).map_err(|e| format!("{e:#}"));
    let suite = metadata.as_ref().ok().and_then(|m| m.get("suite")).and_then(Value::as_str).unwrap_or("?").to_owned();

    let mut h = String::with_capacity(1 << 16);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>Benchmark report: {} ({})</title>", escape_html(&suite), escape_html(&folder_name));
    let _ = writeln!(h, "<style>\n{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(h, "<h1>Benchmark report: <span class=\"mono\">{}</span></h1>", escape_html(&suite));
    let _ =
        writeln!(h, "<p class=\"sub\">Result folder <span class=\"mono\">{}</span></p>", escape_html(&results_dir.display().to_string()));
    h.push_str(
        "<nav class=\"toc\"><a href=\"#run\">Run</a> · <a href=\"#summary-section\">Summary</a> · <a href=\"#figures\">Figures</a></nav>\n",
    );

    render_state(&mut h, results_dir, metadata.as_ref().ok());
    h.push_str("<h2 id=\"run\">Run</h2>\n");
    match &metadata {
        Ok(m) => render_metadata(&mut h, m),
        Err(e) => {
            let _ = writeln!(h, "<div class=\"banner bad\">No metadata: {}</div>", escape_html(e));
        }
    }

    h.push_str("<h2 id=\"summary-section\">Summary</h2>\n");
    match &rows {
        Ok(rows) => render_summary(&mut h, rows),
        Err(e) => {
            let _ = writeln!(h, "<div class=\"banner bad\">No summary: {}</div>", escape_html(e));
        }
    }

    h.push_str("<h2 id=\"figures\">Figures</h2>\n");
    render_figures(&mut h, figures, rows.as_deref().unwrap_or_default());

    let _ = writeln!(
        h,
        "<footer>Written by benchmarks {} at {}. This file is self-contained: its styles, script and figures are inside it. \
         Rewrite it with <code>benchmarks report {}</code>.</footer>",
        escape_html(env!("CARGO_PKG_VERSION")),
        escape_html(&export::now_rfc3339()),
        escape_html(&shell_quote(&results_dir.display().to_string()))
    );
    let _ = writeln!(h, "<script>\n{SCRIPT}</script>\n</body>\n</html>");
    Ok(h)
}

/// `benchmarks compare`'s result as a self-contained page: one row per compared configuration
/// (old and new medians, new/old with its 95% interval, the verdict; regressions marked), then
/// the rows found in only one folder.
#[must_use]
pub fn render_comparison(c: &crate::compare::Comparison, old: &Path, new: &Path) -> String {
    use crate::compare::Verdict;
    let mut h = String::with_capacity(1 << 14);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Benchmark comparison</title>\n");
    let _ = writeln!(h, "<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>Benchmark comparison</h1>");
    let _ = writeln!(
        h,
        "<p class=\"sub\">old <span class=\"mono\">{}</span>, new <span class=\"mono\">{}</span>; a regression is significantly slower (95% interval above 1) by more than {:.0}%.</p>",
        escape_html(&old.display().to_string()),
        escape_html(&new.display().to_string()),
        c.threshold * 100.0
    );
    let regressions = c.regressions().count();
    let (class, text) = if regressions > 0 { ("bad", format!("{regressions} regressions")) } else { ("ok", "no regression".to_owned()) };
    let _ = writeln!(h, "<div class=\"banner {class}\">{} rows compared: {text}</div>", c.rows.len());
    h.push_str("<table class=\"summary\"><thead><tr><th>configuration</th><th>old median</th><th>new median</th><th>new / old [95% CI]</th><th>verdict</th></tr></thead><tbody>\n");
    for r in &c.rows {
        let class = match r.verdict {
            Verdict::Regression => " class=\"quality-bad\"",
            _ => "",
        };
        let _ = writeln!(
            h,
            "<tr{class}><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td>{}× [{}, {}]</td><td>{}</td></tr>",
            escape_html(&r.key.label()),
            format_seconds(r.old_median),
            format_seconds(r.new_median),
            format_ratio(r.ratio.ratio),
            format_ratio(r.ratio.low),
            format_ratio(r.ratio.high),
            r.verdict.as_str()
        );
    }
    h.push_str("</tbody></table>\n");
    if !c.unmatched.is_empty() {
        h.push_str("<h2>Not compared</h2>\n<ul>\n");
        for u in &c.unmatched {
            let _ = writeln!(h, "<li>{}</li>", escape_html(u));
        }
        h.push_str("</ul>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// The run's state as `export::run_state` tells it, as a banner when it did not simply finish.
fn render_state(h: &mut String, dir: &Path, metadata: Option<&Value>) {
    let state = export::run_state(dir);
    let recorded = metadata.and_then(|m| m.get("status")).and_then(Value::as_str).unwrap_or("");
    let class = match state {
        RunState::Finished => return,
        RunState::Interrupted | RunState::Running => "warn",
        RunState::EndedAbnormally | RunState::Unknown(_) => "bad",
    };
    let label = state_label(&state, recorded);
    let warning = state.warning(dir).unwrap_or_default();
    let _ = writeln!(
        h,
        "<div class=\"banner {class}\" id=\"run-state\"><strong>{}</strong>: {}</div>",
        escape_html(&label),
        escape_html(&warning)
    );
}

fn state_label(state: &RunState, recorded: &str) -> String {
    match state {
        RunState::Finished => "finished".to_owned(),
        RunState::Interrupted => "interrupted".to_owned(),
        RunState::Running => "running".to_owned(),
        RunState::EndedAbnormally if recorded == "aborted" => "aborted (ended abnormally)".to_owned(),
        RunState::EndedAbnormally => "ended abnormally".to_owned(),
        RunState::Unknown(_) => format!("unknown ({recorded})"),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k)).and_then(Value::as_str)
}

// Long on purpose: the HTML of the metadata section, in the order the page shows it.
fn render_metadata(h: &mut String, m: &Value) {
    let mut items: Vec<(&str, String)> = Vec::new();
    let text = |s: Option<&str>| escape_html(s.unwrap_or(""));
    items.push(("suite", format!("<span class=\"mono\">{}</span>", text(str_at(m, &["suite"])))));
    let recorded = str_at(m, &["status"]).unwrap_or("");
    // The folder's state was shown above; here the recorded word with the same verdict.
    items.push(("status", format!("<span class=\"status-word\">{}</span>", text(Some(recorded)))));
    let command: Vec<String> = m
        .get("command_line")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(shell_quote).collect())
        .unwrap_or_default();
    items.push(("command line", format!("<code class=\"cmd\">{}</code>", escape_html(&command.join(" ")))));
    let started = str_at(m, &["started"]);
    let finished = str_at(m, &["finished"]);
    items.push(("started", text(started)));
    let took = started.zip(finished).and_then(|(s, f)| {
        let s = chrono::DateTime::parse_from_rfc3339(s).ok()?;
        let f = chrono::DateTime::parse_from_rfc3339(f).ok()?;
        Some(format_duration((f - s).num_seconds()))
    });
    items.push((
        "finished",
        format!("{}{}", text(finished.or(Some("—"))), took.map(|t| format!(" ({})", escape_html(&t))).unwrap_or_default()),
    ));
    if let Some(machine) = m.get("machine") {
        let cpu = str_at(machine, &["cpu_model"]).unwrap_or("?");
        let logical = machine.get("logical_cores").and_then(Value::as_u64);
        let physical = machine.get("physical_cores").and_then(Value::as_u64);
        let cores = match (logical, physical) {
            (Some(l), Some(p)) => format!("{l} logical / {p} physical cores"),
            (Some(l), None) => format!("{l} logical cores"),
            _ => String::new(),
        };
        let memory = machine
            .get("memory_bytes")
            .and_then(Value::as_u64)
            .map(|b| format!("{:.1} GiB memory", b as f64 / f64::from(1u32 << 30)))
            .unwrap_or_default();
        let parts: Vec<String> = [cpu.to_owned(), cores, memory].into_iter().filter(|s| !s.is_empty()).collect();
        items.push(("machine", escape_html(&parts.join(", "))));
        let os = match (str_at(machine, &["os"]).unwrap_or(""), str_at(machine, &["kernel"]).unwrap_or("")) {
            (os, "") => os.to_owned(),
            (os, kernel) => format!("{os}, kernel {kernel}"),
        };
        items.push(("OS", escape_html(&os)));
        let gpus: Vec<&str> =
            machine.get("gpus").and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        items.push(("GPUs", escape_html(&if gpus.is_empty() { "none".to_owned() } else { gpus.join("; ") })));
        items.push(("rustc", text(str_at(machine, &["rustc"]))));
    }
    let commit = str_at(m, &["git", "commit"]).unwrap_or("unknown");
    let dirty = match m.get("git").and_then(|g| g.get("dirty")).and_then(Value::as_bool) {
        Some(true) => " <span class=\"warn-mark\">(with uncommitted changes)</span>",
        Some(false) => " (clean)",
        None => "",
    };
    items.push(("git commit", format!("<span class=\"mono\">{}</span>{dirty}", escape_html(commit))));
    items.push(("benchmarks", text(str_at(m, &["benchmarks_version"]))));

    // The run's facts and the frameworks side by side, the notes and configuration folded.
    h.push_str("<div class=\"runinfo\">\n<div>\n<table class=\"meta\" id=\"metadata\">\n");
    for (k, v) in &items {
        let _ = writeln!(h, "<tr><th>{}</th><td>{v}</td></tr>", escape_html(k));
    }
    h.push_str("</table>\n</div>\n<div>\n");

    // Frameworks: availability and version, skipped ones with their reason.
    let frameworks: &[Value] = m.get("frameworks").and_then(Value::as_array).map_or(&[], Vec::as_slice);
    h.push_str("<h3 class=\"inline\">Frameworks</h3>\n");
    if frameworks.is_empty() {
        h.push_str("<p class=\"note\">No framework was recorded.</p>\n");
    } else {
        h.push_str("<table class=\"meta frameworks\" id=\"frameworks\">\n<tr><th>framework</th><th>name</th><th>kind</th><th>availability</th><th>version or reason</th></tr>\n");
        for f in frameworks {
            let status = str_at(f, &["availability", "status"]).unwrap_or("?");
            let detail = str_at(f, &["availability", "version"])
                .or_else(|| str_at(f, &["availability", "reason"]))
                .or_else(|| str_at(f, &["availability", "what"]))
                .unwrap_or("");
            let class = if status == "skipped" { " class=\"skipped\"" } else { "" };
            let _ = writeln!(
                h,
                "<tr{class}><td>{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td><td class=\"wrap\">{}</td></tr>",
                escape_html(str_at(f, &["display_name"]).unwrap_or("")),
                escape_html(str_at(f, &["name"]).unwrap_or("")),
                escape_html(str_at(f, &["kind"]).unwrap_or("")),
                escape_html(status),
                escape_html(detail)
            );
        }
        h.push_str("</table>\n");
        let skipped: Vec<String> = frameworks
            .iter()
            .filter(|f| str_at(f, &["availability", "status"]) == Some("skipped"))
            .map(|f| {
                format!(
                    "<li><strong>{}</strong>: {}</li>",
                    escape_html(str_at(f, &["name"]).unwrap_or("")),
                    escape_html(str_at(f, &["availability", "reason"]).unwrap_or(""))
                )
            })
            .collect();
        if !skipped.is_empty() {
            let _ = writeln!(h, "<p>Skipped frameworks:</p>\n<ul id=\"skipped\">{}</ul>", skipped.join(""));
        }
    }
    h.push_str("</div>\n</div>\n");
    if let Some(notes) = m.get("notes").and_then(Value::as_array).filter(|n| !n.is_empty()) {
        h.push_str("<details><summary>Notes (units, memory kinds)</summary>\n<ul class=\"notes\">");
        for n in notes.iter().filter_map(Value::as_str) {
            let _ = write!(h, "<li>{}</li>", escape_html(n));
        }
        h.push_str("</ul>\n</details>\n");
    }
    if let Some(configuration) = m.get("configuration") {
        let pretty = serde_json::to_string_pretty(configuration).unwrap_or_default();
        let _ = writeln!(
            h,
            "<details><summary>Configuration (options and resolved grid)</summary><pre>{}</pre></details>",
            escape_html(&pretty)
        );
    }
}

/// One cell of the summary table: its markup (already escaped) and the value it sorts by.
struct Cell {
    html: String,
    /// Sort value: a number for numeric columns, text otherwise; `None` sorts last.
    sort: Option<String>,
    /// Tooltip (plain text, escaped when written).
    title: Option<String>,
}

impl Cell {
    fn empty() -> Self {
        Self { html: String::new(), sort: None, title: None }
    }

    fn text(s: &str) -> Self {
        if s.is_empty() {
            return Self::empty();
        }
        Self { html: escape_html(s), sort: Some(s.to_owned()), title: None }
    }

    fn number(v: Option<f64>, format: fn(f64) -> String) -> Self {
        match v {
            Some(v) => Self { html: escape_html(&format(v)), sort: Some(sort_number(v)), title: Some(v.to_string()) },
            None => Self::empty(),
        }
    }

    fn count(v: Option<usize>) -> Self {
        Self::number(v.map(|v| v as f64), |v| format!("{v}"))
    }
}

/// A number as `parseFloat` reads it; NaN is a blank (sorts last).
fn sort_number(v: f64) -> String {
    if v.is_nan() {
        String::new()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        v.to_string()
    }
}

/// A column of the summary table.
struct Column {
    /// Sort key (`?sort=`), usually the summary.csv column.
    key: &'static str,
    label: &'static str,
    /// What it holds (header tooltip).
    help: &'static str,
    numeric: bool,
    /// Long text that wraps.
    wrap: bool,
    /// Shown only when some row has a value.
    optional: bool,
    cell: fn(&SummaryRow) -> Cell,
}

fn columns() -> Vec<Column> {
    let c = |key: &'static str,
             label: &'static str,
             help: &'static str,
             numeric: bool,
             wrap: bool,
             optional: bool,
             cell: fn(&SummaryRow) -> Cell| Column { key, label, help, numeric, wrap, optional, cell };
    vec![
        c("framework", "framework", "display name (hover for the --frameworks name, version and device)", false, false, false, |r: &SummaryRow| {
            let mut cell = Cell::text(&r.display_name);
            let mut title = r.framework.clone();
            if !r.version.is_empty() {
                title.push_str(&format!(", {}", r.version));
            }
            if !r.device.is_empty() {
                title.push_str(&format!(", on {}", r.device));
            }
            cell.title = Some(title);
            cell
        }),
        c("model", "model", "model", false, false, false, |r| Cell::text(&r.model)),
        c("method", "method", "inference method", false, false, false, |r| Cell::text(&r.method)),
        c("n_points", "n", "n_points: observations (n, or T time steps)", true, false, false, |r| Cell::count(r.n_points)),
        c("noise_sd", "noise sd", "noise_sd: polynomial observation noise", true, false, true, |r| Cell::number(r.noise_sd, crate::data::format_noise_sd)),
        c("n_particles", "N", "n_particles: particles (IS, SMC)", true, false, true, |r| Cell::count(r.n_particles)),
        c("n_elbo_samples", "K", "n_elbo_samples: ELBO draws per step (ADVI)", true, false, true, |r| Cell::count(r.n_elbo_samples)),
        c("status", "status", "ok, failed or skipped (a failed or skipped row's message fills its measurement columns)", false, false, false, |r| {
            let mut cell = Cell::text(status_word(r.status));
            cell.title = (!r.message.is_empty()).then(|| r.message.clone());
            cell
        }),
        c("quality_ok", "quality", "quality_ok: whether the answer can be trusted (⚠: not)", false, false, false, |r| match r.quality_ok {
            Some(true) => Cell { html: "✓".to_owned(), sort: Some("ok".to_owned()), title: None },
            Some(false) => Cell { html: "<span class=\"warn-mark\">⚠ not ok</span>".to_owned(), sort: Some("not ok".to_owned()), title: Some(r.quality_reason.clone()) },
            None => Cell::empty(),
        }),
        c("median_time", "median time", "median_time: median of the timed repeats", true, false, false, |r| Cell::number(r.median_time, format_seconds)),
        c("iqr_time", "IQR", "iqr_time: interquartile range of the repeats", true, false, false, |r| Cell::number(r.iqr_time, format_seconds)),
        c(
            "time_ratio",
            "ratio to Rust [95% CI]",
            "time_ratio: median time over handcoded Rust's in the same configuration, with its bootstrap 95% interval (time_ratio_low, time_ratio_high); ≈ and grey: the interval holds 1, not significantly different",
            true,
            false,
            false,
            ratio_cell,
        ),
        c("repeats", "repeats", "repeats: timed repeats", true, false, false, |r| Cell::count(r.repeats)),
        c("compile_time", "compile", "compile_time: the first call, excluded from the repeats", true, false, false, |r| Cell::number(r.compile_time, format_seconds)),
        c("peak_memory_bytes", "peak memory", "peak_memory_bytes (hover for the kind: heap_high_water and process_max_rss are not comparable)", true, false, true, |r| {
            let mut cell = Cell::number(r.peak_memory_bytes.map(|b| b as f64), format_bytes);
            if cell.sort.is_some() {
                cell.title = Some(r.memory_kind.clone());
            }
            cell
        }),
        c("log_ml_error", "log-ML error", "log_ml_error: estimated minus exact log p(y), nats", true, false, true, |r| Cell::number(r.log_ml_error, format_number)),
        c("ess", "ESS", "ess: effective sample size", true, false, true, |r| Cell::number(r.ess, format_number)),
        c("ess_per_s", "ESS/s", "ess_per_s: ESS over the median time", true, false, true, |r| Cell::number(r.ess_per_s, format_number)),
        c("posterior_mean_error_sds", "mean error (sds)", "posterior_mean_error_sds: largest posterior-mean error in exact posterior sds", true, false, true, |r| {
            Cell::number(r.posterior_mean_error_sds, format_number)
        }),
        c("acceptance_rate", "accept.", "acceptance_rate: MCMC mean acceptance statistic", true, false, true, |r| Cell::number(r.acceptance_rate, format_number)),
        c("divergences", "div.", "divergences: HMC divergent transitions", true, false, true, |r| Cell::number(r.divergences.map(|d| d as f64), |v| format!("{v}"))),
        c("kl_posterior", "KL(q‖p)", "kl_posterior: KL from the fitted guide to the exact posterior, nats", true, false, true, |r| Cell::number(r.kl_posterior, format_number)),
        c("kl_mean_field", "KL(q‖q*)", "kl_mean_field: KL from the fitted guide to the mean-field optimum, nats", true, false, true, |r| Cell::number(r.kl_mean_field, format_number)),
        c("elbo_gap", "ELBO gap", "elbo_gap: final ELBO minus the exact log p(y), nats", true, false, true, |r| Cell::number(r.elbo_gap, format_number)),
        c("quality_reason", "quality reason", "quality_reason: ok, or why the answer is not trustworthy", false, true, false, |r| {
            let mut cell = Cell::text(&r.quality_reason);
            if r.quality_ok == Some(false) {
                cell.html = format!("<span class=\"warn-mark\">⚠</span> {}", cell.html);
            }
            cell
        }),
        c("flags", "flags", "flags: known defects", false, true, false, |r| Cell::text(&r.flags.replace(';', "; "))),
        c("notes", "notes", "notes", false, true, false, |r| Cell::text(&r.notes.replace(';', "; "))),
    ]
}

fn status_word(status: Option<RowStatus>) -> &'static str {
    match status {
        Some(RowStatus::Ok) => "ok",
        Some(RowStatus::Failed) => "failed",
        Some(RowStatus::Skipped) => "skipped",
        None => "",
    }
}

/// `1.37× [1.30, 1.43]`, with `≈` and the class `ns` when the interval holds 1; `baseline`
/// on handcoded Rust's own measured rows (sorting as 1).
fn ratio_cell(r: &SummaryRow) -> Cell {
    let Some(ratio) = r.time_ratio else {
        if r.framework == handcoded::NAME && r.status == Some(RowStatus::Ok) {
            return Cell {
                html: "<span class=\"baseline\">baseline</span>".to_owned(),
                sort: Some("1".to_owned()),
                title: Some("handcoded Rust: the baseline of every ratio".to_owned()),
            };
        }
        return Cell::empty();
    };
    let interval = r.time_ratio_low.zip(r.time_ratio_high);
    let holds_one = interval.is_some_and(|(lo, hi)| lo <= 1.0 && 1.0 <= hi);
    let mut text = format!("{}×", format_ratio(ratio));
    if let Some((lo, hi)) = interval {
        text.push_str(&format!(" [{}, {}]", format_ratio(lo), format_ratio(hi)));
    }
    let (html, title) = if holds_one {
        (
            format!("<span class=\"ns\">≈ {}</span>", escape_html(&text)),
            "the 95% interval holds 1: not significantly different from handcoded Rust",
        )
    } else {
        (escape_html(&text), "95% bootstrap interval of the ratio of medians")
    };
    Cell { html, sort: Some(sort_number(ratio)), title: Some(title.to_owned()) }
}

// Long on purpose: the HTML of the summary table and its filter controls, in page order.
fn render_summary(h: &mut String, rows: &[SummaryRow]) {
    let columns: Vec<Column> = columns().into_iter().filter(|c| !c.optional || rows.iter().any(|r| (c.cell)(r).sort.is_some())).collect();
    let count = |s: RowStatus| rows.iter().filter(|r| r.status == Some(s)).count();
    let bad = rows.iter().filter(|r| r.quality_ok == Some(false)).count();
    let _ = writeln!(
        h,
        "<p>{} rows: {} ok, {} failed, {} skipped; {} with <code>quality_ok</code> false (marked ⚠). \
         Click a column header to sort (again to reverse); hover a header for what it holds.</p>",
        rows.len(),
        count(RowStatus::Ok),
        count(RowStatus::Failed),
        count(RowStatus::Skipped),
        bad
    );
    if rows.is_empty() {
        h.push_str("<p class=\"note\">summary.csv holds no rows.</p>\n");
    }

    // Filters: a text box and one select per column that names a group.
    h.push_str("<div class=\"controls\" id=\"controls\">\n<label>Filter <input type=\"search\" id=\"q\" placeholder=\"text in any cell\" size=\"28\"></label>\n");
    let distinct = |f: fn(&SummaryRow) -> (String, String)| {
        let mut values: BTreeMap<String, String> = BTreeMap::new();
        for r in rows {
            let (value, label) = f(r);
            values.entry(value).or_insert(label);
        }
        values
    };
    let selects: [(&str, &str, BTreeMap<String, String>); 4] = [
        (
            "framework",
            "framework",
            distinct(|r| (r.framework.clone(), if r.display_name.is_empty() { r.framework.clone() } else { r.display_name.clone() })),
        ),
        ("model", "model", distinct(|r| (r.model.clone(), r.model.clone()))),
        ("method", "method", distinct(|r| (r.method.clone(), r.method.clone()))),
        ("status", "status", distinct(|r| (status_word(r.status).to_owned(), status_word(r.status).to_owned()))),
    ];
    for (key, label, values) in &selects {
        let _ = write!(h, "<label>{label} <select id=\"f-{key}\" data-filter=\"{key}\"><option value=\"\">all</option>");
        for (value, text) in values {
            let _ = write!(h, "<option value=\"{}\">{}</option>", escape_html(value), escape_html(text));
        }
        h.push_str("</select></label>\n");
    }
    let _ = writeln!(
        h,
        "<button type=\"button\" id=\"clear\">Clear</button> <span id=\"shown\">{} of {} rows shown</span>\n</div>",
        rows.len(),
        rows.len()
    );

    h.push_str("<div class=\"tablewrap\">\n<table class=\"summary\" id=\"summary\">\n<thead><tr>");
    for c in &columns {
        let _ = write!(
            h,
            "<th data-key=\"{}\" data-type=\"{}\" title=\"{}\" tabindex=\"0\">{}</th>",
            c.key,
            if c.numeric { "num" } else { "text" },
            escape_html(c.help),
            escape_html(c.label)
        );
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (i, r) in rows.iter().enumerate() {
        let status = status_word(r.status);
        let mut classes = vec![format!("status-{}", if status.is_empty() { "unknown" } else { status })];
        if r.quality_ok == Some(false) {
            classes.push("quality-bad".to_owned());
        }
        if r.this_system {
            classes.push("this-system".to_owned());
        }
        let _ = write!(
            h,
            "<tr class=\"{}\" data-i=\"{i}\" data-framework=\"{}\" data-model=\"{}\" data-method=\"{}\" data-status=\"{}\">",
            classes.join(" "),
            escape_html(&r.framework),
            escape_html(&r.model),
            escape_html(&r.method),
            escape_html(status)
        );
        // A failed or skipped row has no measurements: its message fills their columns.
        let span = (matches!(r.status, Some(RowStatus::Failed | RowStatus::Skipped)) && !r.message.is_empty())
            .then(|| (columns.iter().position(|c| c.key == "median_time"), columns.iter().position(|c| c.key == "quality_reason")))
            .and_then(|(from, to)| from.zip(to));
        for (k, c) in columns.iter().enumerate() {
            if let Some((from, to)) = span {
                if k == from {
                    let _ = write!(
                        h,
                        "<td class=\"msg\" colspan=\"{}\" data-col=\"message\" data-v=\"{}\"><div>{}</div></td>",
                        to - from,
                        escape_html(&r.message),
                        escape_html(&r.message)
                    );
                }
                if (from..to).contains(&k) {
                    continue;
                }
            }
            let cell = (c.cell)(r);
            let class = match (c.numeric, c.wrap) {
                (true, _) => " class=\"num\"",
                (false, true) => " class=\"wrap\"",
                _ => "",
            };
            let title = cell.title.map(|t| format!(" title=\"{}\"", escape_html(&t))).unwrap_or_default();
            let _ = write!(
                h,
                "<td{class} data-col=\"{}\" data-v=\"{}\"{title}>{}</td>",
                c.key,
                escape_html(cell.sort.as_deref().unwrap_or("")),
                cell.html
            );
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n</div>\n");
}

/// Figure kinds by file-name prefix, in the order they are shown within a family.
const KINDS: [(&str, &str); 6] = [
    ("time_", "time"),
    ("scaling_data_size_", "scaling with data size"),
    ("scaling_particles_", "scaling with particle count"),
    ("ess_per_s_", "ESS per second"),
    ("accuracy_", "accuracy against time"),
    ("memory_", "peak memory"),
];

/// The `.svg` files directly in `dir`, sorted by name (none when it cannot be read).
fn svg_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "svg")).collect();
    files.sort();
    files
}

/// Splits a figure's file stem into its kind's index in [`KINDS`] and its family
/// (`time_polynomial_is_sd1.0` → `(0, "polynomial_is_sd1.0")`).
fn split_stem(stem: &str) -> (usize, String) {
    KINDS
        .iter()
        .enumerate()
        .find_map(|(i, (prefix, _))| stem.strip_prefix(prefix).map(|f| (i, f.to_owned())))
        .unwrap_or((KINDS.len(), stem.to_owned()))
}

/// The family stem of a row, as `plots` names its figures.
fn family_of(r: &SummaryRow) -> String {
    let mut s = format!("{}_{}", r.model, r.method);
    if let Some(sd) = r.noise_sd {
        s.push_str(&format!("_sd{}", crate::data::format_noise_sd(sd)));
    }
    s
}

/// A heading for a family stem (`polynomial_is_sd0.05` → `Polynomial regression, importance
/// sampling, noise sd 0.05`).
fn family_title(family: &str) -> String {
    const MODELS: [(&str, &str); 4] = [
        ("beta_bernoulli", "Beta-Bernoulli"),
        ("polynomial", "Polynomial regression"),
        ("hmm", "Discrete HMM"),
        ("lgssm", "Linear-Gaussian state space"),
    ];
    const METHODS: [(&str, &str); 6] = [
        ("is", "importance sampling"),
        ("hmc", "fixed-step HMC"),
        ("nuts", "NUTS (adapted)"),
        ("smc", "bootstrap particle filter"),
        ("vi", "mean-field ADVI"),
        ("exact", "exact filtering"),
    ];
    let Some((model, rest)) =
        MODELS.iter().find_map(|(k, name)| family.strip_prefix(*k).and_then(|r| r.strip_prefix('_')).map(|r| (*name, r)))
    else {
        return family.to_owned();
    };
    let (method, sd) = match rest.split_once("_sd") {
        Some((m, sd)) => (m, Some(sd)),
        None => (rest, None),
    };
    let method = METHODS.iter().find(|(k, _)| *k == method).map_or(method, |(_, name)| *name);
    match sd {
        Some(sd) => format!("{model}, {method}, noise sd {sd}"),
        None => format!("{model}, {method}"),
    }
}

/// The markup of an SVG file for inline use: the `<svg>` element without an XML prolog or
/// doctype; `None` for anything that is not a plain drawing (a script, event handlers, foreign
/// content), which is left out rather than trusted.
fn inline_svg(text: &str) -> Option<&str> {
    let mut s = text.trim_start_matches('\u{feff}').trim();
    while s.starts_with("<?") || s.starts_with("<!") {
        s = s[s.find('>')? + 1..].trim_start();
    }
    let lower = s.to_ascii_lowercase();
    let unsafe_markup = ["<script", "<foreignobject", "<iframe", "<image", "javascript:", "href="].iter().any(|bad| lower.contains(bad))
        || has_event_handler(&lower);
    (s.starts_with("<svg") && !unsafe_markup).then_some(s.trim_end())
}

fn render_figures(h: &mut String, figures: &Figures<'_>, rows: &[SummaryRow]) {
    let dir = match figures {
        Figures::Absent(why) => {
            let _ = writeln!(h, "<p class=\"note\" id=\"no-figures\">No figures: {}. Draw them and rewrite this report with <code>benchmarks report DIR</code>.</p>", escape_html(why));
            return;
        }
        Figures::Folder(dir) => dir,
    };
    let files = svg_files(dir);
    if files.is_empty() {
        let _ = writeln!(
            h,
            "<p class=\"note\" id=\"no-figures\">No figures in <span class=\"mono\">{}</span> (a run without measured rows has none).</p>",
            escape_html(&dir.display().to_string())
        );
        return;
    }
    let _ = writeln!(
        h,
        "<p>{} figures from <span class=\"mono\">{}</span> (each also as PNG and PDF there). Handcoded Rust is dark grey, this system's engines red and orange; \
         pale bars and <code>*</code> mark answers that are not trustworthy; <code>≈</code> marks a ratio whose 95% interval holds 1.</p>",
        files.len(),
        escape_html(&dir.display().to_string())
    );
    // Families in the order the summary first names them, then any others by name.
    let mut order: Vec<String> = Vec::new();
    for r in rows {
        let f = family_of(r);
        if !order.contains(&f) {
            order.push(f);
        }
    }
    let mut groups: BTreeMap<(usize, String), Vec<(usize, PathBuf)>> = BTreeMap::new();
    for path in files {
        let stem = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let (kind, family) = split_stem(&stem);
        let rank = order.iter().position(|f| *f == family).unwrap_or(order.len());
        groups.entry((rank, family)).or_default().push((kind, path));
    }
    h.push_str("<nav class=\"toc\" id=\"figure-families\">");
    let links: Vec<String> =
        groups.keys().map(|(_, f)| format!("<a href=\"#fam-{}\">{}</a>", escape_html(&anchor(f)), escape_html(&family_title(f)))).collect();
    h.push_str(&links.join(" · "));
    h.push_str("</nav>\n");
    for ((_, family), mut figs) in groups {
        figs.sort();
        let _ = writeln!(
            h,
            "<section class=\"family\" id=\"fam-{}\">\n<h3>{}</h3>\n<div class=\"figgrid\">",
            escape_html(&anchor(&family)),
            escape_html(&family_title(&family))
        );
        for (kind, path) in figs {
            let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            let caption = KINDS.get(kind).map_or("figure", |(_, k)| *k);
            match std::fs::read_to_string(&path) {
                Ok(text) => match inline_svg(&text) {
                    Some(svg) => {
                        let _ = writeln!(
                            h,
                            "<figure>\n{svg}\n<figcaption>{} <span class=\"mono\">{}</span></figcaption>\n</figure>",
                            escape_html(caption),
                            escape_html(&name)
                        );
                    }
                    None => {
                        let _ = writeln!(h, "<p class=\"note\">{} left out: not a plain SVG drawing.</p>", escape_html(&name));
                    }
                },
                Err(e) => {
                    let _ = writeln!(h, "<p class=\"note\">cannot read {}: {}</p>", escape_html(&name), escape_html(&e.to_string()));
                }
            }
        }
        h.push_str("</div>\n</section>\n");
    }
}

/// Whether some tag in `markup` has an attribute whose name starts with `on` (an event
/// handler). Conservative: an attribute value with a word starting `on` counts too.
fn has_event_handler(markup: &str) -> bool {
    markup
        .split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>').map(|(tag, _)| tag))
        .any(|tag| tag.split(char::is_whitespace).skip(1).any(|attr| attr.starts_with("on")))
}

/// A string made safe for an `id` and a `#fragment`.
fn anchor(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect()
}

/// An argument as a POSIX shell would need it quoted.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_-./,=:@%+".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

fn format_duration(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// Three significant digits, switching to `1.23e7` outside [1e-3, 1e5).
fn format_number(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".to_owned()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.2e}")
    } else {
        let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
        format!("{v:.decimals$}")
    }
}

/// A ratio with three significant digits (`0.512`, `1.37`, `23.4`, `156`).
fn format_ratio(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let a = v.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    format!("{v:.decimals$}")
}

/// Seconds with three significant digits in ns, µs, ms or s.
fn format_seconds(t: f64) -> String {
    if !t.is_finite() {
        return t.to_string();
    }
    let (v, unit) = crate::units::seconds(t);
    format!("{} {unit}", format_number(v))
}

fn format_bytes(b: f64) -> String {
    let (v, unit) = crate::units::bytes(b);
    format!("{} {unit}", format_number(v))
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Liberation Sans", sans-serif; margin: 0 24px 40px; color: #1b1b1b; background: #fff; }
h1 { font-size: 22px; margin: 18px 0 2px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 3px; border-bottom: 1px solid #d0d0d0; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { margin: 0 0 6px; color: #555; }
.mono, code, pre { font-family: "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px; }
code.cmd { white-space: pre-wrap; overflow-wrap: anywhere; background: #f5f5f5; padding: 1px 4px; border-radius: 3px; }
pre { background: #f7f7f7; padding: 8px; max-height: 24em; overflow: auto; }
nav.toc { margin: 4px 0 8px; color: #555; }
nav.toc a { color: #1f5fa8; text-decoration: none; }
nav.toc a:hover { text-decoration: underline; }
.banner { padding: 8px 12px; border-radius: 4px; margin: 10px 0; max-width: 1100px; }
.banner.warn { background: #fff3cd; border: 1px solid #e2c25b; }
.banner.bad { background: #fde2e1; border: 1px solid #de9a95; }
.banner.ok { background: #e3f4e1; border: 1px solid #9bc596; }
.note { color: #555; font-style: italic; }
table.meta { border-collapse: collapse; }
table.meta th { text-align: left; font-weight: 600; color: #444; padding: 2px 18px 2px 0; vertical-align: top; white-space: nowrap; }
table.meta td { padding: 2px 14px 2px 0; vertical-align: top; }
table.meta td.wrap { max-width: 60em; overflow-wrap: anywhere; }
table.frameworks tr.skipped td { color: #777; }
.runinfo { display: flex; flex-wrap: wrap; gap: 8px 48px; align-items: flex-start; }
h3.inline { margin-top: 0; }
details { margin: 8px 0; }
details > summary { cursor: pointer; color: #333; font-weight: 600; }
ul.notes { margin: 4px 0; padding-left: 20px; max-width: 1100px; }
.controls { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; margin: 8px 0; }
.controls select, .controls input, .controls button { font: inherit; font-size: 13px; }
#shown { color: #555; }
.tablewrap { overflow: auto; max-height: 75vh; border: 1px solid #c8c8c8; }
table.summary { border-collapse: separate; border-spacing: 0; font-size: 12.5px; white-space: nowrap; width: max-content; }
table.summary th { position: sticky; top: 0; z-index: 1; background: #eef0f3; text-align: left; font-weight: 600; padding: 5px 7px; border-bottom: 1px solid #b8bcc2; cursor: pointer; user-select: none; }
table.summary th:hover { background: #e0e4ea; }
table.summary th[aria-sort="ascending"]::after { content: " \25B2"; font-size: 10px; }
table.summary th[aria-sort="descending"]::after { content: " \25BC"; font-size: 10px; }
table.summary td { padding: 3px 7px; border-bottom: 1px solid #ececec; vertical-align: top; }
table.summary tbody tr:hover td { background: #f3f7fc; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.summary td.wrap { white-space: normal; min-width: 10em; max-width: 26em; overflow-wrap: anywhere; }
table.summary td.msg { white-space: normal; }
table.summary td.msg div { max-width: 70em; overflow-wrap: anywhere; color: #8c1d18; }
tr.this-system td[data-col="framework"] { font-weight: 600; color: #a11d1d; }
tr.quality-bad td { background: #fff2de; }
tr.quality-bad:hover td { background: #ffe8c7; }
tr.status-failed td { background: #fde4e2; }
tr.status-skipped td { background: #f4f4f4; color: #6b6b6b; }
td[data-col="status"] { font-weight: 600; }
tr.status-failed td[data-col="status"] { color: #b3261e; }
.warn-mark { color: #b45309; font-weight: 600; }
.ns { color: #7a7a7a; }
.baseline { color: #7a7a7a; font-style: italic; }
section.family { margin-top: 10px; }
.figgrid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 820px), 1fr)); gap: 14px 18px; align-items: start; }
figure { margin: 0; }
figure svg { display: block; width: 100%; max-width: 1100px; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 12px; color: #555; margin-top: 2px; }
footer { margin-top: 36px; color: #777; font-size: 12px; }
"#;

const SCRIPT: &str = r#"
(function () {
  'use strict';
  var table = document.getElementById('summary');
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
  var current = { key: null, dir: 'asc' };

  function sortValue(row, key, numeric) {
    var td = row.querySelector('td[data-col="' + key + '"]');
    var v = td ? td.getAttribute('data-v') : '';
    if (v === null || v === '') { return null; }
    if (!numeric) { return v; }
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }

  // Sorts the rows by column `key`, `dir` 'asc' or 'desc'; blanks go last either way and ties
  // keep the order of summary.csv. Header clicks and ?sort= both come here.
  function sortBy(key, dir) {
    var th = heads.filter(function (h) { return h.getAttribute('data-key') === key; })[0];
    if (!th) { return false; }
    var numeric = th.getAttribute('data-type') === 'num';
    var sign = dir === 'desc' ? -1 : 1;
    var keyed = rows.map(function (row) {
      return { row: row, i: +row.getAttribute('data-i'), v: sortValue(row, key, numeric) };
    });
    keyed.sort(function (a, b) {
      if (a.v === null || b.v === null) {
        if (a.v === b.v) { return a.i - b.i; }
        return a.v === null ? 1 : -1;
      }
      var c = numeric ? (a.v < b.v ? -1 : a.v > b.v ? 1 : 0) : collator.compare(a.v, b.v);
      return c !== 0 ? sign * c : a.i - b.i;
    });
    keyed.forEach(function (k) { tbody.appendChild(k.row); });
    heads.forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir === 'desc' ? 'descending' : 'ascending');
    table.setAttribute('data-sort', key);
    table.setAttribute('data-dir', dir);
    current = { key: key, dir: dir };
    return true;
  }

  function headerClicked(th) {
    var key = th.getAttribute('data-key');
    sortBy(key, current.key === key && current.dir === 'asc' ? 'desc' : 'asc');
  }
  heads.forEach(function (th) {
    th.addEventListener('click', function () { headerClicked(th); });
    th.addEventListener('keydown', function (e) {
      if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); headerClicked(th); }
    });
  });

  var q = document.getElementById('q');
  var selects = Array.prototype.slice.call(document.querySelectorAll('select[data-filter]'));
  var shown = document.getElementById('shown');

  // Shows the rows that hold the text box's text in some cell and match every select.
  function applyFilters() {
    var needle = q.value.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (row) {
      var ok = selects.every(function (s) {
        return s.value === '' || row.getAttribute('data-' + s.getAttribute('data-filter')) === s.value;
      }) && (needle === '' || row.textContent.toLowerCase().indexOf(needle) >= 0);
      row.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = n + ' of ' + rows.length + ' rows shown';
  }
  q.addEventListener('input', applyFilters);
  selects.forEach(function (s) { s.addEventListener('change', applyFilters); });
  document.getElementById('clear').addEventListener('click', function () {
    q.value = '';
    selects.forEach(function (s) { s.value = ''; });
    applyFilters();
  });

  // The URL can set the same state: ?sort=KEY&dir=asc|desc&q=TEXT&framework=...&model=...
  // &method=...&status=... (used by tests/report.rs through headless Chromium).
  var params = new URLSearchParams(window.location.search);
  if (params.has('q')) { q.value = params.get('q'); }
  selects.forEach(function (s) {
    var v = params.get(s.getAttribute('data-filter'));
    if (v !== null) { s.value = v; }
  });
  applyFilters();
  if (params.has('sort')) { sortBy(params.get('sort'), params.get('dir') === 'desc' ? 'desc' : 'asc'); }
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y")</script> it's"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; it&#39;s"
        );
        assert_eq!(escape_html("plain µs ≈ 1.0×"), "plain µs ≈ 1.0×");
        assert_eq!(escape_html("&amp;"), "&amp;amp;", "already escaped text is escaped again, not trusted");
    }

    #[test]
    fn numbers_are_formatted_for_reading() {
        assert_eq!(format_seconds(1.7456e-5), "17.5 µs");
        assert_eq!(format_seconds(0.00123), "1.23 ms");
        assert_eq!(format_seconds(2.5), "2.50 s");
        assert_eq!(format_ratio(1.3712), "1.37");
        assert_eq!(format_ratio(0.5123), "0.512");
        assert_eq!(format_ratio(156.2), "156");
        assert_eq!(format_number(230.2), "230");
        assert_eq!(format_number(-0.06952), "-0.0695");
        assert_eq!(format_number(13_187_419.8), "1.32e7");
        assert_eq!(format_bytes(32048.0), "32.0 kB");
        assert_eq!(shell_quote("--out"), "--out");
        assert_eq!(shell_quote("it's <x>"), r"'it'\''s <x>'");
    }

    #[test]
    fn ratios_show_their_interval_and_whether_it_holds_one() {
        let row = |lo, hi| SummaryRow {
            framework: "gen-native".into(),
            time_ratio: Some(1.37),
            time_ratio_low: Some(lo),
            time_ratio_high: Some(hi),
            ..SummaryRow::default()
        };
        let cell = ratio_cell(&row(1.30, 1.43));
        assert_eq!(cell.html, "1.37× [1.30, 1.43]");
        let cell = ratio_cell(&row(0.95, 1.43));
        assert!(cell.html.contains("class=\"ns\"") && cell.html.contains("≈ 1.37× [0.950, 1.43]"), "{}", cell.html);
    }

    #[test]
    fn figure_names_group_by_family() {
        assert_eq!(split_stem("time_polynomial_is_sd0.05"), (0, "polynomial_is_sd0.05".to_owned()));
        assert_eq!(split_stem("scaling_particles_hmm_smc"), (2, "hmm_smc".to_owned()));
        assert_eq!(family_title("polynomial_is_sd0.05"), "Polynomial regression, importance sampling, noise sd 0.05");
        assert_eq!(family_title("beta_bernoulli_is"), "Beta-Bernoulli, importance sampling");
        assert_eq!(family_title("mystery"), "mystery");
    }

    #[test]
    fn only_plain_svg_drawings_are_inlined() {
        let ok = "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"10\"><text x=\"1\" y=\"1\">only a word</text></svg>\n";
        assert_eq!(inline_svg(ok), Some("<svg width=\"10\" height=\"10\"><text x=\"1\" y=\"1\">only a word</text></svg>"));
        assert_eq!(inline_svg("<svg><script>alert(1)</script></svg>"), None);
        assert_eq!(inline_svg("<svg onload=\"alert(1)\"></svg>"), None);
        assert_eq!(inline_svg("<html></html>"), None);
    }

    /// A result folder with every string field carrying markup: none of it may reach the page
    /// as markup, and the page must reference nothing outside itself.
    #[test]
    fn data_strings_are_escaped_and_the_page_is_self_contained() {
        let dir = std::env::temp_dir().join(format!("benchmarks-report-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let evil = "<script>alert('x')</script>&\"";
        let metadata = serde_json::json!({
            "suite": "test", "status": "finished", "command_line": ["benchmarks", "test", "--out", evil],
            "started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:01:05+00:00",
            "configuration": {"note": evil}, "frameworks": [
                {"name": "x", "display_name": evil, "this_system": false, "kind": "python", "availability": {"status": "skipped", "reason": evil}}
            ],
            "machine": {"cpu_model": evil, "logical_cores": 2, "physical_cores": 1, "memory_bytes": 1u64 << 30, "os": "os", "kernel": "k", "gpus": [], "rustc": null},
            "git": {"commit": "abc", "dirty": true}, "benchmarks_version": "0.1.0", "notes": [evil]
        });
        std::fs::write(dir.join("metadata.json"), serde_json::to_string(&metadata).unwrap()).unwrap();
        let rows = [
            SummaryRow {
                framework: "x".into(),
                display_name: evil.into(),
                model: "polynomial".into(),
                method: "is".into(),
                status: Some(RowStatus::Ok),
                median_time: Some(1e-3),
                quality_ok: Some(false),
                quality_reason: evil.into(),
                notes: evil.into(),
                flags: evil.into(),
                ..SummaryRow::default()
            },
            SummaryRow {
                framework: "x".into(),
                display_name: evil.into(),
                status: Some(RowStatus::Failed),
                message: evil.into(),
                ..SummaryRow::default()
            },
        ];
        let mut w = csv::Writer::from_path(dir.join("summary.csv")).unwrap();
        for r in &rows {
            w.serialize(r).unwrap();
        }
        w.flush().unwrap();
        drop(w);

        let path = write_report(&dir, &Figures::Absent("the run was started with --no-plots".into())).unwrap();
        let html = std::fs::read_to_string(&path).unwrap();
        assert!(!html.contains("<script>alert"), "unescaped data in the page");
        assert_eq!(html.matches("<script").count(), 1, "only the page's own script");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"));
        assert!(html.contains("quality-bad") && html.contains("status-failed"));
        assert!(html.contains("--no-plots") && html.contains("id=\"no-figures\""));
        assert!(html.contains("1 min 5 s"), "the run's duration");
        assert_eq!(html.matches(" data-i=\"").count(), rows.len());
        for external in ["src=", "<link", "@import", "url(", "http://", "https://"] {
            assert!(!html.contains(external), "the page refers outside itself: {external}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
