//! Figures from `summary.csv` rows, each written as SVG, PNG and PDF (through svg2pdf):
//!
//! - `time_<family>`: grouped bars of the median time per configuration on a log axis, fastest
//!   first, each bar labelled with its ratio to handcoded Rust in the same configuration;
//! - `scaling_data_size_<family>` and `scaling_particles_<family>`: median time against data size
//!   and against particle count, log-log;
//! - `ess_per_s_<family>`: effective samples per second, best first;
//! - `accuracy_<family>`: error against the exact answer (log-ML error, or posterior-mean error in
//!   posterior sds for HMC) against median time;
//! - `memory_<family>`: peak memory.
//!
//! A family is a model, a method and (for the polynomial) a noise level. This system's rows are
//! drawn in warm colours with a heavy outline; a row whose answer is not trustworthy
//! (`quality_ok = false`) is drawn pale and marked `*`.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::export::{self, RowStatus, SummaryRow};

type DrawResult<T = ()> = Result<T, Box<dyn Error>>;

const FONT: &str = "sans-serif";
const HEADER_PX: u32 = 96;
/// Height of one footnote line.
const FOOTER_PX: u32 = 22;
const PANEL_PX: u32 = 400;
const BAR_PX: u32 = 46;
/// Label hint for log axes: with fewer than 10 hinted labels per decade spanned, plotters labels
/// every decade and nothing else (more adds 2x..9x sub-ticks whose labels collide).
const DECADE_LABELS: usize = 9;

/// Draws every figure for the results in `results_dir` (its `summary.csv`) into `figs_dir`;
/// returns the files written.
pub fn plot_dir(results_dir: &Path, figs_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let summary = results_dir.join("summary.csv");
    let rows = export::read_summary(&summary)?;
    std::fs::create_dir_all(figs_dir).with_context(|| format!("cannot create {}", figs_dir.display()))?;
    let mut written = Vec::new();
    for (stem, figure) in figures(&rows) {
        written.extend(save(&figure, figs_dir, &stem).with_context(|| format!("drawing {stem}"))?);
    }
    Ok(written)
}

/// Removes the figure files (`.svg`, `.png`, `.pdf`) directly in `figs_dir`, so that figures
/// of an overwritten run do not stay beside the new ones; anything else is left.
pub fn clear_figures(figs_dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(figs_dir) else { return Ok(()) };
    for path in entries.filter_map(Result::ok).map(|e| e.path()) {
        let figure = path.extension().is_some_and(|e| e == "svg" || e == "png" || e == "pdf");
        if figure && path.is_file() {
            std::fs::remove_file(&path).with_context(|| format!("cannot remove the old figure {}", path.display()))?;
        }
    }
    Ok(())
}

/// A model, a method and (polynomial) a noise level: the rows one figure compares.
#[derive(Clone, Debug, PartialEq, PartialOrd)]
struct Family {
    model: String,
    method: String,
    noise_sd: Option<f64>,
    /// MCMC chains when more than one (a 4-chain NUTS row is its own family).
    chains: Option<usize>,
}

impl Family {
    fn of(row: &SummaryRow) -> Self {
        Self { model: row.model.clone(), method: row.method.clone(), noise_sd: row.noise_sd, chains: row.n_chains.filter(|&c| c > 1) }
    }

    fn stem(&self) -> String {
        let mut s = format!("{}_{}", self.model, self.method);
        if let Some(sd) = self.noise_sd {
            s.push_str(&format!("_sd{}", crate::data::format_noise_sd(sd)));
        }
        if let Some(c) = self.chains {
            s.push_str(&format!("_{c}chains"));
        }
        s
    }

    fn title(&self) -> String {
        let model = match self.model.as_str() {
            "polynomial" => "Polynomial regression",
            "beta_bernoulli" => "Beta-Bernoulli",
            "hmm" => "Discrete HMM",
            "lgssm" => "Linear-Gaussian state space",
            other => other,
        };
        let method = match self.method.as_str() {
            "is" => "importance sampling",
            "hmc" => "fixed-step HMC",
            "nuts" => "NUTS (adapted)",
            "smc" => "bootstrap particle filter",
            "vi" => "mean-field ADVI",
            "exact" => "exact filtering",
            other => other,
        };
        let chains = self.chains.map_or_else(String::new, |c| format!(", {c} chains"));
        match self.noise_sd {
            Some(sd) => format!("{model}, {method}{chains}, noise sd {}", crate::data::format_noise_sd(sd)),
            None => format!("{model}, {method}{chains}"),
        }
    }

