//! The crate's one error type.

use vigil_types::ErrorClass;

/// An incident operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No incident has this id.
    #[error("no incident `{0}`")]
    IncidentNotFound(String),
    /// No silence has this id.
    #[error("no silence `{0}`")]
    SilenceNotFound(String),
    /// The request is malformed (empty actor, comment or assignee, a
    /// silence that ends before it starts...).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The incident's timeline is full ([`crate::MAX_TIMELINE_EVENTS`]
    /// events): a comment is refused (actions are still recorded).
    #[error("incident `{0}` has a full timeline ({max} events): no more comments; summarise in a new incident or resolve this one", max = crate::MAX_TIMELINE_EVENTS)]
    TimelineFull(String),
    /// The data directory could not be created.
    #[error("creating incident data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// redb failed (open, transaction, table or commit). Nothing of the
    /// failed call was kept, on disk or in memory.
    #[error("incident store: {0}")]
    Storage(#[source] Box<redb::Error>),
    /// The store file is damaged (empty, or truncated so that the store
    /// cannot read it): never replaced silently, since a new store would
    /// forget every incident and send every alert again.
    #[error("incident store file {path} {why}: restore it from a backup, or move it aside to start an empty store (which forgets every incident and sends every alert again)")]
    Damaged {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// A stored record does not decode (written by an incompatible version).
    #[error("incident store: record `{key}` does not decode: {source}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// Why.
        source: serde_json::Error,
    },
}

impl Error {
    /// Error class (the `error_type` label): a bad request is `input`, a
    /// storage failure `external`, an undecodable record `internal`.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::IncidentNotFound(_)
            | Error::SilenceNotFound(_)
            | Error::Invalid(_)
            | Error::TimelineFull(_) => ErrorClass::Input,
            Error::DataDir { .. } | Error::Storage(_) => ErrorClass::External,
            Error::Corrupt { .. } | Error::Damaged { .. } => ErrorClass::Internal,
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Error {
                Error::Storage(Box::new(e.into()))
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
