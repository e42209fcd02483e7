//! Vigil's quality evaluations.
//!
//! - [`sentiment`]: accuracy, macro/weighted F1, confusion matrix and
//!   Pearson r of the sentiment scorer on labelled sets (VADER's
//!   ground-truth format and the Chinese `id,label,label_name,text` CSVs).
//! - [`nab`]: the Numenta Anomaly Benchmark scorer (windows, scaled sigmoid,
//!   profiles, normalisation against the null and perfect detectors) and the
//!   detector run over NAB series.
#![deny(missing_docs)]

pub mod nab;
pub mod sentiment;
