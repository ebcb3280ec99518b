//! `report.html` in a real browser: a small run writes it, headless Chromium renders it, and the
//! rendered DOM must hold one table row per summary.csv row and every figure as inline `<svg>`.
//!
//! Sorting and filtering are driven through the page's URL: `report.html?sort=median_time&dir=desc`
//! and `?framework=gen-native` (or `?q=text`) call the same functions as a header click and the
//! filter controls, and `--dump-dom` returns the DOM after the page's script has run. A screenshot
//! of the page must not be blank.
//!
//! Without a Chromium binary on PATH (or in `$BENCHMARKS_CHROMIUM`) the browser test fails,
//! saying how to install one, unless `BENCHMARKS_SKIP_BROWSER_TESTS=1` is set.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use benchmarks::export::{read_summary, SummaryRow};

/// Binary names tried on PATH, in order.
const CHROMIUMS: [&str; 5] = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless_shell"];
/// Longest one browser call may take.
const BROWSER_LIMIT: Duration = Duration::from_secs(120);

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BENCHMARKS_CHROMIUM").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(path);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| CHROMIUMS.iter().map(move |name| dir.join(name))).find(|p| p.is_file())
}

/// The browser, or `None` (with a line saying so) when it is missing and the browser tests are
/// skipped on purpose; a missing browser otherwise fails the test.
fn chromium_or_skip(test: &str) -> Option<Browser> {
    if let Some(bin) = find_chromium() {
        return Some(Browser { bin, scratch: common::scratch(&format!("{test}-browser")) });
    }
    if std::env::var("BENCHMARKS_SKIP_BROWSER_TESTS").as_deref() == Ok("1") {
        eprintln!("{test}: browser checks SKIPPED: no Chromium found and BENCHMARKS_SKIP_BROWSER_TESTS=1");
        return None;
    }
    panic!(
        "no Chromium binary found (looked for {} on PATH and $BENCHMARKS_CHROMIUM): install it with \
         `bash scripts/install-test-deps.sh` (on Debian: `apt-get install -y chromium`), or set \
         BENCHMARKS_SKIP_BROWSER_TESTS=1 to skip the browser tests",
        CHROMIUMS.join(", ")
    );
}

/// Headless Chromium, each call with a fresh profile so that calls never share one.
struct Browser {
    bin: PathBuf,
    scratch: PathBuf,
}

impl Browser {
    fn run(&self, args: &[String]) -> Output {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let profile = self.scratch.join(format!("profile-{call}"));
        let (stdout, stderr) = (self.scratch.join(format!("out-{call}")), self.scratch.join(format!("err-{call}")));
        let mut child = Command::new(&self.bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.bin.display()));
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > BROWSER_LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} {args:?} ran past {BROWSER_LIMIT:?}; stderr: {}",
                    self.bin.display(),
                    std::fs::read_to_string(&stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let output = Output { status, stdout: std::fs::read(&stdout).unwrap(), stderr: std::fs::read(&stderr).unwrap() };
        assert!(output.status.success(), "{} {args:?} failed: {}", self.bin.display(), String::from_utf8_lossy(&output.stderr));
        output
    }

    /// The DOM of `url` after its scripts ran.
    fn dump_dom(&self, url: &str) -> String {
        let dom = String::from_utf8(self.run(&["--dump-dom".to_owned(), url.to_owned()]).stdout).unwrap();
        assert!(dom.contains("</html>"), "no DOM from {url}: {dom}");
        dom
    }

    /// A screenshot of `url` in a 1400 x 1000 window, decoded: (width, height, RGBA pixels).
    fn screenshot(&self, url: &str) -> (u32, u32, Vec<u8>) {
        let png_path = self.scratch.join("screenshot.png");
        self.run(&[format!("--screenshot={}", png_path.display()), "--window-size=1400,1000".to_owned(), url.to_owned()]);
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png_path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        let rgba: Vec<u8> = match info.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf.chunks(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        (info.width, info.height, rgba)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            common::cleanup(&self.scratch);
        }
    }
}

