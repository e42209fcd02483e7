//! Sentiment evaluation (to be written).