    /// Polynomial IS splits panels by particle count, ADVI by ELBO draws per step;
    /// everything else has one panel.
    fn panel_of(&self, row: &SummaryRow) -> Option<usize> {
        match (self.model.as_str(), self.method.as_str()) {
            ("polynomial", "is") => Some(row.n_particles.unwrap_or(0)),
            (_, "vi") => Some(row.n_elbo_samples.unwrap_or(0)),
            _ => None,
        }
    }

    /// Polynomial groups by data size; the other models by particle count (exact filtering
    /// has none: one group).
    fn group_of(&self, row: &SummaryRow) -> (usize, String) {
        if self.method == "exact" {
            (0, "T = ".to_owned() + &row.n_points.unwrap_or(0).to_string())
        } else if self.model == "polynomial" {
            let n = row.n_points.unwrap_or(0);
            (n, format!("n = {n}"))
        } else {
            let n = row.n_particles.unwrap_or(0);
            (n, format!("N = {n}"))
        }
    }
}

/// How a framework is drawn.
#[derive(Clone, Debug)]
struct Look {
    name: String,
    display: String,
    color: RGBColor,
    this_system: bool,
}

const BASELINE: &str = "handcoded-rust";
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];
const THIS_SYSTEM: [RGBColor; 2] = [RGBColor(214, 39, 40), RGBColor(255, 127, 14)];

/// Colours: handcoded Rust dark grey, this system's engines red and orange, the rest a palette,
/// assigned in the order of summary.csv so a framework keeps its colour across a run's figures.
fn looks(rows: &[SummaryRow]) -> Vec<Look> {
    let mut names: Vec<(u8, String, String, bool)> = Vec::new();
    for r in rows {
        if !names.iter().any(|(_, n, _, _)| *n == r.framework) {
            let rank = if r.framework == BASELINE {
                0
            } else if r.this_system {
                1
            } else {
                2
            };
            names.push((rank, r.framework.clone(), r.display_name.clone(), r.this_system));
        }
    }
    // Stable by rank: ties keep summary.csv's order, which is the registry's.
    names.sort_by_key(|(rank, ..)| *rank);
    let (mut ours, mut others) = (0, 0);
    names
        .into_iter()
        .map(|(rank, name, display, this_system)| {
            let color = match rank {
                0 => RGBColor(64, 64, 64),
                1 => {
                    ours += 1;
                    THIS_SYSTEM[(ours - 1) % THIS_SYSTEM.len()]
                }
                _ => {
                    others += 1;
                    PALETTE[(others - 1) % PALETTE.len()]
                }
            };
            Look { display: if display.is_empty() { name.clone() } else { display }, name, color, this_system }
        })
        .collect()
}

/// One figure.
enum Figure {
    Bars(BarChart),
    Xy(XyChart),
}

/// Every figure for `rows`, with its file stem.
fn figures(rows: &[SummaryRow]) -> Vec<(String, Figure)> {
    let ok: Vec<&SummaryRow> = rows.iter().filter(|r| r.status == Some(RowStatus::Ok) && r.median_time.is_some()).collect();
    let looks = looks(rows);
    let mut families: Vec<Family> = Vec::new();
    for r in &ok {
        let f = Family::of(r);
        if !families.contains(&f) {
            families.push(f);
        }
    }
    let mut out = Vec::new();
    for family in &families {
        let rows: Vec<&SummaryRow> = ok.iter().copied().filter(|r| Family::of(r) == *family).collect();
        let stem = family.stem();
        out.push((format!("time_{stem}"), Figure::Bars(bars(family, &rows, &looks, Metric::Time))));
        if rows.iter().any(|r| r.ess_per_s.is_some_and(f64::is_finite)) {
            out.push((format!("ess_per_s_{stem}"), Figure::Bars(bars(family, &rows, &looks, Metric::EssPerSecond))));
        }
        if rows.iter().any(|r| r.peak_memory_bytes.is_some()) {
            out.push((format!("memory_{stem}"), Figure::Bars(bars(family, &rows, &looks, Metric::Memory))));
        }
        if family.model == "polynomial" && distinct(&rows, |r| r.n_points) > 1 {
            out.push((format!("scaling_data_size_{stem}"), Figure::Xy(scaling(family, &rows, &looks, Axis::DataSize))));
        }
        if distinct(&rows, |r| r.n_particles) > 1 {
            out.push((format!("scaling_particles_{stem}"), Figure::Xy(scaling(family, &rows, &looks, Axis::Particles))));
        }
        if let Some(fig) = accuracy(family, &rows, &looks) {
            out.push((format!("accuracy_{stem}"), Figure::Xy(fig)));
        }
    }
    out
}

