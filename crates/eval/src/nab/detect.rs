//! Running Vigil's detector over NAB series: each row's value is the count
//! of one detect bin, fed in event time into a fresh [`Detector`] per file;
//! a row is a detection when an incident opens or escalates in its bin.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use serde::Serialize;
use vigil_config::{DetectSettings, Settings};
use vigil_detect::{Detector, Observation};
use vigil_types::{EventTime, Level, Spike, Transition, WatchId};

use super::error::Error;
use super::read::Series;

/// The detect configuration `vigil eval nab` uses when given no `--config`
/// (`config/nab.toml`, layered over `config/default.toml`): the default
/// detector with 5-minute bins, one configuration for every series.
pub const NAB_CONFIG_TOML: &str = include_str!("../../../../config/nab.toml");

/// The one watch each series is fed to.
const WATCH: &str = "nab";

/// Load the settings for a NAB run from a config file's text (layered over
/// the built-in defaults, then `VIGIL__*` variables from `env`). Only the
/// `[detect]` section (and `score.negative_threshold`) matter here; a file
/// without watches gets one, since every series is fed to a single watch.
pub fn load_settings(
    text: &str,
    origin: &str,
    env: &[(String, String)],
) -> Result<Settings, Error> {
    let has_watches = text
        .parse::<toml::Table>()
        .is_ok_and(|t| t.contains_key("watches"));
    let text = if has_watches {
        text.to_owned()
    } else {
        format!("{text}\n[[watches]]\nid = \"{WATCH}\"\nterms = [\"{WATCH}\"]\n")
    };
    Settings::from_toml_str(&text, origin, env).map_err(|source| Error::InvalidConfig { source })
}

/// An incident opened or escalated in one row's bin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// The row (0-based, in file order).
    pub row: usize,
    /// Opened or escalated.
    pub transition: Transition,
    /// The level it opened or escalated to.
    pub level: Level,
    /// The detector's reason, as an alert carries it.
    pub reason: String,
}

/// What one series did to the detector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeriesRun {
    /// One flag per row: an incident opened or escalated in the row's bin.
    pub detections: Vec<bool>,
    /// Each opening and escalation, in order (a row may hold two).
    pub events: Vec<Detection>,
    /// Incidents opened.
    pub opened: usize,
    /// Escalations of a live incident.
    pub escalated: usize,
}

/// Milliseconds since the epoch of a NAB timestamp (NAB's files carry no
/// zone; they are read as UTC).
fn millis(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_millis()
}

/// A row value as a count of posts: a whole number in `0..=u32::MAX`.
fn count(value: f64) -> Option<u32> {
    (value.is_finite() && value >= 0.0 && value.fract() == 0.0 && value <= f64::from(u32::MAX))
        .then_some(value as u32)
}

/// What the values of a series are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Whole numbers are counts of posts (a rise alerts, the Poisson term
    /// and the count floors apply); anything else is a measurement.
    #[default]
    Auto,
    /// Every series is a measurement, whole numbers too (a speed in km/h,
    /// a number of taxi passengers): judged both ways.
    Measured,
}

