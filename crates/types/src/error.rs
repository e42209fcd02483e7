//! Runtime error classification shared by every stage (after Arroyo's
//! `ErrorDomain`, narrowed).

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
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