fn distinct(rows: &[&SummaryRow], key: impl Fn(&SummaryRow) -> Option<usize>) -> usize {
    rows.iter().filter_map(|r| key(r)).collect::<BTreeSet<_>>().len()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Metric {
    Time,
    EssPerSecond,
    Memory,
}

struct Bar {
    look: Look,
    value: f64,
    label: String,
    flagged: bool,
    /// The interquartile range of the repeats (time bars).
    whisker: Option<(f64, f64)>,
}

struct BarGroup {
    label: String,
    bars: Vec<Bar>,
}

struct BarPanel {
    title: String,
    groups: Vec<BarGroup>,
}

struct BarChart {
    title: String,
    y_desc: String,
    x_desc: String,
    panels: Vec<BarPanel>,
    legend: Vec<Look>,
    footnote: String,
    format_tick: fn(f64) -> String,
}

// Long for now (86 lines): groups, whiskers, the ≈ marks and the footnote of one bar chart.
fn bars(family: &Family, rows: &[&SummaryRow], looks: &[Look], metric: Metric) -> BarChart {
    let value = |r: &SummaryRow| match metric {
        Metric::Time => r.median_time,
        Metric::EssPerSecond => r.ess_per_s,
        Metric::Memory => r.peak_memory_bytes.map(|b| b as f64),
    };
    /// Panel key -> group key -> (group label, rows).
    type Panels<'a> = BTreeMap<Option<usize>, BTreeMap<usize, (String, Vec<&'a SummaryRow>)>>;
    let mut panels: Panels = BTreeMap::new();
    for r in rows {
        if !value(r).is_some_and(|v| v.is_finite() && v > 0.0) {
            continue;
        }
        let (key, label) = family.group_of(r);
        panels.entry(family.panel_of(r)).or_default().entry(key).or_insert_with(|| (label, Vec::new())).1.push(r);
    }
    let look_of = |name: &str| looks.iter().find(|l| l.name == name).cloned().expect("every framework has a look");
    let panels: Vec<BarPanel> = panels
        .into_iter()
        .map(|(panel, groups)| BarPanel {
            title: panel.map_or_else(String::new, |n| if family.method == "vi" { format!("K = {n} ELBO draws per step") } else { format!("N = {n} particles") }),
            groups: groups
                .into_values()
                .map(|(label, rows)| {
                    let baseline = rows.iter().find(|r| r.framework == BASELINE).and_then(|r| value(r));
                    let mut bars: Vec<Bar> = rows
                        .iter()
                        .map(|r| {
                            let v = value(r).unwrap_or(f64::NAN);
                            // A time ratio whose bootstrap interval holds 1 is no difference at all.
                            let same = metric == Metric::Time
                                && r.framework != BASELINE
                                && r.time_ratio_low.zip(r.time_ratio_high).is_some_and(|(lo, hi)| lo <= 1.0 && hi >= 1.0);
                            let label = match (metric, baseline) {
                                (Metric::Memory, _) => format_bytes(v),
                                (_, Some(b)) if same => format!("≈{}", format_ratio(v / b)),
                                (_, Some(b)) => format_ratio(v / b),
                                (Metric::Time, None) => format_seconds(v),
                                (Metric::EssPerSecond, None) => format_rate(v),
                            };
                            let flagged = r.quality_ok == Some(false) && metric != Metric::Memory;
                            let whisker = if metric == Metric::Time { r.q1_time.zip(r.q3_time) } else { None };
                            Bar { look: look_of(&r.framework), value: v, label: if flagged { format!("{label}*") } else { label }, flagged, whisker }
                        })
                        .collect();
                    // Best first: fastest time, most ESS per second, least memory.
                    match metric {
                        Metric::EssPerSecond => bars.sort_by(|a, b| b.value.total_cmp(&a.value)),
                        Metric::Time | Metric::Memory => bars.sort_by(|a, b| a.value.total_cmp(&b.value)),
                    }
                    BarGroup { label, bars }
                })
                .collect(),
        })
        .collect();
    // The legend lists only frameworks with a bar here (e.g. not those reporting no ESS).
    let drawn: BTreeSet<&str> =
        panels.iter().flat_map(|p| p.groups.iter().flat_map(|g| g.bars.iter().map(|b| b.look.name.as_str()))).collect();
    let legend = looks.iter().filter(|l| drawn.contains(l.name.as_str())).cloned().collect();
    // Without a handcoded row (NUTS) the bars are labelled with their values, and the note says so.
    let baseline = drawn.contains(BASELINE);
    let (what, y_desc, note, format_tick): (&str, &str, &str, fn(f64) -> String) = match metric {
        Metric::Time if baseline => {
            ("median time", "median time per run (log)", "labels: time / handcoded Rust in the same configuration (≈: its bootstrap 95% interval holds 1); whiskers: interquartile range of the repeats", format_seconds)
        }
        Metric::Time => ("median time", "median time per run (log)", "labels: median time (no handcoded Rust row); whiskers: interquartile range of the repeats", format_seconds),
        Metric::EssPerSecond if baseline => ("effective samples per second", "ESS / s (log)", "labels: ESS/s / handcoded Rust's", format_rate),
        Metric::EssPerSecond => ("effective samples per second", "ESS / s (log)", "labels: ESS/s (no handcoded Rust row)", format_rate),
        Metric::Memory => {
            ("peak memory", "peak memory (log)", "in-process rows: heap high-water mark; subprocesses: whole-process max RSS", format_bytes)
        }
    };
    BarChart {
        title: format!("{}: {what}", family.title()),
        y_desc: y_desc.to_owned(),
        x_desc: if family.model == "polynomial" { "data size".to_owned() } else { "particles".to_owned() },
        panels,
        legend,
        footnote: if metric == Metric::Memory {
            format!("{note}; heavy outline = this system")
        } else {
            format!("{note}; * = answer not trustworthy (see quality_reason in summary.csv); heavy outline = this system")
        },
        format_tick,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Axis {
    DataSize,
    Particles,
}

struct Series {
    look: Look,
    points: Vec<(f64, f64, bool)>,
}

struct XyPanel {
    title: String,
    series: Vec<Series>,
    /// Points joined by a dashed line under the markers (the Pareto front), in x order.
    front: Vec<(f64, f64)>,
}

struct XyChart {
    title: String,
    x_desc: String,
    y_desc: String,
    panels: Vec<XyPanel>,
    legend: Vec<Look>,
    footnote: String,
    connect: bool,
    format_x: fn(f64) -> String,
    format_y: fn(f64) -> String,
}

fn scaling(family: &Family, rows: &[&SummaryRow], looks: &[Look], axis: Axis) -> XyChart {
    // Panels hold the other size fixed: particles for a data-size sweep, data size for a particle sweep.
    type Key = fn(&SummaryRow) -> Option<usize>;
    let (x_of, panel_of, x_desc, panel_title): (Key, Key, &str, fn(usize) -> String) = match axis {
        Axis::DataSize => (|r| r.n_points, |r| r.n_particles, "data size n (log)", |n| format!("N = {n} particles")),
        Axis::Particles => (|r| r.n_particles, |r| r.n_points, "particles N (log)", |n| format!("n = {n} data points")),
    };
    let mut panels: BTreeMap<Option<usize>, Vec<&SummaryRow>> = BTreeMap::new();
    for r in rows {
        panels.entry(panel_of(r)).or_default().push(r);
    }
    let panels: Vec<XyPanel> = panels
        .into_iter()
        .filter(|(_, rs)| distinct(rs, x_of) > 1)
        .map(|(panel, rs)| XyPanel {
            front: Vec::new(),
            title: panel.filter(|_| family.model == "polynomial" || axis == Axis::DataSize).map_or_else(String::new, panel_title),
            series: looks
                .iter()
                .filter_map(|look| {
                    let mut points: Vec<(f64, f64, bool)> = rs
                        .iter()
                        .filter(|r| r.framework == look.name)
                        .filter_map(|r| Some((x_of(r)? as f64, r.median_time?, r.quality_ok == Some(false))))
                        .collect();
                    points.sort_by(|a, b| a.0.total_cmp(&b.0));
                    (!points.is_empty()).then(|| Series { look: look.clone(), points })
                })
                .collect(),
        })
        .collect();
    let what = if axis == Axis::DataSize { "time vs data size" } else { "time vs particle count" };
    XyChart {
        title: format!("{}: {what}", family.title()),
        x_desc: x_desc.to_owned(),
        y_desc: "median time per run (log)".to_owned(),
        legend: legend_for(&panels, looks),
        panels,
        footnote: "hollow markers = answer not trustworthy (see quality_reason in summary.csv); heavy lines = this system".to_owned(),
        connect: true,
        format_x: format_count,
        format_y: format_seconds,
    }
}

/// The points of `points` (x = time, y = error, flagged) that no other trustworthy point beats
/// in both (the Pareto front of accuracy against time), in time order. Untrustworthy answers
/// are left off it.
fn pareto_front(points: &[(f64, f64, bool)]) -> Vec<(f64, f64)> {
    let mut ok: Vec<(f64, f64)> = points.iter().filter(|p| !p.2).map(|p| (p.0, p.1)).collect();
    ok.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut front: Vec<(f64, f64)> = Vec::new();
    for p in ok {
        if front.last().is_none_or(|last| p.1 < last.1) {
            front.push(p);
        }
    }
    front
}

/// Accuracy against time, one panel per configuration of the family (a data size for the
/// polynomial, with K for VI; one panel for the other models), each framework's rows as
/// markers and the Pareto front of the trustworthy ones joined.
fn accuracy(family: &Family, rows: &[&SummaryRow], looks: &[Look]) -> Option<XyChart> {
    let hmc = matches!(family.method.as_str(), "hmc" | "nuts");
    let vi = family.method == "vi";
    let error = |r: &SummaryRow| {
        if hmc {
            r.posterior_mean_error_sds
        } else if vi {
            r.kl_posterior
        } else {
            r.log_ml_error.map(f64::abs)
        }
    };
    // (K for VI, n for the polynomial) -> rows; one panel for the state-space models.
    let mut configurations: BTreeMap<(Option<usize>, Option<usize>), Vec<&SummaryRow>> = BTreeMap::new();
    for r in rows {
        let n = (family.model == "polynomial").then_some(r.n_points).flatten();
        configurations.entry((if vi { r.n_elbo_samples } else { None }, n)).or_default().push(r);
    }
    let panels: Vec<XyPanel> = configurations
        .into_iter()
        .filter_map(|((k, n), rows)| {
            let series: Vec<Series> = looks
                .iter()
                .filter_map(|look| {
                    let points: Vec<(f64, f64, bool)> = rows
                        .iter()
                        .filter(|r| r.framework == look.name)
                        .filter_map(|r| {
                            let e = error(r).filter(|e| e.is_finite())?;
                            // An exact hit would vanish from a log axis; show it on the floor instead.
                            Some((r.median_time?, e.max(1e-4), r.quality_ok == Some(false)))
                        })
                        .collect();
                    (!points.is_empty()).then(|| Series { look: look.clone(), points })
                })
                .collect();
            let all: Vec<(f64, f64, bool)> = series.iter().flat_map(|s| s.points.iter().copied()).collect();
            let title = match (n, k) {
                (Some(n), Some(k)) => format!("n = {n}, K = {k}"),
                (Some(n), None) => format!("n = {n}"),
                _ => String::new(),
            };
            (!series.is_empty()).then(|| XyPanel { title, series, front: pareto_front(&all) })
        })
        .collect();
    if panels.is_empty() {
        return None;
    }
    Some(XyChart {
        legend: legend_for(&panels, looks),
        panels,
        title: format!("{}: accuracy vs time", family.title()),
        x_desc: "median time per run (log)".to_owned(),
        y_desc: if hmc {
            "max |posterior mean error| in posterior sds (log)"
        } else if vi {
            "KL(q || exact posterior) in nats (log)"
        } else {
            "|log-ML error| in nats (log)"
        }
        .to_owned(),
        footnote: "one marker per row; lower left is better; dashed: the Pareto front (rows no other trustworthy row beats in both time and error); hollow = answer not trustworthy (never on the front); errors below 1e-4 drawn at 1e-4"
            .to_owned(),
        connect: false,
        format_x: format_seconds,
        format_y: format_plain,
    })
}

/// The looks of the frameworks drawn in `panels`, in legend order.
fn legend_for(panels: &[XyPanel], looks: &[Look]) -> Vec<Look> {
    let drawn: BTreeSet<&str> = panels.iter().flat_map(|p| p.series.iter().map(|s| s.look.name.as_str())).collect();
    looks.iter().filter(|l| drawn.contains(l.name.as_str())).cloned().collect()
}

impl Figure {
    fn size(&self) -> (u32, u32) {
        let (w, h) = self.body_size();
        let (title, footnote) = match self {
            Self::Bars(b) => (&b.title, &b.footnote),
            Self::Xy(x) => (&x.title, &x.footnote),
        };
        // Wide enough for the title (about 13 px per character at 24 px).
        let w = w.max(13 * title.chars().count() as u32 + 60);
        (w, h + FOOTER_PX * wrap(footnote, w).len() as u32)
    }

    /// Width, and height without the footnote.
    fn body_size(&self) -> (u32, u32) {
        match self {
            Self::Bars(b) => {
                let widest =
                    b.panels.iter().map(|p| p.groups.iter().map(|g| g.bars.len() as u32 * BAR_PX + 36).sum::<u32>()).max().unwrap_or(0);
                ((widest + 160).clamp(900, 3000), HEADER_PX + PANEL_PX * b.panels.len().max(1) as u32)
            }
            Self::Xy(x) => {
                let cols = if x.panels.len() > 1 { 2 } else { 1 };
                let rows = x.panels.len().div_ceil(cols).max(1) as u32;
                (if cols == 2 { 1400 } else { 1000 }, HEADER_PX + (PANEL_PX + 40) * rows)
            }
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let (title, legend, footnote) = match self {
            Self::Bars(b) => (&b.title, &b.legend, &b.footnote),
            Self::Xy(x) => (&x.title, &x.legend, &x.footnote),
        };
        let (header, rest) = root.split_vertically(HEADER_PX);
        let footer_px = FOOTER_PX * wrap(footnote, root.dim_in_pixel().0).len() as u32;
        let (body, footer) = rest.split_vertically(rest.dim_in_pixel().1 - footer_px);
        draw_header(&header, title, legend)?;
        for (i, line) in wrap(footnote, footer.dim_in_pixel().0).iter().enumerate() {
            let style = (FONT, 14).into_font().color(&RGBColor(80, 80, 80));
            footer.draw(&Text::new(line.as_str(), (12, 6 + 18 * i as i32), style))?;
        }
        match self {
            Self::Bars(b) => draw_bars(root, &body, b),
            Self::Xy(x) => draw_xy(&body, x),
        }
    }
}

fn draw_header<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str, legend: &[Look]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let width = area.dim_in_pixel().0 as i32;
    let title_style = TextStyle::from((FONT, 24).into_font().style(FontStyle::Bold)).pos(Pos::new(HPos::Center, VPos::Top));
    area.draw(&Text::new(title, (width / 2, 10), title_style))?;
    // Legend entries laid out left to right, centred, on one or two lines.
    let item_width = |l: &Look| 34 + 9 * l.display.chars().count() as i32;
    let mut lines: Vec<Vec<&Look>> = vec![Vec::new()];
    let mut used = 0;
    for look in legend {
        if used + item_width(look) > width - 40 && !lines.last().is_some_and(Vec::is_empty) {
            lines.push(Vec::new());
            used = 0;
        }
        used += item_width(look);
        lines.last_mut().expect("one line at least").push(look);
    }
    for (i, line) in lines.iter().enumerate() {
        let total: i32 = line.iter().map(|l| item_width(l)).sum();
        let mut x = (width - total) / 2;
        let y = 48 + 24 * i as i32;
        for look in line {
            area.draw(&Rectangle::new([(x, y), (x + 20, y + 16)], look.color.filled()))?;
            if look.this_system {
                area.draw(&Rectangle::new([(x, y), (x + 20, y + 16)], BLACK.stroke_width(3)))?;
            }
            let font = (FONT, 17).into_font();
            let font = if look.this_system { font.style(FontStyle::Bold) } else { font };
            area.draw(&Text::new(look.display.as_str(), (x + 26, y), font))?;
            x += item_width(look);
        }
    }
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, body: &DrawingArea<DB, Shift>, chart: &BarChart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let areas = body.split_evenly((chart.panels.len().max(1), 1));
    for (panel, area) in chart.panels.iter().zip(&areas) {
        let values: Vec<f64> = panel.groups.iter().flat_map(|g| g.bars.iter().map(|b| b.value)).collect();
        let (lo, hi) = log_range(&values, 0.15, 0.45);
        let n_groups = panel.groups.len().max(1);
        let mut builder = ChartBuilder::on(area);
        builder.margin_left(12).margin_right(24).margin_top(8).x_label_area_size(46).y_label_area_size(96);
        if !panel.title.is_empty() {
            builder.caption(&panel.title, (FONT, 19));
        }
        let mut ctx = builder.build_cartesian_2d(0f64..n_groups as f64, (lo..hi).log_scale())?;
        let format_tick = chart.format_tick;
        ctx.configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_labels(DECADE_LABELS)
            .y_desc(chart.y_desc.as_str())
            .x_desc(chart.x_desc.as_str())
            .y_label_formatter(&|v| format_tick(*v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(200, 200, 200))
            .draw()?;
        for (g, group) in panel.groups.iter().enumerate() {
            let slot = 0.84 / group.bars.len().max(1) as f64;
            for (k, bar) in group.bars.iter().enumerate() {
                let x0 = g as f64 + 0.08 + k as f64 * slot;
                let x1 = x0 + slot * 0.9;
                let fill = if bar.flagged { bar.look.color.mix(0.35) } else { bar.look.color.mix(1.0) };
                ctx.draw_series(std::iter::once(Rectangle::new([(x0, lo), (x1, bar.value)], fill.filled())))?;
                let outline = if bar.look.this_system { BLACK.stroke_width(3) } else { bar.look.color.stroke_width(1) };
                ctx.draw_series(std::iter::once(Rectangle::new([(x0, lo), (x1, bar.value)], outline)))?;
                if let Some((q1, q3)) = bar.whisker.filter(|(q1, q3)| q1.is_finite() && q3.is_finite() && *q1 > 0.0 && q3 > q1) {
                    let (mid, cap) = ((x0 + x1) / 2.0, (x1 - x0) * 0.2);
                    let ink = BLACK.stroke_width(1);
                    ctx.draw_series(std::iter::once(PathElement::new(vec![(mid, q1), (mid, q3)], ink)))?;
                    for q in [q1, q3] {
                        ctx.draw_series(std::iter::once(PathElement::new(vec![(mid - cap, q), (mid + cap, q)], ink)))?;
                    }
                }
                let font = (FONT, 14).into_font();
                let font = if bar.look.this_system { font.style(FontStyle::Bold) } else { font };
                let style = TextStyle::from(font).pos(Pos::new(HPos::Center, VPos::Bottom));
                ctx.draw_series(std::iter::once(
                    EmptyElement::at(((x0 + x1) / 2.0, bar.whisker.map_or(bar.value, |(_, q3)| q3.max(bar.value))))
                        + Text::new(bar.label.clone(), (0, -3), style),
                ))?;
            }
            // Group labels sit under the axis, in the whole canvas's pixel coordinates.
            let (px, py) = ctx.backend_coord(&(g as f64 + 0.5, lo));
            let style = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
            root.draw(&Text::new(group.label.as_str(), (px, py + 6), style))?;
        }
    }
    Ok(())
}

fn draw_xy<DB: DrawingBackend>(body: &DrawingArea<DB, Shift>, chart: &XyChart) -> DrawResult
where
    DB::ErrorType: 'static,
{
    let cols = if chart.panels.len() > 1 { 2 } else { 1 };
    let rows = chart.panels.len().div_ceil(cols).max(1);
    let areas = body.split_evenly((rows, cols));
    for (panel, area) in chart.panels.iter().zip(&areas) {
        let xs: Vec<f64> = panel.series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).collect();
        let ys: Vec<f64> = panel.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).collect();
        let (x_lo, x_hi) = log_range(&xs, 0.12, 0.12);
        let (y_lo, y_hi) = log_range(&ys, 0.15, 0.15);
        let mut builder = ChartBuilder::on(area);
        builder.margin(14).x_label_area_size(52).y_label_area_size(92);
        if !panel.title.is_empty() {
            builder.caption(&panel.title, (FONT, 19));
        }
        let mut ctx = builder.build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
        let (format_x, format_y) = (chart.format_x, chart.format_y);
        ctx.configure_mesh()
            .x_labels(DECADE_LABELS)
            .y_labels(DECADE_LABELS)
            .x_desc(chart.x_desc.as_str())
            .y_desc(chart.y_desc.as_str())
            .x_label_formatter(&|v| format_x(*v))
            .y_label_formatter(&|v| format_y(*v))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(200, 200, 200))
            .draw()?;
        if panel.front.len() > 1 {
            ctx.draw_series(DashedLineSeries::new(panel.front.iter().copied(), 8, 5, RGBColor(110, 110, 110).stroke_width(2)))?;
        }
        for series in &panel.series {
            let color = series.look.color;
            let width = if series.look.this_system { 4 } else { 2 };
            if chart.connect {
                ctx.draw_series(LineSeries::new(series.points.iter().map(|p| (p.0, p.1)), color.stroke_width(width)))?;
            }
            ctx.draw_series(series.points.iter().map(|&(x, y, flagged)| {
                let style = if flagged { color.stroke_width(2) } else { color.filled() };
                Circle::new((x, y), if series.look.this_system { 7 } else { 5 }, style)
            }))?;
        }
    }
    Ok(())
}