/// Feed `series` into a fresh detector with the `[detect]` settings
/// `detect` (one watch, graded by `detect.grading`): row `i`'s value is the count of the bin holding its
/// timestamp, observed at that event time (processing time = event time, as
/// in a replay), then the watermark closes every bin it passed. At the end
/// the last bin is closed too ([`Detector::finish`]).
///
/// Each row must fall in its own bin (the series' step is at least
/// `bin_ms`); rows further apart leave empty bins between them, and a spike
/// in an empty bin is attributed to the next row.
pub fn detect_series(
    detect: &DetectSettings,
    negative_threshold: f32,
    series: &Series,
    kind: SeriesKind,
) -> Result<SeriesRun, Error> {
    let rows = series.timestamps.len();
    if series.values.len() != rows {
        return Err(Error::LengthMismatch {
            what: "values",
            expected: rows,
            found: series.values.len(),
        });
    }
    let bin_ms = detect.bin.as_millis().max(1) as i64;
    let bins: Vec<i64> = series
        .timestamps
        .iter()
        .map(|&t| millis(t).div_euclid(bin_ms) * bin_ms)
        .collect();
    if let Some(row) = bins.windows(2).position(|b| b[0] >= b[1]) {
        return Err(Error::BinsNotIncreasing {
            row: row + 1,
            bin_secs: bin_ms / 1000,
        });
    }
    let watch = WatchId::from(WATCH);
    let mut detector = Detector::with_settings(
        detect,
        negative_threshold,
        [(watch.clone(), detect.grading.clone())],
    );
    let mut run = SeriesRun {
        detections: vec![false; rows],
        events: Vec::new(),
        opened: 0,
        escalated: 0,
    };
    let mut spikes = Vec::new();
    let mut updates = Vec::new();
    let mark = |spikes: &mut Vec<Spike>, run: &mut SeriesRun| {
        for spike in spikes.drain(..) {
            match spike.transition {
                Transition::Opened => run.opened += 1,
                Transition::Escalated => run.escalated += 1,
                _ => continue,
            }
            // The window's newest bin.
            let bin = spike.figures.window_end.0 - bin_ms;
            let row = bins.partition_point(|&b| b < bin);
            if let Some(d) = run.detections.get_mut(row) {
                *d = true;
                run.events.push(Detection {
                    row,
                    transition: spike.transition,
                    level: spike.level,
                    reason: spike.figures.reason,
                });
            }
        }
    };
    // With `SeriesKind::Auto` a series of whole numbers is a count of posts;
    // any other series is a measurement (judged both ways, without the
    // Poisson term and the count floors).
    if let Some(row) = series.values.iter().position(|v| !v.is_finite()) {
        return Err(Error::NotACount {
            row,
            value: series.values[row],
        });
    }
    let counts = kind == SeriesKind::Auto && series.values.iter().all(|&v| count(v).is_some());
    for (row, (&t, &value)) in series.timestamps.iter().zip(&series.values).enumerate() {
        let at = EventTime(millis(t));
        let observed = match count(value).filter(|_| counts) {
            Some(n) => detector.observe_count(&watch, at, n, at),
            None => detector.observe_value(&watch, at, value, at),
        };
        match observed {
            Observation::Accepted => {}
            rejected => {
                return Err(Error::RowRejected {
                    row,
                    reason: rejected.reason().unwrap_or("unknown"),
                })
            }
        }
        detector.advance(&mut spikes, &mut updates);
        updates.clear();
        mark(&mut spikes, &mut run);
    }
    detector.finish(&mut spikes, &mut updates);
    mark(&mut spikes, &mut run);
    Ok(run)
}

