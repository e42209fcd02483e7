//! Scoring a corpus of files and NAB's normalisation over it.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::error::Error;
use super::read::{CorpusWindows, CostMatrix, Profile, Profiles};
use super::sweep::{normalized_score, resolve_windows, score_file, FileScore};

/// One file's detections, ready to score.
#[derive(Clone, Debug, PartialEq)]
pub struct FileDetections {
    /// The file's key in the windows JSON (e.g.
    /// `realTweets/Twitter_volume_AAPL.csv`), or a bare file name that
    /// matches exactly one key (see [`CorpusWindows::lookup`]).
    pub name: String,
    /// Row timestamps of the series.
    pub timestamps: Vec<NaiveDateTime>,
    /// One flag per row: did the detector alert at this row?
    pub detections: Vec<bool>,
}

/// One file's result within a corpus.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileReport {
    /// The windows-JSON key the file was matched to.
    pub name: String,
    /// The file's score, counts and per-window outcomes.
    #[serde(flatten)]
    pub score: FileScore,
    /// [`FileScore::normalized_score`]: the file normalised on its own.
    pub normalized_score: Option<f64>,
}

/// A corpus scored under one profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CorpusScore {
    /// The profile's weights.
    pub cost: CostMatrix,
    /// Per file, in the order given.
    pub files: Vec<FileReport>,
    /// Sum of the files' raw scores (NAB's `Totals` row).
    pub raw_score: f64,
    /// Sum of the files' null-detector scores (NAB's baseline).
    pub null_score: f64,
    /// `tpWeight` times the number of windows (NAB's perfect score).
    pub perfect_score: f64,
    /// `100 * (raw - null) / (perfect - null)`, NAB's reported score;
    /// `None` when the files hold no windows.
    pub normalized_score: Option<f64>,
    /// Windows over all files.
    pub windows: usize,
    /// Windows with a counted detection.
    pub detected_windows: usize,
    /// Scored rows inside windows with a detection, over all files.
    pub tp: usize,
    /// Scored rows outside windows without a detection.
    pub tn: usize,
    /// Scored rows outside windows with a detection.
    pub fp: usize,
    /// Scored rows inside windows without a detection.
    pub fn_: usize,
}

impl CorpusScore {
    /// The delay (rows from window start to first counted detection) of
    /// every window, in file then window order; `None` for missed windows.
    pub fn window_delays(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        self.files
            .iter()
            .flat_map(|f| f.score.windows.iter().map(|w| w.delay_rows))
    }
}

/// A corpus scored under all three NAB profiles.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CorpusScores {
    /// `standard`.
    #[serde(rename = "standard")]
    pub standard: CorpusScore,
    /// `reward_low_FP_rate`.
    #[serde(rename = "reward_low_FP")]
    pub reward_low_fp: CorpusScore,
    /// `reward_low_FN_rate`.
    #[serde(rename = "reward_low_FN")]
    pub reward_low_fn: CorpusScore,
}

impl CorpusScores {
    /// The score under one profile.
    pub fn get(&self, profile: Profile) -> &CorpusScore {
        match profile {
            Profile::Standard => &self.standard,
            Profile::RewardLowFp => &self.reward_low_fp,
            Profile::RewardLowFn => &self.reward_low_fn,
        }
    }
}

/// Score every file under one profile and normalise over the corpus as NAB's
/// `Runner.normalize` does: the raw scores, the null detector's scores and
/// the perfect scores are each summed over the files first, then
/// `100 * (raw - null) / (perfect - null)`.
///
/// Every file must have an entry in `windows` (NAB raises `KeyError`
/// otherwise); an entry may be empty. NAB's perfect score counts every
/// window of its label file; here it counts the windows of the files given,
/// so a subset of NAB's corpus is normalised against that subset.
pub fn score_corpus(
    files: &[FileDetections],
    windows: &CorpusWindows,
    cost: &CostMatrix,
) -> Result<CorpusScore, Error> {
    let reports = files
        .iter()
        .map(|file| score_one(file, windows, cost))
        .collect::<Result<Vec<_>, _>>()?;
    let sum = |f: fn(&FileScore) -> f64| reports.iter().map(|r| f(&r.score)).sum::<f64>();
    let count = |f: fn(&FileScore) -> usize| reports.iter().map(|r| f(&r.score)).sum::<usize>();
    let raw_score = sum(|s| s.raw_score);
    let null_score = sum(|s| s.null_score);
    let perfect_score = sum(|s| s.perfect_score);
    Ok(CorpusScore {
        cost: *cost,
        raw_score,
        null_score,
        perfect_score,
        normalized_score: normalized_score(raw_score, null_score, perfect_score),
        windows: count(|s| s.windows.len()),
        detected_windows: count(FileScore::detected_windows),
        tp: count(|s| s.tp),
        tn: count(|s| s.tn),
        fp: count(|s| s.fp),
        fn_: count(|s| s.fn_),
        files: reports,
    })
}