/// Splits a footnote at `; ` into lines that fit `width` pixels (about 7.5 px per character).
fn wrap(text: &str, width: u32) -> Vec<String> {
    let max_chars = ((width.saturating_sub(24)) as f64 / 7.5) as usize;
    let mut lines: Vec<String> = vec![String::new()];
    for part in text.split("; ") {
        let line = lines.last_mut().expect("one line at least");
        if line.is_empty() {
            line.push_str(part);
        } else if line.chars().count() + 2 + part.chars().count() <= max_chars {
            line.push_str("; ");
            line.push_str(part);
        } else {
            lines.push(part.to_owned());
        }
    }
    lines
}

/// A log-axis range around `values` with `below` and `above` decades of padding (above leaves
/// room for bar labels).
fn log_range(values: &[f64], below: f64, above: f64) -> (f64, f64) {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite() && *v > 0.0).collect();
    if finite.is_empty() {
        return (1e-6, 1.0);
    }
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min).log10();
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max).log10();
    let span = hi - lo;
    let (mut lo, mut hi) = (lo - below * span - 0.05, hi + above * span + 0.1);
    // At least 1.2 decades, so that two decade ticks (the only labels on a log axis) show.
    if hi - lo < 1.2 {
        let pad = (1.2 - (hi - lo)) / 2.0;
        (lo, hi) = (lo - pad, hi + pad);
    }
    (10f64.powf(lo), 10f64.powf(hi))
}

