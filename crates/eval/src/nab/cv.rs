//! Leave-one-series-out cross-validation of a swept detect setting.
//!
//! A value chosen by sweeping a setting over the very series it is scored
//! on is an in-sample figure. Here each series is held out in turn: the
//! value is chosen on the other series only (on a plateau: the value
//! whose worst grid neighbour scores best, never a lone peak or a cliff
//! edge), and the held-out series is scored with it. The held-out detections of every
//! fold are then scored together, with NAB's normalisation, as the
//! cross-validated score.

use serde::Serialize;
use vigil_config::DetectSettings;

use super::corpus::{score_corpus, FileDetections};
use super::detect::find_series;
use super::error::Error;
use super::read::{read_profiles_json, read_windows_json, Profile, Profiles};
use super::report::{data_roots, find_in, load_series, run_series, NabEvalOptions};

/// A setting of `[detect]` and the values a sweep tries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvAxis {
    /// The `[detect]` key.
    pub key: String,
    /// Values tried, in increasing order.
    pub values: Vec<f64>,
}

/// The settings a sweep chooses together: every combination of their
/// values is one point of the grid.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvGrid {
    /// One axis per swept setting.
    pub axes: Vec<CvAxis>,
}

impl CvGrid {
    /// The three settings that decide how rare a deviation must be for its
    /// watch: `calibration_sigmas` (one window's z), `persistence_sigmas`
    /// (the short-term mean of z) and `persistence_secs` (how long that
    /// mean runs, up to the three hours a ramp may take), over grids
    /// around their defaults. All three were chosen by a sweep, so all three
    /// are cross-validated.
    pub fn default_grid() -> CvGrid {
        CvGrid {
            axes: vec![
                CvAxis {
                    key: "calibration_sigmas".to_owned(),
                    values: vec![4.5, 5.0, 5.5, 6.0, 6.5, 7.0],
                },
                CvAxis {
                    key: "persistence_sigmas".to_owned(),
                    values: vec![1.5, 2.0, 2.5, 3.0, 3.5],
                },
                CvAxis {
                    key: "persistence_secs".to_owned(),
                    values: vec![3600.0, 5400.0, 7200.0, 10800.0],
                },
            ],
        }
    }

    /// Parses `key=v1,v2,...` (values increasing).
    pub fn parse_axis(text: &str) -> Result<CvAxis, Error> {
        let bad = || Error::CvKey {
            key: text.to_owned(),
        };
        let (key, values) = text.split_once('=').ok_or_else(bad)?;
        let values: Vec<f64> = values
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if values.is_empty() || values.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad());
        }
        let axis = CvAxis {
            key: key.trim().to_owned(),
            values,
        };
        // Unknown keys are refused here, before any run.
        if !CV_KEYS.contains(&axis.key.as_str()) {
            return Err(Error::CvKey { key: axis.key });
        }
        Ok(axis)
    }

    /// Every point of the grid, as one value index per axis (the last axis
    /// varies fastest).
    fn points(&self) -> Vec<Vec<usize>> {
        let mut points = vec![Vec::new()];
        for axis in &self.axes {
            points = points
                .into_iter()
                .flat_map(|p| {
                    (0..axis.values.len()).map(move |i| {
                        let mut q = p.clone();
                        q.push(i);
                        q
                    })
                })
                .collect();
        }
        points
    }

    fn values_at(&self, point: &[usize]) -> Vec<f64> {
        self.axes
            .iter()
            .zip(point)
            .map(|(a, &i)| a.values[i])
            .collect()
    }

    fn apply(&self, detect: &mut DetectSettings, point: &[usize]) -> Result<(), Error> {
        for (axis, &i) in self.axes.iter().zip(point) {
            axis.apply(detect, axis.values[i])?;
        }
        Ok(())
    }
}

/// The `[detect]` keys a sweep can choose.
pub const CV_KEYS: [&str; 6] = [
    "calibration_sigmas",
    "persistence_sigmas",
    "persistence_secs",
    "z_floor",
    "baseline_half_life_secs",
    "calibration_half_life_secs",
];