fn file_url(path: &Path, query: &str) -> String {
    format!("file://{}{query}", path.canonicalize().unwrap().display())
}

/// One row of the rendered summary table.
#[derive(Debug)]
struct DomRow {
    framework: String,
    hidden: bool,
    median_time: Option<f64>,
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    Some(&tag[start..start + tag[start..].find('"')?])
}

/// The rows of the summary table, in the DOM's order.
fn table_rows(dom: &str) -> Vec<DomRow> {
    let table = &dom[dom.find("id=\"summary\"").expect("the summary table is in the DOM")..];
    let body = &table[table.find("<tbody>").expect("a tbody")..table.find("</tbody>").expect("a closed tbody")];
    body.split("<tr ")
        .skip(1)
        .map(|tr| {
            let open = &tr[..tr.find('>').unwrap()];
            let median = tr
                .find("data-col=\"median_time\"")
                .map(|i| &tr[i - 1..])
                .and_then(|td| attribute(td, "data-v"))
                .and_then(|v| v.parse().ok());
            DomRow {
                framework: attribute(open, "data-framework").expect("rows name their framework").to_owned(),
                hidden: open.contains(" hidden=") || open.ends_with(" hidden"),
                median_time: median,
            }
        })
        .collect()
}

fn svg_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map_or(0, |entries| entries.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "svg")).count())
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A page that refers to nothing outside itself (the SVG namespace is a name, not a fetch).
fn assert_self_contained(html: &str) {
    let without_namespace = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for external in ["src=", "<link", "@import", "url(", "http://", "https://", "<iframe", "<img"] {
        assert!(!without_namespace.contains(external), "report.html refers outside itself: {external}");
    }
}