/// `1.0×`, `23×`, `0.51×`.
fn format_ratio(r: f64) -> String {
    if !r.is_finite() {
        "?".to_owned()
    } else if r >= 9.95 {
        format!("{r:.0}×")
    } else if r >= 0.995 {
        format!("{r:.1}×")
    } else {
        format!("{r:.2}×")
    }
}

/// Seconds as `3 µs`, `1.5 ms`, `2 s` (compact, for ticks and labels).
fn format_seconds(t: f64) -> String {
    // Log-axis ticks arrive as 0.99999...; nudge them so that 1 s is not written 1000 ms.
    let (v, unit) = crate::units::seconds(t * (1.0 + 1e-9));
    format!("{} {unit}", trim_number(v))
}

fn format_bytes(b: f64) -> String {
    let (v, unit) = crate::units::bytes(b * (1.0 + 1e-9));
    format!("{} {unit}", trim_number(v))
}

fn format_rate(r: f64) -> String {
    format!("{}/s", format_count(r))
}

fn format_count(v: f64) -> String {
    if v >= 1e6 {
        format!("{}M", trim_number(v / 1e6))
    } else if v >= 1e3 {
        format!("{}k", trim_number(v / 1e3))
    } else {
        trim_number(v)
    }
}

fn format_plain(v: f64) -> String {
    if (1e-3..1e4).contains(&v.abs()) {
        trim_number(v)
    } else {
        format!("{v:.0e}")
    }
}

