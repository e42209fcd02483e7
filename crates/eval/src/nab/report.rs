//! `vigil eval nab`: run the detector over a folder of NAB series, score it
//! under the three profiles, and set it beside the published detectors.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::Serialize;
use vigil_config::{DetectSettings, Settings};

use super::corpus::{score_corpus, score_corpus_profiles, CorpusScores, FileDetections};
use super::detect::{detect_series, find_series, Detection, SeriesKind, SeriesRun};
use super::error::Error;
use super::read::{
    parse_timestamp, read_profiles_json, read_results_csv, read_series_csv, read_thresholds_json,
    read_windows_json, CorpusWindows, CostMatrix, Profile, Profiles, Series,
};
use super::sweep::{probationary_length, resolve_windows, row_weights};

/// What to evaluate.
#[derive(Clone, Debug)]
pub struct NabEvalOptions {
    /// Folder searched recursively for NAB series (`timestamp,value` CSVs).
    pub data: PathBuf,
    /// NAB's `combined_windows.json`.
    pub labels: PathBuf,
    /// Detect settings (only `[detect]` and `score.negative_threshold` are
    /// used).
    pub settings: Settings,
    /// Where the settings came from, for the report.
    pub config_origin: String,
    /// What the series' values are (counts or measurements).
    pub series: SeriesKind,
}

/// One series fed to the detector.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvaluatedFile {
    /// The file's key in the windows JSON.
    pub name: String,
    /// The CSV read.
    pub path: PathBuf,
    /// Rows in the series.
    pub rows: usize,
    /// Incidents opened.
    pub opened: usize,
    /// Escalations.
    pub escalated: usize,
    /// Every opening and escalation, with what NAB's standard profile
    /// made of it.
    pub detections: Vec<ListedDetection>,
}

/// One detection and what NAB's standard profile made of it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListedDetection {
    /// The row's timestamp.
    pub at: NaiveDateTime,
    /// The opening or escalation.
    pub detection: Detection,
    /// How it was scored.
    pub scored: Scored,
}

/// How NAB scores one detection (standard profile).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Scored {
    /// In the probationary rows: ignored.
    Probation,
    /// The first counted detection in label window `window` (0-based): a
    /// true positive worth `weight`.
    Found {
        /// The window, in file order.
        window: usize,
        /// Its weight (NAB's `S(t)` at the row).
        weight: f64,
    },
    /// A later detection in a window already found: not counted.
    Again {
        /// The window, in file order.
        window: usize,
    },
    /// Outside every window: a false positive costing `weight` (<= 0).
    FalsePositive {
        /// NAB's `S(t)` at the row.
        weight: f64,
    },
}

impl fmt::Display for Scored {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scored::Probation => write!(f, "probation (not scored)"),
            Scored::Found { window, weight } => {
                write!(f, "found window {} ({weight:+.3})", window + 1)
            }
            Scored::Again { window } => write!(f, "window {} again (not counted)", window + 1),
            Scored::FalsePositive { weight } => write!(f, "false positive ({weight:+.3})"),
        }
    }
}

/// `events` of the series `file` with what NAB's `cost` profile makes of
/// each: the same rules as the scorer (probation, the first detection in a
/// window counts, any other outside a window is a false positive).
fn list_detections(
    file: &FileDetections,
    events: Vec<Detection>,
    windows: &CorpusWindows,
    cost: &CostMatrix,
) -> Result<Vec<ListedDetection>, Error> {
    let limits = windows.lookup(&file.name).map_or(&[][..], |(_, l)| l);
    let label = resolve_windows(&file.timestamps, limits)?;
    let weights = row_weights(file.timestamps.len(), &label, cost)?;
    let probation = probationary_length(file.timestamps.len());
    let mut found = vec![false; label.len()];
    Ok(events
        .into_iter()
        .map(|detection| {
            let row = detection.row;
            let weight = weights.get(row).copied().unwrap_or(0.0);
            let window = label
                .iter()
                .position(|w| (w.start_row..=w.end_row).contains(&row));
            let scored = match window {
                _ if row < probation => Scored::Probation,
                Some(window) if found[window] => Scored::Again { window },
                Some(window) => {
                    found[window] = true;
                    Scored::Found { window, weight }
                }
                None => Scored::FalsePositive { weight },
            };
            ListedDetection {
                at: file.timestamps.get(row).copied().unwrap_or_default(),
                detection,
                scored,
            }
        })
        .collect())
}