/// The NAB series under `dir`, recursively, sorted by path: every `.csv`
/// whose header is exactly `timestamp,value` (so results files, which carry
/// more columns, are skipped).
pub fn find_series(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io { path, source }
    };
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(io(&d))? {
            let path = entry.map_err(io(&d))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "csv") && is_series_csv(&path)? {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

fn is_series_csv(path: &Path) -> Result<bool, Error> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file);
    let header = reader.headers().map_err(|source| Error::Csv { source })?;
    Ok(header.iter().eq(["timestamp", "value"]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nab::{
        score_corpus_profiles, CorpusWindows, FileDetections, Profiles, WindowLimits,
    };
    use std::collections::BTreeMap;
    use vigil_types::{AuthorId, PostId, ScoredPost};

    fn settings() -> Settings {
        load_settings(NAB_CONFIG_TOML, "config/nab.toml", &[]).unwrap()
    }

    /// `detect_series` with the settings' parameters, whole numbers as counts.
    fn run_auto(s: &Settings, series: &Series) -> SeriesRun {
        detect_series(
            &s.detect,
            s.score.negative_threshold,
            series,
            SeriesKind::Auto,
        )
        .unwrap()
    }

    fn at(row: usize) -> NaiveDateTime {
        // Off the bin grid on purpose, like NAB's `21:42:53`.
        chrono::NaiveDate::from_ymd_opt(2015, 2, 26)
            .unwrap()
            .and_hms_opt(21, 42, 53)
            .unwrap()
            + chrono::Duration::seconds(300 * row as i64)
    }

    /// `rows` rows of a noisy daily rhythm around `level` (a fixed LCG, so
    /// the test is deterministic), plus `spike` added to rows `from..to`.
    fn synthetic(rows: usize, level: f64, spike: (usize, usize, f64)) -> Series {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let values = (0..rows)
            .map(|i| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let noise = ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 2.0; // [-1, 1)
                let day = (i as f64 * std::f64::consts::TAU / 288.0).sin();
                let base = level * (1.0 + 0.4 * day) + noise * level.sqrt() * 2.0;
                let extra = if (spike.0..spike.1).contains(&i) {
                    spike.2
                } else {
                    0.0
                };
                (base + extra).round().max(0.0)
            })
            .collect();
        Series {
            timestamps: (0..rows).map(at).collect(),
            values,
        }
    }

    #[test]
    fn a_step_spike_in_a_labelled_window_is_detected_inside_it() {
        let s = settings();
        let series = synthetic(4000, 20.0, (3000, 3012, 400.0));
        let run = run_auto(&s, &series);
        let rows: Vec<usize> = (0..run.detections.len())
            .filter(|&i| run.detections[i])
            .collect();
        // The first detection is the spike's first bin: the 3-bin window
        // holds 400 extra posts as soon as that bin closes.
        assert_eq!(rows.first(), Some(&3000), "{rows:?}");
        assert!(rows.iter().all(|&r| (3000..3012).contains(&r)), "{rows:?}");
        assert_eq!(run.opened, 1);

        // Scored as NAB does: a window around the spike, detected at its
        // first row after the window's start.
        let windows = CorpusWindows::new(BTreeMap::from([(
            "synthetic/step.csv".to_owned(),
            vec![WindowLimits {
                start: at(2900),
                end: at(3100),
            }],
        )]));
        let file = FileDetections {
            name: "step.csv".to_owned(),
            timestamps: series.timestamps.clone(),
            detections: run.detections,
        };
        let scores = score_corpus_profiles(&[file], &windows, &Profiles::nab_default()).unwrap();
        let standard = &scores.standard;
        assert_eq!(standard.detected_windows, 1);
        assert_eq!(standard.fp, 0);
        assert_eq!(standard.files[0].score.windows[0].delay_rows, Some(100));
        assert!(standard.normalized_score.unwrap() > 90.0);
    }

    #[test]
    fn quiet_noise_gives_no_detection_and_a_missed_window() {
        let s = settings();
        let series = synthetic(4000, 20.0, (0, 0, 0.0));
        let run = run_auto(&s, &series);
        assert!(run.detections.iter().all(|d| !d));
        assert_eq!(run.opened, 0);
    }

    #[test]
    fn a_detection_is_the_row_of_the_windows_newest_bin() {
        // One-bin windows, a 30-second grid: the spike opens in the bin of
        // row 40 and nowhere else.
        let text = "[detect]\nbin_secs = 30\nscales_secs = [30]\nallowed_lateness_secs = 0\n";
        let s = load_settings(text, "t.toml", &[]).unwrap();
        let mut series = Series {
            timestamps: (0..60)
                .map(|i| at(0) + chrono::Duration::seconds(30 * i))
                .collect(),
            values: vec![10.0; 60],
        };
        series.values[40] = 500.0;
        let run = run_auto(&s, &series);
        let rows: Vec<usize> = (0..60).filter(|&i| run.detections[i]).collect();
        assert_eq!(rows, [40]);
    }

    #[test]
    fn observe_count_matches_observing_each_post() {
        // The same per-bin counts fed as n bare posts and as one count give
        // the same spikes.
        let s = load_settings("[detect]\nbin_secs = 60\n", "t.toml", &[]).unwrap();
        let counts: Vec<u32> = (0..120)
            .map(|i| if (90..93).contains(&i) { 60 } else { 3 + i % 3 })
            .collect();
        let watch = WatchId::from(WATCH);
        let grading = &s.detect.grading;
        let mut by_count = Detector::with_settings(
            &s.detect,
            s.score.negative_threshold,
            [(watch.clone(), grading.clone())],
        );
        let mut by_post = Detector::with_settings(
            &s.detect,
            s.score.negative_threshold,
            [(watch.clone(), grading.clone())],
        );
        let (mut a, mut b, mut updates) = (Vec::new(), Vec::new(), Vec::new());
        for (i, &n) in counts.iter().enumerate() {
            let t = EventTime(1_425_000_000_000 + 60_000 * i as i64 + 7_000);
            assert_eq!(
                by_count.observe_count(&watch, t, n, t),
                Observation::Accepted
            );
            for k in 0..n {
                let post = ScoredPost {
                    post_id: PostId::from(format!("{i}-{k}").as_str()),
                    watch: watch.clone(),
                    source: "x".to_owned(),
                    region: None,
                    author: AuthorId::from("a"),
                    published_at: t,
                    hits: Vec::new(),
                    sentiment: 0.0,
                    kinds: Vec::new(),
                    origin_partition: None,
                    gist: Default::default(),
                };
                assert_eq!(by_post.observe(&post, t), Observation::Accepted);
            }
            by_count.advance(&mut a, &mut updates);
            by_post.advance(&mut b, &mut updates);
        }
        by_count.finish(&mut a, &mut updates);
        by_post.finish(&mut b, &mut updates);
        let key = |s: &Spike| {
            (
                s.transition,
                s.figures.window_end,
                s.figures.observed,
                s.level,
                s.figures.z.to_bits(),
            )
        };
        assert!(!a.is_empty());
        assert_eq!(
            a.iter().map(key).collect::<Vec<_>>(),
            b.iter().map(key).collect::<Vec<_>>()
        );
        // Unknown watches are refused, as for posts.
        let t = EventTime(1_425_000_000_000 + 60_000 * 200);
        assert_eq!(
            by_count.observe_count(&WatchId::from("other"), t, 1, t),
            Observation::UnknownWatch
        );
    }

    #[test]
    fn values_must_be_finite_and_rows_must_not_share_a_bin() {
        let s = settings();
        let (p, g) = (&s.detect, s.score.negative_threshold);
        let mut series = synthetic(10, 5.0, (0, 0, 0.0));
        // Non-integer and negative values are a measurement, not an error.
        series.values[4] = 2.5;
        assert!(detect_series(p, g, &series, SeriesKind::Auto).is_ok());
        series.values[4] = -1.0;
        assert!(detect_series(p, g, &series, SeriesKind::Auto).is_ok());
        series.values[4] = f64::NAN;
        assert!(matches!(
            detect_series(p, g, &series, SeriesKind::Auto),
            Err(Error::NotACount { row: 4, .. })
        ));
        series.values[4] = 1.0;
        series.timestamps[5] = series.timestamps[4] + chrono::Duration::seconds(60);
        assert!(matches!(
            detect_series(p, g, &series, SeriesKind::Auto),
            Err(Error::BinsNotIncreasing {
                row: 5,
                bin_secs: 300
            })
        ));
    }

    #[test]
    fn settings_get_a_watch_when_the_file_has_none_and_errors_are_listed() {
        let s = load_settings("[detect]\nbin_secs = 300\n", "t.toml", &[]).unwrap();
        assert_eq!(s.watches.len(), 1);
        assert_eq!(s.detect.bin, std::time::Duration::from_secs(300));
        // The built-in file states its own watch and the 5-minute bins.
        let nab = settings();
        assert_eq!(nab.watches[0].id.as_str(), WATCH);
        assert_eq!(nab.detect.bin, std::time::Duration::from_secs(300));
        // Environment overrides layer on top.
        let env = [("VIGIL__DETECT__Z_FLOOR".to_owned(), "7.5".to_owned())];
        let s = load_settings(NAB_CONFIG_TOML, "nab", &env).unwrap();
        assert_eq!(s.detect.z_floor, 7.5);
        let err = load_settings(
            "[detect]\nbin_secs = 0\nscales_secs = []\n",
            "bad.toml",
            &[],
        );
        let Err(Error::InvalidConfig { source }) = err else {
            panic!("{err:?}")
        };
        assert_eq!(source.problems().len(), 2, "{source}");
    }

    #[test]
    fn only_timestamp_value_csvs_are_series() {
        let dir = std::env::temp_dir().join(format!("vigil-nab-find-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("realTweets")).unwrap();
        std::fs::write(dir.join("realTweets/a.csv"), "timestamp,value\n").unwrap();
        std::fs::write(dir.join("b.csv"), "timestamp,value\r\n").unwrap();
        std::fs::write(dir.join("r.csv"), "timestamp,value,anomaly_score\n").unwrap();
        std::fs::write(dir.join("notes.txt"), "timestamp,value\n").unwrap();
        let found = find_series(&dir).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["b.csv", "realTweets/a.csv"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
