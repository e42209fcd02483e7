//! Scoring one file, as NAB's `nab/sweeper.py` (`Sweeper.calcSweepScore`
//! and `Sweeper.calcScoreByThreshold`) does at one threshold.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::error::Error;
use super::read::{CostMatrix, WindowLimits};

/// The share of each file NAB does not score (`probationPercent`).
pub const PROBATIONARY_PERCENT: f64 = 0.15;

/// NAB caps the probationary period at `0.15 * 5000 = 750` rows.
const PROBATIONARY_CAP_ROWS: f64 = PROBATIONARY_PERCENT * 5000.0;

/// Rows at the start of a file of `rows` rows that NAB does not score:
/// `min(floor(0.15 * rows), 0.15 * 5000)` (`Sweeper._getProbationaryLength`).
///
/// Detections in these rows are ignored (neither true nor false positives)
/// and the rows are not counted in TP/TN/FP/FN.
///
/// ```
/// use vigil_eval::nab::probationary_length;
/// assert_eq!(probationary_length(4000), 600);
/// assert_eq!(probationary_length(15902), 750);
/// ```
pub fn probationary_length(rows: usize) -> usize {
    // Same float arithmetic as NAB; both operands are whole numbers < 2^53.
    (PROBATIONARY_PERCENT * rows as f64)
        .floor()
        .min(PROBATIONARY_CAP_ROWS) as usize
}