/// Where a comparison row came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PublishedSource {
    /// Recomputed with this scorer from the detector's NAB results files at
    /// NAB's thresholds (`results/`, `config/thresholds.json`).
    #[serde(rename = "results")]
    Results,
    /// Read from a SCOREBOARD.md table for the same windows.
    #[serde(rename = "scoreboard")]
    Scoreboard,
}

/// A published detector's scores on the same files.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PublishedScore {
    /// The detector's name (NAB's results folder).
    pub detector: String,
    /// Standard, reward_low_FP and reward_low_FN scores.
    pub scores: [f64; 3],
    /// Where they came from.
    pub source: PublishedSource,
}

/// Delays of the first counted detection in each window, in rows (bins).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct DelayStats {
    /// Windows detected.
    pub detected: usize,
    /// Windows scored.
    pub windows: usize,
    /// Median delay over detected windows (the mean of the two middle ones
    /// for an even count).
    pub median: Option<f64>,
    /// Largest delay.
    pub worst: Option<i64>,
    /// Smallest delay.
    pub best: Option<i64>,
}

impl DelayStats {
    fn of(delays: impl IntoIterator<Item = Option<i64>>) -> DelayStats {
        let mut windows = 0;
        let mut found: Vec<i64> = Vec::new();
        for d in delays {
            windows += 1;
            found.extend(d);
        }
        found.sort_unstable();
        let n = found.len();
        let median = match n {
            0 => None,
            _ if n % 2 == 1 => Some(found[n / 2] as f64),
            _ => Some((found[n / 2 - 1] + found[n / 2]) as f64 / 2.0),
        };
        DelayStats {
            detected: n,
            windows,
            median,
            worst: found.last().copied(),
            best: found.first().copied(),
        }
    }
}

/// The result of `vigil eval nab`.
#[derive(Clone, Debug, Serialize)]
pub struct NabEvaluation {
    /// Where the detect settings came from.
    pub config_origin: String,
    /// What the series' values were taken to be.
    pub series: SeriesKind,
    /// The `[detect]` section used for every series.
    pub detect: DetectSettings,
    /// The series, in path order.
    pub files: Vec<EvaluatedFile>,
    /// Labelled files with no series under the data folder.
    pub missing: Vec<String>,
    /// Vigil's scores.
    pub scores: CorpusScores,
    /// Delay of the first detection from each window's start.
    pub delay_from_window_start: DelayStats,
    /// Delay of the first detection from the first labelled anomaly in each
    /// window (`combined_labels.json` beside the windows file), when found;
    /// negative = before the label.
    pub delay_from_label: Option<DelayStats>,
    /// Published detectors on the same files, best standard score first.
    pub published: Vec<PublishedScore>,
}

/// Reads the series at `path` under `data` and finds its key in `windows`
/// (its path relative to `data`, else its file name).
pub(crate) fn load_series(
    data: &Path,
    windows: &CorpusWindows,
    path: &Path,
) -> Result<(String, Series), Error> {
    let relative = path.strip_prefix(data).unwrap_or(path);
    let relative = relative.to_string_lossy().replace('\\', "/");
    let key = windows
        .lookup(&relative)
        .or_else(|| {
            path.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| windows.lookup(n))
        })
        .map(|(key, _)| key.to_owned())
        .ok_or_else(|| Error::UnknownFile {
            file: relative.clone(),
        })?;
    Ok((key, read_series_csv(path)?))
}

