//! Leave-one-series-out cross-validation of a swept detect setting.
//!
//! A value chosen by sweeping a setting over the very series it is scored
//! on is an in-sample figure. Here each series is held out in turn: the
//! value is chosen on the other series only (on a plateau: the best mean
//! of each value and its grid neighbours, never a lone peak), and the
//! held-out series is scored with it. The held-out detections of every
//! fold are then scored together, with NAB's normalisation, as the
//! cross-validated score.

use serde::Serialize;
use vigil_config::DetectConfig;

use super::corpus::{score_corpus, FileDetections};
use super::detect::find_series;
use super::error::Error;
use super::read::{read_profiles_json, read_windows_json, Profile, Profiles};
use super::report::{data_roots, find_in, load_series, run_series, NabEvalOptions};

/// A setting of `[detect]` and the values a sweep tries.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvGrid {
    /// The `[detect]` key.
    pub key: String,
    /// Values tried, in increasing order.
    pub values: Vec<f64>,
}

impl CvGrid {
    /// The setting that decides how rare a spike must be for its watch:
    /// `calibration_sigmas`, over a grid around its default.
    pub fn default_grid() -> CvGrid {
        CvGrid {
            key: "calibration_sigmas".to_owned(),
            values: vec![3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 7.0, 8.0],
        }
    }

    fn apply(&self, detect: &mut DetectConfig, value: f64) -> Result<(), Error> {
        match self.key.as_str() {
            "calibration_sigmas" => detect.calibration_sigmas = value,
            "z_floor" => detect.z_floor = value,
            "baseline_half_life_secs" => detect.baseline_half_life_secs = value,
            "calibration_half_life_secs" => detect.calibration_half_life_secs = value,
            other => {
                return Err(Error::CvKey {
                    key: other.to_owned(),
                })
            }
        }
        Ok(())
    }
}

/// One held-out series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvFold {
    /// The held-out series.
    pub held_out: String,
    /// The value chosen on the other series.
    pub chosen: f64,
    /// The held-out series' standard score at that value (normalised on
    /// its own file).
    pub held_out_score: Option<f64>,
    /// Its standard score at the value chosen on every series (in-sample).
    pub in_sample_score: Option<f64>,
}

/// Cross-validated and in-sample standard scores.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CvReport {
    /// The swept setting.
    pub grid: CvGrid,
    /// Standard score over every series at each value (in-sample).
    pub in_sample_by_value: Vec<Option<f64>>,
    /// The value the plateau rule picks on every series.
    pub in_sample_chosen: f64,
    /// Standard score at that value: an in-sample figure.
    pub in_sample_score: Option<f64>,
    /// Standard score of the held-out detections of every fold.
    pub cv_score: Option<f64>,
    /// Windows found and false positives of the held-out detections.
    pub cv_detected_windows: usize,
    /// Label windows.
    pub windows: usize,
    /// False positives of the held-out detections.
    pub cv_fp: usize,
    /// One entry per series.
    pub folds: Vec<CvFold>,
}

/// The index of the best plateau: the value whose mean score with its grid
/// neighbours is highest (the first on ties).
fn plateau(scores: &[f64]) -> usize {
    let smooth = |i: usize| {
        let lo = i.saturating_sub(1);
        let hi = (i + 1).min(scores.len() - 1);
        scores[lo..=hi].iter().sum::<f64>() / (hi - lo + 1) as f64
    };
    (0..scores.len())
        .max_by(|&a, &b| smooth(a).total_cmp(&smooth(b)).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// Leave-one-series-out cross-validation of `grid` over the series of
/// `options` (standard profile).
pub fn cross_validate(options: &NabEvalOptions, grid: &CvGrid) -> Result<CvReport, Error> {
    if grid.values.is_empty() {
        return Err(Error::CvKey {
            key: format!("{} (no values)", grid.key),
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
    let negative = options.settings.config.score.negative_threshold;
    // runs[v][f]: detections of file f at value v.
    let mut runs: Vec<Vec<FileDetections>> = vec![Vec::new(); grid.values.len()];
    for path in &paths {
        let (key, series) = load_series(&options.data, &windows, path)?;
        for (v, &value) in grid.values.iter().enumerate() {
            let mut detect = options.settings.config.detect.clone();
            grid.apply(&mut detect, value)?;
            let run = run_series(&detect, negative, &series).map_err(|source| Error::InFile {
                path: path.clone(),
                source: Box::new(source),
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
    let all: Vec<f64> = (0..grid.values.len())
        .map(|v| score_of(v, &|_| true))
        .collect::<Result<_, _>>()?;
    let best_all = plateau(&all);
    let mut folds = Vec::with_capacity(files);
    let mut held_out = Vec::with_capacity(files);
    for f in 0..files {
        let training: Vec<f64> = (0..grid.values.len())
            .map(|v| score_of(v, &|g| g != f))
            .collect::<Result<_, _>>()?;
        let v = plateau(&training);
        let one = |v: usize| -> Result<Option<f64>, Error> {
            Ok(score_corpus(&runs[v][f..=f], &windows, &cost)?.normalized_score)
        };
        folds.push(CvFold {
            held_out: runs[v][f].name.clone(),
            chosen: grid.values[v],
            held_out_score: one(v)?,
            in_sample_score: one(best_all)?,
        });
        held_out.push(runs[v][f].clone());
    }
    let cv = score_corpus(&held_out, &windows, &cost)?;
    let finite = |x: f64| x.is_finite().then_some(x);
    Ok(CvReport {
        grid: grid.clone(),
        in_sample_by_value: all.iter().copied().map(finite).collect(),
        in_sample_chosen: grid.values[best_all],
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
        writeln!(
            f,
            "Leave-one-series-out cross-validation of detect.{} (standard profile)",
            self.grid.key
        )?;
        writeln!(
            f,
            "\nIn-sample standard score over every series, per value:"
        )?;
        for (v, score) in self.grid.values.iter().zip(&self.in_sample_by_value) {
            writeln!(f, "  {v:>8} {:>8}", s(*score))?;
        }
        writeln!(
            f,
            "\n{:<44} {:>8} {:>10} {:>9} {:>10}",
            "held-out series", "chosen", "held-out", "in-sample", "(at value)"
        )?;
        for fold in &self.folds {
            writeln!(
                f,
                "{:<44} {:>8} {:>10} {:>9} {:>10}",
                fold.held_out,
                fold.chosen,
                s(fold.held_out_score),
                s(fold.in_sample_score),
                self.in_sample_chosen
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
            "in-sample standard score:       {} (value {} chosen on every series)",
            s(self.in_sample_score),
            self.in_sample_chosen
        )
    }
}

#[cfg(test)]
mod tests {
    use super::plateau;

    #[test]
    fn plateau_prefers_a_broad_top_to_a_lone_peak() {
        // A lone peak at index 1 (90) between cliffs, a plateau at 4..=6.
        let scores = [10.0, 90.0, 10.0, 60.0, 75.0, 78.0, 76.0, 50.0];
        assert_eq!(plateau(&scores), 5);
        assert_eq!(plateau(&[1.0]), 0);
        assert_eq!(plateau(&[3.0, 3.0]), 0);
    }
}
