//! Runtime error classification shared by every stage (after Arroyo's
//! `ErrorDomain` and `RetryHint`, narrowed).

use std::fmt;

/// Where an error comes from; also the `error_type` metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// A bad record: drop it (or dead-letter it) and count it.
    Input,
    /// Kafka or a webhook failed: retry with capped backoff, count a drop
    /// only after giving up.
    External,
    /// A bug: log at ERROR and stop the stage.
    Internal,
}

impl ErrorClass {
    /// The `error_type` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Input => "input",
            ErrorClass::External => "external",
            ErrorClass::Internal => "internal",
        }
    }

    /// Whether retrying can help.
    pub fn retry_hint(self) -> RetryHint {
        match self {
            ErrorClass::External => RetryHint::Backoff,
            ErrorClass::Input | ErrorClass::Internal => RetryHint::No,
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an operation that failed should be retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryHint {
    /// Retrying gives the same result.
    No,
    /// Retry after a capped exponential backoff.
    Backoff,
}