impl CvAxis {
    fn apply(&self, detect: &mut DetectSettings, value: f64) -> Result<(), Error> {
        match self.key.as_str() {
            "calibration_sigmas" => detect.calibration_sigmas = value,
            "persistence_sigmas" => detect.persistence_sigmas = value,
            "persistence_secs" => detect.persistence = secs(value).filter(|d| !d.is_zero()),
            "z_floor" => detect.z_floor = value,
            "baseline_half_life_secs" => {
                detect.baseline_half_life = secs(value).ok_or_else(|| Error::CvValue {
                    key: self.key.clone(),
                    value,
                })?
            }
            "calibration_half_life_secs" => {
                detect.calibration_half_life = secs(value).ok_or_else(|| Error::CvValue {
                    key: self.key.clone(),
                    value,
                })?
            }
            other => {
                return Err(Error::CvKey {
                    key: other.to_owned(),
                })
            }
        }
        Ok(())
    }
}

/// `value` seconds, when it is a number of seconds.
fn secs(value: f64) -> Option<std::time::Duration> {
    (value >= 0.0 && value.is_finite()).then(|| std::time::Duration::from_secs_f64(value))
}

/// One held-out series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvFold {
    /// The held-out series.
    pub held_out: String,
    /// The values chosen on the other series, one per axis.
    pub chosen: Vec<f64>,
    /// The held-out series' standard score at those values (normalised on
    /// its own file).
    pub held_out_score: Option<f64>,
    /// Its standard score at the values chosen on every series (in-sample).
    pub in_sample_score: Option<f64>,
}

/// One grid point's in-sample score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvPoint {
    /// One value per axis.
    pub values: Vec<f64>,
    /// Standard score over every series.
    pub score: Option<f64>,
}

/// Cross-validated and in-sample standard scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvReport {
    /// The swept settings.
    pub grid: CvGrid,
    /// Standard score over every series at each grid point (in-sample).
    pub in_sample_by_point: Vec<CvPoint>,
    /// The values the plateau rule picks on every series.
    pub in_sample_chosen: Vec<f64>,
    /// Standard score at those values: an in-sample figure.
    pub in_sample_score: Option<f64>,
    /// Standard score of the held-out detections of every fold.
    pub cv_score: Option<f64>,
    /// Windows found by the held-out detections.
    pub cv_detected_windows: usize,
    /// Label windows.
    pub windows: usize,
    /// False positives of the held-out detections.
    pub cv_fp: usize,
    /// One entry per series.
    pub folds: Vec<CvFold>,
}

/// The index of the best plateau among `points` (one value index per
/// axis): the point whose worst score among itself and its grid
/// neighbours (every point at most one step away on each axis) is
/// highest; on equal worsts, the higher mean of that neighbourhood, then
/// the first. A point beside a cliff has the cliff among its neighbours,
/// so a lone peak, or the high end of a slope that falls off, loses to a
/// level stretch. Only points inside the grid compete (not first or last
/// on an axis of three or more values): a point on the grid's edge has
/// unmeasured neighbours, so it cannot be shown to be on a plateau rather
/// than at a cliff edge.
fn plateau(points: &[Vec<usize>], scores: &[f64]) -> usize {
    let near = |a: &[usize], b: &[usize]| a.iter().zip(b).all(|(x, y)| x.abs_diff(*y) <= 1);
    // (worst, mean) of the point and its neighbours.
    let around = |i: usize| {
        let (worst, sum, n) = points
            .iter()
            .zip(scores)
            .filter(|(q, _)| near(&points[i], q))
            .fold((f64::INFINITY, 0.0, 0usize), |(w, s, n), (_, &x)| {
                (w.min(x), s + x, n + 1)
            });
        (worst, sum / n.max(1) as f64)
    };
    let axes = points.first().map_or(0, Vec::len);
    let len: Vec<usize> = (0..axes)
        .map(|a| points.iter().map(|p| p[a] + 1).max().unwrap_or(0))
        .collect();
    let inside = |i: usize| {
        points[i]
            .iter()
            .zip(&len)
            .all(|(&x, &n)| n < 3 || (x > 0 && x + 1 < n))
    };
    let candidates: Vec<usize> = (0..scores.len()).filter(|&i| inside(i)).collect();
    let candidates = if candidates.is_empty() {
        (0..scores.len()).collect()
    } else {
        candidates
    };
    candidates
        .into_iter()
        .map(|i| (i, around(i)))
        .max_by(|(a, (wa, ma)), (b, (wb, mb))| {
            wa.total_cmp(wb).then(ma.total_cmp(mb)).then(b.cmp(a))
        })
        .map_or(0, |(i, _)| i)
}