/// Runs one series through a detector with the `[detect]` settings
/// `detect`. One row is one bin: the bin is the series' own median step
/// (rounded to whole seconds, at least 1) and each row is fed in the bin
/// of its own timestamp, or the next free one (NAB's series have gaps,
/// steps shorter than their median and a repeated hour). Every other
/// setting is in time, so it means the same at any step.
pub(crate) fn run_series(
    detect: &DetectSettings,
    negative_threshold: f32,
    series: &Series,
    kind: SeriesKind,
) -> Result<SeriesRun, Error> {
    let mut steps: Vec<i64> = series
        .timestamps
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds())
        .filter(|s| *s > 0)
        .collect();
    steps.sort_unstable();
    let step = steps.get(steps.len() / 2).copied().unwrap_or(300).max(1);
    let mut detect = detect.clone();
    detect.bin = std::time::Duration::from_secs(step as u64);
    let regular = Series {
        timestamps: row_times(&series.timestamps, step),
        values: series.values.clone(),
    };
    detect_series(&detect, negative_threshold, &regular, kind)
}

/// The time each row is fed at, with bins of `step` seconds: its own bin,
/// so the hour of day the detector learns its rhythm by is the row's (a
/// gap stays a gap), unless the row before it took that bin (a repeated or
/// backward timestamp, two rows closer than the step): then the next bin.
fn row_times(timestamps: &[NaiveDateTime], step: i64) -> Vec<NaiveDateTime> {
    let mut prev: Option<i64> = None;
    timestamps
        .iter()
        .map(|t| {
            let own = t.and_utc().timestamp().div_euclid(step) * step;
            let bin = prev.map_or(own, |p| own.max(p + step));
            prev = Some(bin);
            chrono::DateTime::from_timestamp(bin, 0).map_or(*t, |d| d.naive_utc())
        })
        .collect()
}

/// Run the detector over every series under `options.data` and score it.
///
/// Beside the windows file (or one folder up, NAB's layout) the run also
/// looks for `config/profiles.json` (else NAB's default weights),
/// `combined_labels.json` (for delays from the label), `results/` with
/// `config/thresholds.json` (published detectors, rescored here) and
/// `SCOREBOARD.md` (published scores for the same windows).
pub fn evaluate_nab(options: &NabEvalOptions) -> Result<NabEvaluation, Error> {
    let windows = read_windows_json(&options.labels)?;
    let roots = data_roots(&options.labels);
    let profiles = match find_in(&roots, "config/profiles.json") {
        Some(path) => read_profiles_json(path)?,
        None => Profiles::nab_default(),
    };

    let paths = find_series(&options.data)?;
    if paths.is_empty() {
        return Err(Error::NoSeries {
            dir: options.data.clone(),
        });
    }
    let mut files = Vec::new();
    let mut detections = Vec::new();
    let mut events = Vec::new();
    for path in paths {
        let (key, series) = load_series(&options.data, &windows, &path)?;
        let run = run_series(
            &options.settings.detect,
            options.settings.score.negative_threshold,
            &series,
            options.series,
        )
        .map_err(|source| Error::InFile {
            path: path.clone(),
            source: Box::new(source),
        })?;
        files.push(EvaluatedFile {
            name: key.clone(),
            path: path.clone(),
            rows: series.timestamps.len(),
            opened: run.opened,
            escalated: run.escalated,
            detections: Vec::new(),
        });
        detections.push(FileDetections {
            name: key,
            timestamps: series.timestamps,
            detections: run.detections,
        });
        events.push(run.events);
    }
    for ((file, series), events) in files.iter_mut().zip(&detections).zip(events) {
        file.detections = list_detections(series, events, &windows, &profiles.standard)?;
    }
    let missing = windows
        .iter()
        .map(|(key, _)| key)
        .filter(|key| !files.iter().any(|f| f.name == *key))
        .map(str::to_owned)
        .collect();

    let scores = score_corpus_profiles(&detections, &windows, &profiles)?;
    let delay_from_window_start =
        DelayStats::of(scores.standard.window_delays().map(|d| d.map(|d| d as i64)));
    let delay_from_label = match find_beside(&options.labels, "combined_labels.json") {
        Some(path) => Some(label_delays(&path, &detections, &scores)?),
        None => None,
    };
    let mut published = published_from_results(&roots, &windows, &profiles, &detections)?;
    if let Some(path) = find_beside(&options.labels, "SCOREBOARD.md") {
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        for row in parse_scoreboard(&text, scores.standard.windows) {
            if !published.iter().any(|p| p.detector == row.detector) {
                published.push(row);
            }
        }
    }
    published.sort_by(|a, b| b.scores[0].total_cmp(&a.scores[0]));
    Ok(NabEvaluation {
        config_origin: options.config_origin.clone(),
        series: options.series,
        detect: options.settings.detect.clone(),
        files,
        missing,
        scores,
        delay_from_window_start,
        delay_from_label,
        published,
    })
}