/// Up to three significant digits without trailing zeros.
fn trim_number(v: f64) -> String {
    let s = if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// Writes `<stem>.svg`, `<stem>.png` and `<stem>.pdf`.
fn save(figure: &Figure, dir: &Path, stem: &str) -> anyhow::Result<Vec<PathBuf>> {
    let (w, h) = figure.size();
    let to_anyhow = |e: Box<dyn Error>| anyhow::anyhow!("{e}");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(to_anyhow)?;
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let svg_path = dir.join(format!("{stem}.svg"));
    std::fs::write(&svg_path, &svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    let png_path = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png_path, (w, h)).into_drawing_area();
        figure.draw(&root).map_err(to_anyhow)?;
        root.present().map_err(|e| anyhow::anyhow!("{}: {e}", png_path.display()))?;
    }
    let pdf_path = dir.join(format!("{stem}.pdf"));
    let pdf = svg_to_pdf(&svg).with_context(|| format!("converting {} to PDF", svg_path.display()))?;
    std::fs::write(&pdf_path, pdf).with_context(|| format!("cannot write {}", pdf_path.display()))?;
    Ok(vec![svg_path, png_path, pdf_path])
}

/// The system fonts, loaded once; plotters writes the generic `sans-serif` family into the SVG.
fn font_database() -> Arc<svg2pdf::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<svg2pdf::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = svg2pdf::usvg::fontdb::Database::new();
        db.load_system_fonts();
        if db.faces().any(|f| f.families.iter().any(|(name, _)| name == "DejaVu Sans")) {
            db.set_sans_serif_family("DejaVu Sans");
        }
        Arc::new(db)
    })
    .clone()
}