/// Leave-one-series-out cross-validation of `grid` over the series of
/// `options` (standard profile).
pub fn cross_validate(options: &NabEvalOptions, grid: &CvGrid) -> Result<CvReport, Error> {
    if let Some(axis) = grid.axes.iter().find(|a| a.values.is_empty()) {
        return Err(Error::CvKey {
            key: format!("{} (no values)", axis.key),
        });
    }
    if grid.axes.is_empty() {
        return Err(Error::CvKey {
            key: "(no setting to sweep)".to_owned(),
        });
    }
    let windows = read_windows_json(&options.labels)?;
    // The same profiles evaluate_nab finds beside the labels.
    let profiles = match find_in(&data_roots(&options.labels), "config/profiles.json") {
        Some(path) => read_profiles_json(path)?,
        None => Profiles::nab_default(),
    };
    let cost = profiles.get(Profile::Standard);
    let paths = find_series(&options.data)?;
    if paths.is_empty() {
        return Err(Error::NoSeries {
            dir: options.data.clone(),
        });
    }
    let negative = options.settings.score.negative_threshold;
    let points = grid.points();
    // runs[v][f]: detections of file f at grid point v.
    let mut runs: Vec<Vec<FileDetections>> = vec![Vec::new(); points.len()];
    for path in &paths {
        let (key, series) = load_series(&options.data, &windows, path)?;
        for (v, point) in points.iter().enumerate() {
            let mut detect = options.settings.detect.clone();
            grid.apply(&mut detect, point)?;
            let run = run_series(&detect, negative, &series, options.series).map_err(|source| {
                Error::InFile {
                    path: path.clone(),
                    source: Box::new(source),
                }
            })?;
            runs[v].push(FileDetections {
                name: key.clone(),
                timestamps: series.timestamps.clone(),
                detections: run.detections,
            });
        }
    }
    let files = paths.len();
    let score_of = |v: usize, keep: &dyn Fn(usize) -> bool| -> Result<f64, Error> {
        let chosen: Vec<FileDetections> = runs[v]
            .iter()
            .enumerate()
            .filter(|(f, _)| keep(*f))
            .map(|(_, d)| d.clone())
            .collect();
        Ok(score_corpus(&chosen, &windows, &cost)?
            .normalized_score
            .unwrap_or(f64::NEG_INFINITY))
    };
    let all: Vec<f64> = (0..points.len())
        .map(|v| score_of(v, &|_| true))
        .collect::<Result<_, _>>()?;
    let best_all = plateau(&points, &all);
    let mut folds = Vec::with_capacity(files);
    let mut held_out = Vec::with_capacity(files);
    for f in 0..files {
        let training: Vec<f64> = (0..points.len())
            .map(|v| score_of(v, &|g| g != f))
            .collect::<Result<_, _>>()?;
        let v = plateau(&points, &training);
        let one = |v: usize| -> Result<Option<f64>, Error> {
            Ok(score_corpus(&runs[v][f..=f], &windows, &cost)?.normalized_score)
        };
        folds.push(CvFold {
            held_out: runs[v][f].name.clone(),
            chosen: grid.values_at(&points[v]),
            held_out_score: one(v)?,
            in_sample_score: one(best_all)?,
        });
        held_out.push(runs[v][f].clone());
    }
    let cv = score_corpus(&held_out, &windows, &cost)?;
    let finite = |x: f64| x.is_finite().then_some(x);
    Ok(CvReport {
        grid: grid.clone(),
        in_sample_by_point: points
            .iter()
            .zip(&all)
            .map(|(p, &x)| CvPoint {
                values: grid.values_at(p),
                score: finite(x),
            })
            .collect(),
        in_sample_chosen: grid.values_at(&points[best_all]),
        in_sample_score: finite(all[best_all]),
        cv_score: cv.normalized_score,
        cv_detected_windows: cv.detected_windows,
        windows: cv.windows,
        cv_fp: cv.fp,
        folds,
    })
}