/// The labels file's folder and its parent: NAB keeps `labels/`, `config/`
/// and `results/` side by side; the shared copy keeps them in one folder.
pub(crate) fn data_roots(labels: &Path) -> Vec<PathBuf> {
    let dir = labels.parent().unwrap_or(Path::new("."));
    let mut roots = vec![dir.to_owned()];
    if let Some(parent) = dir.parent() {
        roots.push(parent.to_owned());
    }
    roots
}

pub(crate) fn find_in(roots: &[PathBuf], relative: &str) -> Option<PathBuf> {
    roots.iter().map(|r| r.join(relative)).find(|p| p.exists())
}

fn find_beside(labels: &Path, name: &str) -> Option<PathBuf> {
    find_in(&data_roots(labels), name)
}

/// Delays of the first counted detection from the first label in each
/// window (labels JSON: `{"<key>": ["<timestamp>", ...]}`).
fn label_delays(
    path: &Path,
    files: &[FileDetections],
    scores: &CorpusScores,
) -> Result<DelayStats, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let raw: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&text).map_err(|source| Error::InvalidJson {
            what: "labels",
            source,
        })?;
    let mut delays = Vec::new();
    for (file, report) in files.iter().zip(&scores.standard.files) {
        let labels: Vec<NaiveDateTime> = raw
            .get(&report.name)
            .map(|l| l.iter().map(|t| parse_timestamp(t)).collect())
            .transpose()?
            .unwrap_or_default();
        let rows: Vec<usize> = labels
            .iter()
            .filter_map(|t| file.timestamps.binary_search(t).ok())
            .collect();
        for w in &report.score.windows {
            if !w.scored {
                continue;
            }
            let label = rows
                .iter()
                .copied()
                .find(|&r| w.window.start_row <= r && r <= w.window.end_row);
            delays.push(match (w.first_detection_row, label) {
                (Some(d), Some(l)) => Some(d as i64 - l as i64),
                _ => None,
            });
        }
    }
    Ok(DelayStats::of(delays))
}