/// NAB's scaled sigmoid of a relative position `y`:
/// `2 * sigmoid(-5y) - 1`, and `-1` when `y > 3`.
///
/// `y = -1` (a window's left edge) gives 0.98661, `y = 0` (its right edge)
/// gives 0, `y = 1` (one window width past it) gives -0.98661.
pub fn scaled_sigmoid(relative_position: f64) -> f64 {
    if relative_position > 3.0 {
        -1.0
    } else {
        2.0 * sigmoid(-5.0 * relative_position) - 1.0
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A label window resolved to row indices of one file (both inclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Index of the window's first row.
    pub start_row: usize,
    /// Index of the window's last row.
    pub end_row: usize,
}

impl Window {
    /// Rows in the window (NAB's `curWindowWidth`).
    pub fn width(&self) -> usize {
        self.end_row - self.start_row + 1
    }
}

/// Resolve timestamp windows to row windows of a series.
///
/// Both boundaries must be timestamps of the series (NAB raises otherwise),
/// and windows must be sorted and share
/// no rows (NAB's sweeper silently mis-scores anything else).
pub fn resolve_windows(
    timestamps: &[NaiveDateTime],
    limits: &[WindowLimits],
) -> Result<Vec<Window>, Error> {
    // A timestamp may repeat or step back (two NAB files do, across a clock
    // change): a window runs from the first row at its start to the last
    // row at its end, as NAB's `timestamp >= start & timestamp <= end` does
    // for these files.
    let first = |window: usize, timestamp: NaiveDateTime| {
        timestamps
            .iter()
            .position(|t| *t == timestamp)
            .ok_or(Error::WindowBoundaryNotFound { window, timestamp })
    };
    let last = |window: usize, timestamp: NaiveDateTime| {
        timestamps
            .iter()
            .rposition(|t| *t == timestamp)
            .ok_or(Error::WindowBoundaryNotFound { window, timestamp })
    };
    let mut windows: Vec<Window> = Vec::with_capacity(limits.len());
    for (index, limit) in limits.iter().enumerate() {
        let start_row = first(index, limit.start)?;
        let end_row = last(index, limit.end)?;
        let window = Window { start_row, end_row };
        check_window(index, window, windows.last().copied(), timestamps.len())?;
        windows.push(window);
    }
    Ok(windows)
}

/// The rules [`resolve_windows`] enforces, for windows given as rows.
fn check_window(
    index: usize,
    window: Window,
    previous: Option<Window>,
    rows: usize,
) -> Result<(), Error> {
    if window.end_row < window.start_row {
        return Err(Error::WindowEndsBeforeStart { window: index });
    }
    if window.end_row >= rows {
        return Err(Error::WindowOutOfRange {
            window: index,
            end_row: window.end_row,
            rows,
        });
    }
    match previous {
        Some(p) if window.start_row <= p.end_row => Err(Error::WindowsOverlap {
            window: index,
            previous: index - 1,
        }),
        _ => Ok(()),
    }
}

/// Check row windows given directly (rather than via [`resolve_windows`]).
pub fn validate_windows(windows: &[Window], rows: usize) -> Result<(), Error> {
    let mut previous = None;
    for (index, &window) in windows.iter().enumerate() {
        check_window(index, window, previous, rows)?;
        previous = Some(window);
    }
    Ok(())
}

/// NAB's per-row score: what a detection at each row would add (the
/// `S(t)_<profile>` column NAB writes into results files).
///
/// - Inside a window of width `w` whose last row is `r`, row `i` scores
///   `tpWeight * scaledSigmoid(-(r - i + 1) / w) / scaledSigmoid(-1)`, so the
///   first row scores exactly `tpWeight` and the last a little above 0.
/// - Outside windows, after a window of width `w` ending at row `r`:
///   `fpWeight * scaledSigmoid(|r - i| / (w - 1))`.
/// - Before any window: `-fpWeight`.
///
/// Probationary rows get a value too (NAB writes one); scoring ignores it.
pub fn row_weights(rows: usize, windows: &[Window], cost: &CostMatrix) -> Result<Vec<f64>, Error> {
    validate_windows(windows, rows)?;
    let max_tp = scaled_sigmoid(-1.0);
    let mut weights = Vec::with_capacity(rows);
    let mut next = 0;
    let mut current: Option<Window> = None;
    let mut previous: Option<(usize, Window)> = None;
    for i in 0..rows {
        if current.is_none() && windows.get(next).is_some_and(|w| w.start_row == i) {
            current = Some(windows[next]);
            next += 1;
        }
        let weight = match (current, previous) {
            (Some(w), _) => {
                let position = -((w.end_row - i + 1) as f64) / w.width() as f64;
                scaled_sigmoid(position) * cost.tp_weight / max_tp
            }
            (None, Some((index, p))) => {
                let denominator = (p.width() - 1) as f64;
                if denominator == 0.0 {
                    return Err(Error::SingleRowWindow { window: index });
                }
                scaled_sigmoid((i - p.end_row) as f64 / denominator) * cost.fp_weight
            }
            (None, None) => -cost.fp_weight,
        };
        weights.push(weight);
        if let Some(w) = current.filter(|w| w.end_row == i) {
            previous = Some((next - 1, w));
            current = None;
        }
    }
    Ok(weights)
}

/// How one window fared.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WindowOutcome {
    /// The window's rows.
    pub window: Window,
    /// False when every row of the window is probationary: NAB then leaves
    /// the window out of the score entirely (no TP, no FN).
    pub scored: bool,
    /// The first scored row in the window with a detection.
    pub first_detection_row: Option<usize>,
    /// `first_detection_row - start_row`: rows from the window's start to
    /// the first counted detection (0 = detected at the left edge).
    pub delay_rows: Option<usize>,
    /// The window's part of the raw score: the weight of its first counted
    /// detection, `-fnWeight` when missed, 0 when not scored.
    pub score: f64,
}

/// The NAB score of one file at one profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileScore {
    /// NAB's raw score: window parts plus false-positive parts.
    pub raw_score: f64,
    /// Sum of the false-positive parts (`<= 0`).
    pub false_positive_score: f64,
    /// Scored rows inside windows with a detection.
    pub tp: usize,
    /// Scored rows outside windows without a detection.
    pub tn: usize,
    /// Scored rows outside windows with a detection.
    pub fp: usize,
    /// Scored rows inside windows without a detection.
    pub fn_: usize,
    /// Rows in the probationary period (not scored).
    pub probationary_rows: usize,
    /// One outcome per window, in order.
    pub windows: Vec<WindowOutcome>,
    /// What the null detector (no detections) scores on this file:
    /// `-fnWeight` per scored window.
    pub null_score: f64,
    /// What NAB's normalisation calls perfect: `tpWeight` per window.
    pub perfect_score: f64,
}

impl FileScore {
    /// Detected windows (of those scored).
    pub fn detected_windows(&self) -> usize {
        self.windows
            .iter()
            .filter(|w| w.first_detection_row.is_some())
            .count()
    }

    /// `100 * (raw - null) / (perfect - null)`, or `None` when the file has
    /// no windows to normalise by.
    pub fn normalized_score(&self) -> Option<f64> {
        normalized_score(self.raw_score, self.null_score, self.perfect_score)
    }
}

/// NAB's normalisation (`Runner.normalize`):
/// `100 * (raw - null) / (perfect - null)`; `None` when `perfect == null`.
pub fn normalized_score(raw: f64, null: f64, perfect: f64) -> Option<f64> {
    let range = perfect - null;
    (range != 0.0).then(|| 100.0 * (raw - null) / range)
}