#[test]
fn the_report_renders_sorts_and_filters_in_chromium() {
    let root = common::scratch_root("report");
    let out = root.join("data/run");
    let run = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["polynomial-is", "--frameworks", "handcoded-rust,gen-native", "--data-size", "10", "--noise-sd", "1.0"])
        .args(["--n-particles", "100,1000", "--repeats", "5", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let report = out.join("report.html");
    assert!(String::from_utf8_lossy(&run.stdout).contains(&format!("report in {}", report.display())), "{}", text(&run));
    let rows: Vec<SummaryRow> = read_summary(&out.join("summary.csv")).unwrap();
    assert_eq!(rows.len(), 4, "two frameworks x two particle counts");
    let figures = svg_files(&root.join("figs/run"));
    assert!(figures > 0, "the run drew its figures");

    // The file itself: every figure inline, nothing external.
    let html = std::fs::read_to_string(&report).unwrap();
    assert_eq!(html.matches("<svg").count(), figures, "each figure's SVG once");
    assert_self_contained(&html);

    let Some(browser) = chromium_or_skip("report") else {
        common::cleanup(&root);
        return;
    };

    // Rendered: one row per summary.csv row, all shown, and every figure as an <svg> element.
    let dom = browser.dump_dom(&file_url(&report, ""));
    let shown = table_rows(&dom);
    assert_eq!(shown.len(), rows.len(), "{shown:?}");
    assert!(shown.iter().all(|r| !r.hidden), "{shown:?}");
    assert!(dom.contains(&format!("{n} of {n} rows shown", n = rows.len())), "the page's script ran");
    assert_eq!(dom.matches("<svg").count(), figures);
    assert!(dom.contains("id=\"metadata\"") && dom.contains("polynomial_is"), "the metadata is shown");

    // Sorting by median time, both ways, as a header click does it.
    let mut expected: Vec<f64> = rows.iter().filter_map(|r| r.median_time).collect();
    assert_eq!(expected.len(), rows.len(), "every row was measured");
    expected.sort_by(f64::total_cmp);
    for dir in ["asc", "desc"] {
        let dom = browser.dump_dom(&file_url(&report, &format!("?sort=median_time&dir={dir}")));
        let medians: Vec<f64> = table_rows(&dom).iter().map(|r| r.median_time.expect("a median in every row")).collect();
        let mut want = expected.clone();
        if dir == "desc" {
            want.reverse();
        }
        assert_eq!(medians, want, "sorted {dir}");
        let aria = if dir == "asc" { "ascending" } else { "descending" };
        let header = &dom[dom.find("data-key=\"median_time\"").unwrap()..];
        assert!(header[..header.find('>').unwrap()].contains(&format!("aria-sort=\"{aria}\"")), "the header shows the order");
    }

    // Filtering by framework (the select) and by text (the search box).
    let native = rows.iter().filter(|r| r.framework == "gen-native").count();
    let dom = browser.dump_dom(&file_url(&report, "?framework=gen-native&sort=median_time&dir=desc"));
    let filtered = table_rows(&dom);
    assert_eq!(filtered.len(), rows.len(), "filtered rows are hidden, not removed");
    let visible: Vec<&DomRow> = filtered.iter().filter(|r| !r.hidden).collect();
    assert_eq!(visible.len(), native, "{filtered:?}");
    assert!(visible.iter().all(|r| r.framework == "gen-native"), "{filtered:?}");
    assert!(dom.contains(&format!("{native} of {} rows shown", rows.len())));
    let native_name = &rows.iter().find(|r| r.framework == "gen-native").unwrap().display_name;
    let query: String =
        native_name.bytes().map(|b| if b.is_ascii_alphanumeric() { char::from(b).to_string() } else { format!("%{b:02X}") }).collect();
    let visible_by_text: Vec<String> = table_rows(&browser.dump_dom(&file_url(&report, &format!("?q={query}"))))
        .into_iter()
        .filter(|r| !r.hidden)
        .map(|r| r.framework)
        .collect();
    assert_eq!(visible_by_text, vec!["gen-native"; native], "text filter {native_name:?}");

    // A screenshot that shows something: many colours, and a good share of non-white pixels.
    let (width, height, rgba) = browser.screenshot(&file_url(&report, ""));
    assert!(width >= 1000 && height >= 700, "{width} x {height}");
    let pixels: Vec<[u8; 3]> = rgba.chunks(4).map(|p| [p[0], p[1], p[2]]).collect();
    let mut colours = pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    let non_white = pixels.iter().filter(|p| p.iter().any(|&c| c < 235)).count();
    assert!(colours.len() >= 32, "a blank-looking screenshot: {} colours", colours.len());
    assert!(non_white * 100 >= pixels.len() * 3, "a blank-looking screenshot: {non_white} of {} pixels not white", pixels.len());
    common::cleanup(&root);
}

#[test]
fn a_run_without_figures_says_so_and_the_report_command_draws_them() {
    let root = common::scratch_root("report-no-plots");
    let out = root.join("data/np");
    let run = common::bin()
        .env("BENCHMARKS_ROOT", &root)
        .args(["beta-bernoulli", "--frameworks", "handcoded-rust", "--repeats", "5", "--no-plots", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("id=\"no-figures\"") && html.contains("--no-plots"), "the report says why it has no figures");
    assert_eq!(html.matches("<svg").count(), 0);
    assert_eq!(html.matches(" data-i=\"").count(), read_summary(&out.join("summary.csv")).unwrap().len());

    let again = common::bin().env("BENCHMARKS_ROOT", &root).arg("report").arg(&out).output().unwrap();
    assert!(again.status.success(), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stdout).contains("report in"), "{}", text(&again));
    let figures = svg_files(&root.join("figs/np"));
    assert!(figures > 0, "report drew the missing figures");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), figures);
    assert!(!html.contains("id=\"no-figures\""));
    assert_self_contained(&html);

    let refused = common::bin().env("BENCHMARKS_ROOT", &root).arg("report").arg(root.join("figs/np")).output().unwrap();
    assert!(!refused.status.success() && text(&refused).contains("not a result folder"), "{}", text(&refused));
    common::cleanup(&root);
}