impl std::fmt::Display for CvReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.2}"));
        let keys: Vec<&str> = self.grid.axes.iter().map(|a| a.key.as_str()).collect();
        let vals = |v: &[f64]| {
            v.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "Leave-one-series-out cross-validation of detect.{} (standard profile)",
            keys.join(" and detect.")
        )?;
        writeln!(
            f,
            "\nIn-sample standard score over every series, per value of ({}):",
            keys.join(", ")
        )?;
        for p in &self.in_sample_by_point {
            writeln!(f, "  {:>24} {:>8}", vals(&p.values), s(p.score))?;
        }
        writeln!(
            f,
            "\n{:<44} {:>14} {:>10} {:>9} {:>14}",
            "held-out series", "chosen", "held-out", "in-sample", "(at values)"
        )?;
        let chosen = vals(&self.in_sample_chosen);
        for fold in &self.folds {
            writeln!(
                f,
                "{:<44} {:>14} {:>10} {:>9} {:>14}",
                fold.held_out,
                vals(&fold.chosen),
                s(fold.held_out_score),
                s(fold.in_sample_score),
                chosen
            )?;
        }
        writeln!(
            f,
            "\ncross-validated standard score: {} ({}/{} windows, {} FP)",
            s(self.cv_score),
            self.cv_detected_windows,
            self.windows,
            self.cv_fp
        )?;
        writeln!(
            f,
            "in-sample standard score:       {} (values {} chosen on every series)",
            s(self.in_sample_score),
            chosen
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{plateau, CvAxis, CvGrid};

    fn line(n: usize) -> Vec<Vec<usize>> {
        (0..n).map(|i| vec![i]).collect()
    }

    #[test]
    fn plateau_prefers_a_broad_top_to_a_lone_peak() {
        // A lone peak at index 1 (90) between cliffs, a plateau at 4..=6.
        let scores = [10.0, 90.0, 10.0, 60.0, 75.0, 78.0, 76.0, 50.0];
        assert_eq!(plateau(&line(8), &scores), 5);
        assert_eq!(plateau(&line(1), &[1.0]), 0);
        assert_eq!(plateau(&line(2), &[3.0, 3.0]), 0);
    }

    #[test]
    fn plateau_never_picks_the_top_of_a_slope_beside_a_cliff() {
        // Index 1 has the best neighbourhood mean (78.3) but a neighbour at
        // 50 and a cliff two steps on; 4..=6 is lower and level (worst 70).
        let scores = [50.0, 90.0, 95.0, 20.0, 70.0, 72.0, 71.0, 70.0];
        assert_eq!(plateau(&line(8), &scores), 5);
    }

    #[test]
    fn plateau_in_two_dimensions_uses_every_neighbour_and_never_the_edge() {
        let grid = CvGrid {
            axes: vec![
                CvAxis {
                    key: "calibration_sigmas".to_owned(),
                    values: vec![1.0, 2.0, 3.0, 4.0],
                },
                CvAxis {
                    key: "persistence_sigmas".to_owned(),
                    values: vec![1.0, 2.0, 3.0, 4.0],
                },
            ],
        };
        let points = grid.points();
        assert_eq!(points.len(), 16);
        assert_eq!(points[6], vec![1, 2]);
        // A lone peak at (0, 0); a broad top around (3, 3), rising towards
        // the corner (4, 4). The corner is on the edge: its neighbours
        // beyond the grid were never measured, so (3, 3) is chosen.
        #[rustfmt::skip]
        let scores = [
            95.0, 10.0, 10.0, 10.0,
            10.0, 20.0, 30.0, 40.0,
            10.0, 30.0, 70.0, 72.0,
            10.0, 40.0, 72.0, 99.0,
        ];
        let best = plateau(&points, &scores);
        assert_eq!(grid.values_at(&points[best]), vec![3.0, 3.0]);
        // An axis of two values has no inside (both of its values compete);
        // on an axis of four, the best edge value is still never chosen.
        let two_by_four: Vec<Vec<usize>> = (0..2)
            .flat_map(|a| (0..4).map(move |b| vec![a, b]))
            .collect();
        let scores = [1.0, 1.0, 5.0, 1.0, 1.0, 1.0, 5.0, 50.0];
        assert_eq!(two_by_four[plateau(&two_by_four, &scores)], vec![0, 2]);
    }

    #[test]
    fn axes_parse_and_refuse_unknown_keys_and_unordered_values() {
        let a = CvGrid::parse_axis("persistence_sigmas=2.5,3,4").unwrap();
        assert_eq!(a.key, "persistence_sigmas");
        assert_eq!(a.values, vec![2.5, 3.0, 4.0]);
        assert!(CvGrid::parse_axis("min_count=1,2").is_err());
        assert!(CvGrid::parse_axis("z_floor=4,3").is_err());
        assert!(CvGrid::parse_axis("z_floor").is_err());
        assert!(CvGrid::parse_axis("z_floor=a").is_err());
    }
}