/// Score one file's detections (one bool per row) against its row windows.
///
/// This is NAB's sweeper at a fixed threshold:
/// - rows before [`probationary_length`] are ignored;
/// - each window contributes the largest [`row_weights`] value among its
///   scored detected rows — the first one, since the weight falls through
///   the window — or `-fnWeight` if it has none;
/// - each scored detection outside windows adds its (negative) weight.
pub fn score_file(
    detections: &[bool],
    windows: &[Window],
    cost: &CostMatrix,
) -> Result<FileScore, Error> {
    let rows = detections.len();
    let weights = row_weights(rows, windows, cost)?;
    let probation = probationary_length(rows);

    let outcomes: Vec<WindowOutcome> = windows
        .iter()
        .map(|&w| window_outcome(w, detections, &weights, probation, cost))
        .collect();

    let (mut tp, mut tn, mut fp, mut fn_) = (0, 0, 0, 0);
    let mut false_positive_score = 0.0;
    let mut windows_left = windows.iter().peekable();
    for (i, (&detected, &weight)) in detections.iter().zip(&weights).enumerate() {
        while windows_left.next_if(|w| w.end_row < i).is_some() {}
        let in_window = windows_left.peek().is_some_and(|w| w.start_row <= i);
        if i < probation {
            continue;
        }
        match (in_window, detected) {
            (true, true) => tp += 1,
            (true, false) => fn_ += 1,
            (false, true) => {
                fp += 1;
                false_positive_score += weight;
            }
            (false, false) => tn += 1,
        }
    }

    let window_score: f64 = outcomes.iter().map(|o| o.score).sum();
    let scored_windows = outcomes.iter().filter(|o| o.scored).count();
    Ok(FileScore {
        raw_score: false_positive_score + window_score,
        false_positive_score,
        tp,
        tn,
        fp,
        fn_,
        probationary_rows: probation,
        windows: outcomes,
        null_score: -cost.fn_weight * scored_windows as f64,
        perfect_score: cost.tp_weight * windows.len() as f64,
    })
}