/// Published detectors with a results file for every evaluated series
/// (`results/<det>/<category>/<det>_<name>.csv`, NAB's layout, or
/// `results/<det>/<det>_<name>.csv`) and thresholds in
/// `config/thresholds.json`, scored here at NAB's thresholds.
fn published_from_results(
    roots: &[PathBuf],
    windows: &CorpusWindows,
    profiles: &Profiles,
    files: &[FileDetections],
) -> Result<Vec<PublishedScore>, Error> {
    let (Some(results), Some(thresholds)) = (
        find_in(roots, "results"),
        find_in(roots, "config/thresholds.json"),
    ) else {
        return Ok(Vec::new());
    };
    let thresholds = read_thresholds_json(thresholds)?;
    let mut detectors: Vec<String> = std::fs::read_dir(&results)
        .map_err(|source| Error::Io {
            path: results.clone(),
            source,
        })?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    detectors.sort();
    let mut out = Vec::new();
    'detector: for detector in detectors {
        let mut per_file = Vec::new();
        for file in files {
            let (category, name) = file.name.rsplit_once('/').unwrap_or(("", &file.name));
            let candidates = [
                results
                    .join(&detector)
                    .join(category)
                    .join(format!("{detector}_{name}")),
                results.join(&detector).join(format!("{detector}_{name}")),
            ];
            let Some(path) = candidates.iter().find(|p| p.is_file()) else {
                continue 'detector;
            };
            let r = read_results_csv(path)?;
            if r.timestamps != file.timestamps {
                continue 'detector;
            }
            per_file.push(r);
        }
        let mut scores = [0.0; 3];
        for (slot, profile) in scores.iter_mut().zip(Profile::ALL) {
            let Some(threshold) = thresholds.get(&detector, profile) else {
                continue 'detector;
            };
            let detected = files
                .iter()
                .zip(&per_file)
                .map(|(f, r)| {
                    Ok(FileDetections {
                        name: f.name.clone(),
                        timestamps: f.timestamps.clone(),
                        detections: r.detections(threshold)?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let Some(score) =
                score_corpus(&detected, windows, &profiles.get(profile))?.normalized_score
            else {
                continue 'detector;
            };
            *slot = score;
        }
        out.push(PublishedScore {
            detector,
            scores,
            source: PublishedSource::Results,
        });
    }
    Ok(out)
}

/// The rows of SCOREBOARD.md's table for the same windows: the first `###`
/// section whose heading says `<windows> windows` and whose table has the
/// columns `Detector | Standard | Reward low FP | Reward low FN` (the null
/// detector left out). Anything else is not parseable and gives nothing.
fn parse_scoreboard(text: &str, windows: usize) -> Vec<PublishedScore> {
    let needle = format!("{windows} windows");
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if !(line.starts_with("### ") && line.contains(&needle)) {
            continue;
        }
        let mut rows = Vec::new();
        let mut header_seen = false;
        for line in lines.by_ref() {
            if line.starts_with('#') {
                break;
            }
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            if cells.len() != 4 {
                continue;
            }
            if !header_seen {
                let header: Vec<String> = cells.iter().map(|c| c.to_lowercase()).collect();
                header_seen = header[0].starts_with("detector")
                    && header[1] == "standard"
                    && header[2] == "reward low fp"
                    && header[3] == "reward low fn";
                continue;
            }
            let scores: Vec<f64> = cells[1..].iter().filter_map(|c| c.parse().ok()).collect();
            let detector = cells[0].to_owned();
            if let ([a, b, c], false) = (scores.as_slice(), detector == "null") {
                rows.push(PublishedScore {
                    detector,
                    scores: [*a, *b, *c],
                    source: PublishedSource::Scoreboard,
                });
            }
        }
        if header_seen {
            return rows;
        }
    }
    Vec::new()
}

/// The `--json` shape: `{"files": {name: {profile: score}}, "overall":
/// {"standard": N, "reward_low_FP": N, "reward_low_FN": N}}` (a file with no
/// windows scores `null`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NabSummary {
    /// Per file (by windows-JSON key), each file normalised on its own.
    pub files: BTreeMap<String, ProfileScores>,
    /// Over all files, NAB's corpus normalisation.
    pub overall: ProfileScores,
}

/// Normalised scores under NAB's three profiles.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ProfileScores {
    /// `standard`.
    pub standard: Option<f64>,
    /// `reward_low_FP_rate`.
    #[serde(rename = "reward_low_FP")]
    pub reward_low_fp: Option<f64>,
    /// `reward_low_FN_rate`.
    #[serde(rename = "reward_low_FN")]
    pub reward_low_fn: Option<f64>,
}

impl NabEvaluation {
    /// The `--json` summary.
    pub fn summary(&self) -> NabSummary {
        let s = &self.scores;
        let files = s
            .standard
            .files
            .iter()
            .zip(&s.reward_low_fp.files)
            .zip(&s.reward_low_fn.files)
            .map(|((a, b), c)| {
                let scores = ProfileScores {
                    standard: a.normalized_score,
                    reward_low_fp: b.normalized_score,
                    reward_low_fn: c.normalized_score,
                };
                (a.name.clone(), scores)
            })
            .collect();
        NabSummary {
            files,
            overall: ProfileScores {
                standard: s.standard.normalized_score,
                reward_low_fp: s.reward_low_fp.normalized_score,
                reward_low_fn: s.reward_low_fn.normalized_score,
            },
        }
    }
}

fn score(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"))
}