fn svg_to_pdf(svg: &str) -> anyhow::Result<Vec<u8>> {
    let options = svg2pdf::usvg::Options { fontdb: font_database(), ..svg2pdf::usvg::Options::default() };
    let tree = svg2pdf::usvg::Tree::from_str(svg, &options).map_err(|e| anyhow::anyhow!("{e}"))?;
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), svg2pdf::PageOptions::default()).map_err(|e| anyhow::anyhow!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pareto_front_keeps_what_nothing_beats_in_both() {
        // (time, error, untrustworthy): (3, 0.5) loses to (2, 0.4); (1, 0.1) is flagged.
        let points = [(2.0, 0.4, false), (1.0, 0.9, false), (3.0, 0.5, false), (4.0, 0.2, false), (1.0, 0.1, true)];
        assert_eq!(pareto_front(&points), vec![(1.0, 0.9), (2.0, 0.4), (4.0, 0.2)]);
        assert!(pareto_front(&[]).is_empty());
    }

    #[test]
    fn labels_are_compact() {
        assert_eq!(format_ratio(1.0), "1.0×");
        assert_eq!(format_ratio(23.4), "23×");
        assert_eq!(format_ratio(0.512), "0.51×");
        assert_eq!(format_seconds(0.0015), "1.5 ms");
        assert_eq!(format_seconds(2e-5), "20 µs");
        assert_eq!(format_bytes(2.5e6), "2.5 MB");
    }
}