fn window_outcome(
    window: Window,
    detections: &[bool],
    weights: &[f64],
    probation: usize,
    cost: &CostMatrix,
) -> WindowOutcome {
    let scored = window.end_row >= probation;
    let first_scored_row = window.start_row.max(probation);
    let detected_rows = || (first_scored_row..=window.end_row).filter(|&i| detections[i]);
    let first_detection_row = detected_rows().next();
    // NAB keeps max(-fnWeight, weight of each detection); the weights fall
    // through the window, so this is the first detection's weight.
    let score = if scored {
        detected_rows().fold(-cost.fn_weight, |best, i| best.max(weights[i]))
    } else {
        0.0
    };
    WindowOutcome {
        window,
        scored,
        first_detection_row,
        delay_rows: first_detection_row.map(|row| row - window.start_row),
        score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: CostMatrix = CostMatrix {
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 1.0,
    };
    const LOW_FN: CostMatrix = CostMatrix {
        tp_weight: 1.0,
        fp_weight: 0.11,
        fn_weight: 2.0,
    };

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn scaled_sigmoid_anchor_values() {
        // The values quoted in NAB's docstring.
        assert!((scaled_sigmoid(-1.0) - 0.98661).abs() < 1e-5);
        assert!((scaled_sigmoid(-0.5) - 0.84828).abs() < 1e-5);
        assert_eq!(scaled_sigmoid(0.0), 0.0);
        assert!((scaled_sigmoid(1.0) + 0.98661).abs() < 1e-5);
        assert!(scaled_sigmoid(3.0) > -1.0);
        assert_eq!(scaled_sigmoid(3.000_001), -1.0);
    }

    #[test]
    fn probationary_length_matches_nab() {
        for (rows, expected) in [
            (0, 0),
            (1, 0),
            (6, 0),
            (7, 1),
            (20, 3),
            (100, 15),
            (1000, 150),
            (4000, 600),
            (5000, 750),
            (5001, 750),
            (15902, 750),
        ] {
            assert_eq!(probationary_length(rows), expected, "rows = {rows}");
        }
    }

    /// Window of 10 rows (rows 40..=49) in a 100-row file (probation 15).
    fn weight_in_window(i: usize) -> f64 {
        let position = -((49 - i + 1) as f64) / 10.0;
        scaled_sigmoid(position) / scaled_sigmoid(-1.0)
    }

    /// FP weight `k` rows after the end of a 10-row window.
    fn weight_after_window(k: usize) -> f64 {
        0.11 * scaled_sigmoid(k as f64 / 9.0)
    }

    struct Case {
        name: &'static str,
        rows: usize,
        windows: &'static [(usize, usize)],
        detect: &'static [usize],
        cost: CostMatrix,
        raw: f64,
        /// (tp, tn, fp, fn)
        counts: (usize, usize, usize, usize),
        delays: &'static [Option<usize>],
    }

    #[test]
    fn table() {
        let cases = [
            Case {
                name: "no detections: each window costs fnWeight",
                rows: 100,
                windows: &[(40, 49), (70, 79)],
                detect: &[],
                cost: LOW_FN,
                raw: -4.0,
                counts: (0, 65, 0, 20),
                delays: &[None, None],
            },
            Case {
                name: "detection at window start earns exactly tpWeight",
                rows: 100,
                windows: &[(40, 49)],
                detect: &[40],
                cost: STANDARD,
                raw: 1.0,
                counts: (1, 75, 0, 9),
                delays: &[Some(0)],
            },
            Case {
                name: "detection at window end earns a little above 0",
                rows: 100,
                windows: &[(40, 49)],
                detect: &[49],
                cost: STANDARD,
                raw: weight_in_window(49),
                counts: (1, 75, 0, 9),
                delays: &[Some(9)],
            },
            Case {
                name: "only the first detection in a window counts",
                rows: 100,
                windows: &[(40, 49)],
                detect: &[44, 45, 49],
                cost: STANDARD,
                raw: weight_in_window(44),
                counts: (3, 75, 0, 7),
                delays: &[Some(4)],
            },
            Case {
                name: "detection just after a window: FP weighted by sigmoid",
                rows: 100,
                windows: &[(40, 49)],
                detect: &[50],
                cost: STANDARD,
                raw: -1.0 + weight_after_window(1),
                counts: (0, 74, 1, 10),
                delays: &[None],
            },
            Case {
                name: "FP far after a window (> 3 widths) costs fpWeight",
                rows: 100,
                windows: &[(20, 29)],
                detect: &[57],
                cost: STANDARD,
                raw: -1.0 - 0.11,
                counts: (0, 74, 1, 10),
                delays: &[None],
            },
            Case {
                name: "FP exactly 3 widths after a window still on the sigmoid",
                rows: 100,
                windows: &[(20, 29)],
                detect: &[56],
                cost: STANDARD,
                raw: -1.0 + weight_after_window(27),
                counts: (0, 74, 1, 10),
                delays: &[None],
            },
            Case {
                name: "FP before any window costs fpWeight",
                rows: 100,
                windows: &[(40, 49)],
                detect: &[20, 40],
                cost: STANDARD,
                raw: 1.0 - 0.11,
                counts: (1, 74, 1, 9),
                delays: &[Some(0)],
            },
            Case {
                name: "FP is weighted by the last preceding window only",
                rows: 100,
                windows: &[(20, 29), (60, 69)],
                detect: &[30, 70],
                cost: STANDARD,
                raw: -2.0 + 2.0 * weight_after_window(1),
                counts: (0, 63, 2, 20),
                delays: &[None, None],
            },
            Case {
                name: "detections in the probationary period are ignored",
                rows: 100,
                windows: &[(40, 49)],
                detect: &[0, 5, 14],
                cost: STANDARD,
                raw: -1.0,
                counts: (0, 75, 0, 10),
                delays: &[None],
            },
            Case {
                name: "first scored row after probation is an FP",
                rows: 100,
                windows: &[(40, 49)],
                detect: &[15],
                cost: STANDARD,
                raw: -1.0 - 0.11,
                counts: (0, 74, 1, 10),
                delays: &[None],
            },
            Case {
                name: "window straddling probation: probationary detection ignored",
                rows: 100,
                windows: &[(10, 19)],
                detect: &[12, 17],
                cost: STANDARD,
                raw: scaled_sigmoid(-((19 - 17 + 1) as f64) / 10.0) / scaled_sigmoid(-1.0),
                counts: (1, 80, 0, 4),
                delays: &[Some(7)],
            },
            Case {
                name: "window inside probation is not scored at all",
                rows: 100,
                windows: &[(2, 5), (40, 49)],
                detect: &[3],
                cost: STANDARD,
                raw: -1.0,
                counts: (0, 75, 0, 10),
                delays: &[None, None],
            },
            Case {
                name: "FP after a window inside probation uses that window",
                rows: 100,
                windows: &[(5, 14)],
                detect: &[15],
                cost: STANDARD,
                raw: weight_after_window(1),
                counts: (0, 84, 1, 0),
                delays: &[None],
            },
            Case {
                name: "one-row window at the end of the file",
                rows: 100,
                windows: &[(99, 99)],
                detect: &[99],
                cost: STANDARD,
                raw: 1.0,
                counts: (1, 84, 0, 0),
                delays: &[Some(0)],
            },
        ];
        for case in cases {
            let mut detections = vec![false; case.rows];
            for &i in case.detect {
                detections[i] = true;
            }
            let windows: Vec<Window> = case
                .windows
                .iter()
                .map(|&(start_row, end_row)| Window { start_row, end_row })
                .collect();
            let score = score_file(&detections, &windows, &case.cost).unwrap();
            assert!(
                close(score.raw_score, case.raw),
                "{}: raw {} != {}",
                case.name,
                score.raw_score,
                case.raw
            );
            assert_eq!(
                (score.tp, score.tn, score.fp, score.fn_),
                case.counts,
                "{}",
                case.name
            );
            let delays: Vec<Option<usize>> = score.windows.iter().map(|w| w.delay_rows).collect();
            assert_eq!(delays, case.delays, "{}", case.name);
            let null = score_file(&vec![false; case.rows], &windows, &case.cost).unwrap();
            assert!(close(null.raw_score, score.null_score), "{}", case.name);
        }
    }

    #[test]
    fn weights_fall_through_a_window_and_rise_after_it() {
        let windows = [Window {
            start_row: 40,
            end_row: 49,
        }];
        let w = row_weights(100, &windows, &STANDARD).unwrap();
        assert!(w[..40].iter().all(|&x| x == -0.11));
        assert_eq!(w[40], 1.0);
        assert!(w[40..50].windows(2).all(|p| p[0] > p[1] && p[1] > 0.0));
        assert!(w[50..].windows(2).all(|p| p[0] >= p[1]));
        assert!(w[50] < 0.0);
        assert_eq!(w[99], -0.11);
    }

    #[test]
    fn perfect_and_null_normalise_to_100_and_0() {
        let windows = [
            Window {
                start_row: 40,
                end_row: 49,
            },
            Window {
                start_row: 70,
                end_row: 79,
            },
        ];
        let mut perfect = vec![false; 100];
        perfect[40] = true;
        perfect[70] = true;
        for cost in [STANDARD, LOW_FN] {
            let p = score_file(&perfect, &windows, &cost).unwrap();
            assert_eq!(p.raw_score, p.perfect_score);
            assert_eq!(p.normalized_score(), Some(100.0));
            let n = score_file(&[false; 100], &windows, &cost).unwrap();
            assert_eq!(n.normalized_score(), Some(0.0));
        }
        let none = score_file(&[true; 100], &[], &STANDARD).unwrap();
        assert_eq!(none.normalized_score(), None);
        assert!(close(none.raw_score, -0.11 * 85.0));
    }

    #[test]
    fn bad_windows_are_errors() {
        let w = |start_row, end_row| Window { start_row, end_row };
        assert!(matches!(
            score_file(&[false; 10], &[w(5, 3)], &STANDARD),
            Err(Error::WindowEndsBeforeStart { window: 0 })
        ));
        assert!(matches!(
            score_file(&[false; 10], &[w(5, 10)], &STANDARD),
            Err(Error::WindowOutOfRange { .. })
        ));
        assert!(matches!(
            score_file(&[false; 10], &[w(2, 5), w(5, 7)], &STANDARD),
            Err(Error::WindowsOverlap {
                window: 1,
                previous: 0
            })
        ));
        assert!(matches!(
            score_file(&[false; 10], &[w(5, 5)], &STANDARD),
            Err(Error::SingleRowWindow { window: 0 })
        ));
    }

    #[test]
    fn resolve_windows_by_timestamp() {
        let t = |m: u32| {
            chrono::NaiveDate::from_ymd_opt(2015, 3, 1)
                .unwrap()
                .and_hms_opt(0, m, 0)
                .unwrap()
        };
        let timestamps: Vec<_> = (0..10).map(|i| t(i * 5)).collect();
        let limits = [WindowLimits {
            start: t(10),
            end: t(20),
        }];
        assert_eq!(
            resolve_windows(&timestamps, &limits).unwrap(),
            [Window {
                start_row: 2,
                end_row: 4
            }]
        );
        let off_grid = [WindowLimits {
            start: t(11),
            end: t(20),
        }];
        assert!(matches!(
            resolve_windows(&timestamps, &off_grid),
            Err(Error::WindowBoundaryNotFound { window: 0, .. })
        ));
        // A repeated timestamp: the window runs to its last row.
        let mut repeated = timestamps.clone();
        repeated[4] = repeated[3];
        let at3 = [WindowLimits {
            start: repeated[2],
            end: repeated[3],
        }];
        assert_eq!(
            resolve_windows(&repeated, &at3).unwrap(),
            vec![Window {
                start_row: 2,
                end_row: 4
            }]
        );
    }
}