fn delays(d: &DelayStats) -> String {
    match (d.median, d.best, d.worst) {
        (Some(m), Some(b), Some(w)) => format!(
            "median {m}, best {b}, worst {w} ({} of {} windows detected)",
            d.detected, d.windows
        ),
        _ => format!("no window detected (of {})", d.windows),
    }
}

/// Every detection of every file and how it was scored (`vigil eval nab
/// --detections`).
#[derive(Debug)]
pub struct DetectionList<'a>(&'a NabEvaluation);

impl NabEvaluation {
    /// Every detection of every file, one line each, with how NAB's
    /// standard profile scored it and the detector's reason.
    pub fn detection_list(&self) -> DetectionList<'_> {
        DetectionList(self)
    }
}

impl fmt::Display for DetectionList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Detections (standard profile):")?;
        for file in &self.0.files {
            writeln!(f, "{} ({} detections)", file.name, file.detections.len())?;
            for d in &file.detections {
                writeln!(
                    f,
                    "  row {:>6}  {}  {:<9}  {:<8}  {:<32}  {}",
                    d.detection.row,
                    d.at.format("%Y-%m-%d %H:%M:%S"),
                    d.detection.transition.as_str(),
                    d.detection.level.as_str(),
                    d.scored.to_string(),
                    d.detection.reason
                )?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for NabEvaluation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.detect;
        let std = &self.scores.standard;
        writeln!(
            f,
            "NAB evaluation: {} series, {} windows; one detect configuration for all ({}):",
            self.files.len(),
            std.windows,
            self.config_origin
        )?;
        writeln!(
            f,
            "  bin_secs = {}, scales_secs = {:?}, allowed_lateness_secs = {}, baseline_half_life_secs = {}, warmup_secs = {},",
            d.bin.as_secs_f64(), d.scales.iter().map(Duration::as_secs).collect::<Vec<_>>(), d.allowed_lateness.as_secs_f64(), d.baseline_half_life.as_secs_f64(), d.warmup.as_secs_f64()
        )?;
        writeln!(
            f,
            "  z_floor = {}, calibration_sigmas = {}, calibration_half_life_secs = {}, min_count = {}, absolute_count = {}, sustain_ratio = {}, resolve_after_quiet_secs = {},",
            d.z_floor, d.calibration_sigmas, d.calibration_half_life.as_secs_f64(), d.min_count, d.absolute_count, d.sustain_ratio, d.resolve_after_quiet.as_secs_f64()
        )?;
        writeln!(
            f,
            "  persistence_secs = {}, persistence_sigmas = {}, seasonal_half_life_days = {}, seasonal_max_factor = {}",
            d.persistence.as_ref().map_or(0.0, Duration::as_secs_f64), d.persistence_sigmas, d.seasonal_half_life.map_or(0.0, |h| h.as_secs_f64() / 86_400.0), d.seasonal_max_factor
        )?;
        writeln!(
            f,
            "  series: {}",
            match self.series {
                SeriesKind::Auto => "whole numbers are counts of posts (a rise alerts), other series measurements (judged both ways)",
                SeriesKind::Measured => "every series a measurement, judged both ways (--series measured)",
            }
        )?;
        writeln!(
            f,
            "  a detection = an incident opened or escalated in the row's bin\n"
        )?;
        let width = self
            .files
            .iter()
            .map(|x| x.name.len())
            .max()
            .unwrap_or(4)
            .max(7);
        writeln!(
            f,
            "{:width$}  {:>6}  {:>8}  {:>3}  {:>8}  {:>13}  {:>13}  delays (rows from window start)",
            "file", "rows", "windows", "FP", "standard", "reward_low_FP", "reward_low_FN"
        )?;
        for (i, file) in self.files.iter().enumerate() {
            let report = |p: Profile| &self.scores.get(p).files[i];
            let s = report(Profile::Standard);
            let found: Vec<String> = s
                .score
                .windows
                .iter()
                .map(|w| {
                    w.delay_rows
                        .map_or_else(|| "miss".to_owned(), |d| d.to_string())
                })
                .collect();
            writeln!(
                f,
                "{:width$}  {:>6}  {:>8}  {:>3}  {:>8}  {:>13}  {:>13}  {}",
                file.name,
                file.rows,
                format!("{}/{}", s.score.detected_windows(), s.score.windows.len()),
                s.score.fp,
                score(s.normalized_score),
                score(report(Profile::RewardLowFp).normalized_score),
                score(report(Profile::RewardLowFn).normalized_score),
                found.join(" ")
            )?;
        }
        writeln!(
            f,
            "{:width$}  {:>6}  {:>8}  {:>3}  {:>8}  {:>13}  {:>13}",
            "overall",
            self.files.iter().map(|x| x.rows).sum::<usize>(),
            format!("{}/{}", std.detected_windows, std.windows),
            std.fp,
            score(std.normalized_score),
            score(self.scores.reward_low_fp.normalized_score),
            score(self.scores.reward_low_fn.normalized_score),
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "First detection from window start, rows (= bins): {}",
            delays(&self.delay_from_window_start)
        )?;
        if let Some(d) = &self.delay_from_label {
            writeln!(
                f,
                "First detection from the window's labelled anomaly, rows (negative = before it): {}",
                delays(d)
            )?;
        }
        if !self.missing.is_empty() {
            writeln!(
                f,
                "Note: {} labelled file(s) have no series under the data folder and are not scored: {}",
                self.missing.len(),
                self.missing.join(", ")
            )?;
        }
        if !self.published.is_empty() {
            writeln!(f)?;
            writeln!(
                f,
                "Published detectors on the same files (NAB's corpus-optimised thresholds):"
            )?;
            let width = self
                .published
                .iter()
                .map(|p| p.detector.len())
                .max()
                .unwrap_or(0)
                .max(20);
            writeln!(
                f,
                "{:width$}  {:>8}  {:>13}  {:>13}  source",
                "detector", "standard", "reward_low_FP", "reward_low_FN"
            )?;
            let vigil = [
                std.normalized_score,
                self.scores.reward_low_fp.normalized_score,
                self.scores.reward_low_fn.normalized_score,
            ];
            let mut vigil_printed = false;
            let print_vigil = |f: &mut fmt::Formatter<'_>| {
                writeln!(
                    f,
                    "{:width$}  {:>8}  {:>13}  {:>13}  this run",
                    "Vigil",
                    score(vigil[0]),
                    score(vigil[1]),
                    score(vigil[2])
                )
            };
            for p in &self.published {
                if !vigil_printed && vigil[0].is_some_and(|v| v >= p.scores[0]) {
                    print_vigil(f)?;
                    vigil_printed = true;
                }
                writeln!(
                    f,
                    "{:width$}  {:>8.2}  {:>13.2}  {:>13.2}  {}",
                    p.detector,
                    p.scores[0],
                    p.scores[1],
                    p.scores[2],
                    match p.source {
                        PublishedSource::Results => "results/ rescored here",
                        PublishedSource::Scoreboard => "SCOREBOARD.md",
                    }
                )?;
            }
            if !vigil_printed {
                print_vigil(f)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_types::Transition;

    #[test]
    fn rows_keep_their_own_time_and_only_a_taken_bin_moves_a_row() {
        // A gap stays a gap (a traffic sensor silent for an hour must not
        // shift the rest of its series an hour earlier: the detector
        // learns its daily rhythm by hour of day); a repeated timestamp and
        // a row closer than the step move to the next free bin.
        let t = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap();
        let rows = [
            "2015-09-01 00:00:00",
            "2015-09-01 00:05:00",
            "2015-09-01 00:05:00",
            "2015-09-01 01:20:00",
            "2015-09-01 01:24:00",
            "2015-09-01 01:22:00",
        ]
        .map(t);
        let got = row_times(&rows, 300);
        let want = [
            "2015-09-01 00:00:00",
            "2015-09-01 00:05:00",
            "2015-09-01 00:10:00",
            "2015-09-01 01:20:00",
            "2015-09-01 01:25:00",
            "2015-09-01 01:30:00",
        ]
        .map(t);
        assert_eq!(got, want);
    }

    #[test]
    fn each_detection_is_scored_as_the_scorer_scores_it() {
        // 100 rows of 5 minutes: rows 0..15 are probationary, one window
        // on rows 40..=49.
        let start =
            NaiveDateTime::parse_from_str("2015-09-01 00:00:00", "%Y-%m-%d %H:%M:%S").unwrap();
        let timestamps: Vec<NaiveDateTime> = (0..100)
            .map(|i| start + chrono::Duration::minutes(5 * i))
            .collect();
        let at = |row: usize| timestamps[row].format("%Y-%m-%d %H:%M:%S").to_string();
        let windows = super::super::read::parse_windows_json(&format!(
            r#"{{"f.csv": [["{}", "{}"]]}}"#,
            at(40),
            at(49)
        ))
        .unwrap();
        let file = FileDetections {
            name: "f.csv".to_owned(),
            timestamps: timestamps.clone(),
            detections: vec![false; 100],
        };
        let event = |row: usize, transition: Transition| Detection {
            row,
            transition,
            level: vigil_types::Level::Minor,
            reason: "minor: test".to_owned(),
        };
        let listed = list_detections(
            &file,
            vec![
                event(5, Transition::Opened),
                event(42, Transition::Opened),
                event(42, Transition::Escalated),
                event(45, Transition::Opened),
                event(70, Transition::Opened),
            ],
            &windows,
            &Profiles::nab_default().standard,
        )
        .unwrap();
        let scored: Vec<Scored> = listed.iter().map(|l| l.scored).collect();
        assert_eq!(scored[0], Scored::Probation);
        assert!(matches!(scored[1], Scored::Found { window: 0, weight } if weight > 0.9));
        assert_eq!(scored[2], Scored::Again { window: 0 });
        assert_eq!(scored[3], Scored::Again { window: 0 });
        assert!(matches!(scored[4], Scored::FalsePositive { weight } if weight < 0.0));
        assert_eq!(listed[4].at, timestamps[70]);
    }

    #[test]
    fn delay_stats_median_of_even_and_odd_counts() {
        let d = DelayStats::of([Some(3), None, Some(1), Some(7)]);
        assert_eq!((d.detected, d.windows), (3, 4));
        assert_eq!((d.median, d.best, d.worst), (Some(3.0), Some(1), Some(7)));
        let d = DelayStats::of([Some(4), Some(-2)]);
        assert_eq!(d.median, Some(1.0));
        assert_eq!(DelayStats::of([None]).median, None);
    }

    #[test]
    fn summary_json_is_files_then_overall_in_profile_order() {
        let scores = ProfileScores {
            standard: Some(72.5),
            reward_low_fp: Some(69.0),
            reward_low_fn: None,
        };
        let summary = NabSummary {
            files: BTreeMap::from([("realTweets/a.csv".to_owned(), scores)]),
            overall: scores,
        };
        let profiles = r#"{"standard":72.5,"reward_low_FP":69.0,"reward_low_FN":null}"#;
        assert_eq!(
            serde_json::to_string(&summary).unwrap(),
            format!(r#"{{"files":{{"realTweets/a.csv":{profiles}}},"overall":{profiles}}}"#)
        );
    }

    #[test]
    fn scoreboard_table_is_found_by_its_window_count() {
        let text = "\
# Board
### All 10 files (31 windows)
| Detector (results/ dir) | Standard | Reward low FP | Reward low FN |
|---|---|---|---|
| ARTime | 81.84 | 70.08 | 87.89 |
### The 5 shared files (AAPL; 16 windows)
| Detector (results/ dir) | Standard | Reward low FP | Reward low FN |
|---|---|---|---|
| ARTime | 81.44 | 69.44 | 87.63 |
| contextOSE | 60.41 | 58.25 | 62.73 |
| null | 0.00 | 0.00 | 0.00 |

(text)
### Other
| ARTime | 1 | 2 | 3 |
";
        let rows = parse_scoreboard(text, 16);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].detector, "contextOSE");
        assert_eq!(rows[1].scores, [60.41, 58.25, 62.73]);
        assert!(parse_scoreboard(text, 7).is_empty());
    }
}