/// [`score_corpus`] under each of the three profiles, for a detector whose
/// detections do not depend on the profile (one threshold for all).
pub fn score_corpus_profiles(
    files: &[FileDetections],
    windows: &CorpusWindows,
    profiles: &Profiles,
) -> Result<CorpusScores, Error> {
    Ok(CorpusScores {
        standard: score_corpus(files, windows, &profiles.standard)?,
        reward_low_fp: score_corpus(files, windows, &profiles.reward_low_fp)?,
        reward_low_fn: score_corpus(files, windows, &profiles.reward_low_fn)?,
    })
}

fn score_one(
    file: &FileDetections,
    windows: &CorpusWindows,
    cost: &CostMatrix,
) -> Result<FileReport, Error> {
    let (key, limits) = windows
        .lookup(&file.name)
        .ok_or_else(|| Error::UnknownFile {
            file: file.name.clone(),
        })?;
    if file.detections.len() != file.timestamps.len() {
        return Err(Error::LengthMismatch {
            what: "detections",
            expected: file.timestamps.len(),
            found: file.detections.len(),
        });
    }
    let rows = resolve_windows(&file.timestamps, limits)?;
    let score = score_file(&file.detections, &rows, cost)?;
    Ok(FileReport {
        name: key.to_owned(),
        normalized_score: score.normalized_score(),
        score,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::nab::read::WindowLimits;

    fn minutes(m: i64) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2015, 3, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + chrono::Duration::minutes(m)
    }

    fn file(name: &str, rows: usize, detect: &[usize]) -> FileDetections {
        let mut detections = vec![false; rows];
        for &i in detect {
            detections[i] = true;
        }
        FileDetections {
            name: name.to_owned(),
            timestamps: (0..rows as i64).map(|i| minutes(5 * i)).collect(),
            detections,
        }
    }

    fn corpus() -> CorpusWindows {
        let window = |a: i64, b: i64| WindowLimits {
            start: minutes(5 * a),
            end: minutes(5 * b),
        };
        CorpusWindows::new(BTreeMap::from([
            ("cat/a.csv".to_owned(), vec![window(40, 49), window(70, 79)]),
            ("cat/b.csv".to_owned(), vec![window(50, 59)]),
            ("cat/c.csv".to_owned(), vec![]),
        ]))
    }

    #[test]
    fn corpus_sums_before_normalising() {
        // a: one window at its start, one missed; b: missed; c: one FP.
        let files = [
            file("cat/a.csv", 100, &[40]),
            file("b.csv", 100, &[]),
            file("cat/c.csv", 100, &[30]),
        ];
        let scores = score_corpus_profiles(&files, &corpus(), &Profiles::nab_default()).unwrap();
        let s = scores.get(Profile::Standard);
        assert_eq!(s.windows, 3);
        assert_eq!(s.detected_windows, 1);
        assert_eq!(s.files[1].name, "cat/b.csv");
        assert_eq!(s.null_score, -3.0);
        assert_eq!(s.perfect_score, 3.0);
        let raw = (1.0 - 1.0) + -1.0 + -0.11;
        assert!((s.raw_score - raw).abs() < 1e-12);
        let expected = 100.0 * (raw + 3.0) / 6.0;
        assert!((s.normalized_score.unwrap() - expected).abs() < 1e-9);
        assert_eq!(s.files[2].normalized_score, None);
        assert_eq!(s.files[1].normalized_score, Some(0.0));
        assert_eq!(s.window_delays().collect::<Vec<_>>(), [Some(0), None, None]);

        let low_fn = scores.get(Profile::RewardLowFn);
        assert_eq!(low_fn.null_score, -6.0);
        let low_fp = scores.get(Profile::RewardLowFp);
        assert!((low_fp.raw_score - (-1.0 - 0.22)).abs() < 1e-12);
    }

    #[test]
    fn unknown_file_and_length_mismatch_are_errors() {
        let cost = Profiles::nab_default().standard;
        assert!(matches!(
            score_corpus(&[file("cat/z.csv", 10, &[])], &corpus(), &cost),
            Err(Error::UnknownFile { .. })
        ));
        let mut f = file("cat/c.csv", 10, &[]);
        f.detections.pop();
        assert!(matches!(
            score_corpus(&[f], &corpus(), &cost),
            Err(Error::LengthMismatch { .. })
        ));
    }

    #[test]
    fn serialises_with_vigil_profile_keys() {
        let scores = score_corpus_profiles(
            &[file("cat/a.csv", 100, &[40])],
            &corpus(),
            &Profiles::nab_default(),
        )
        .unwrap();
        let json = serde_json::to_value(&scores).unwrap();
        for key in ["standard", "reward_low_FP", "reward_low_FN"] {
            assert!(json[key]["normalized_score"].is_number(), "{key}");
        }
        assert_eq!(json["standard"]["files"][0]["windows"][0]["delay_rows"], 0);
    }
}
