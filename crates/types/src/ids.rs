use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::records::Level;

/// A string id; `$inner` is `String`, or `Arc<str>` for an id cloned
/// often (a clone is then a reference count, not a copy).
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        string_id!($(#[$doc])* $name, String);
    };
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into())
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                &*self.0 == other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &*self.0 == other.as_str()
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                &*self.0 == *other
            }
        }
    };
}

string_id!(
    /// The id of a post as its platform gave it (for tweets, `id_str`).
    /// Shared: detect keeps ids per bin (samples, stories' first posts).
    PostId,
    std::sync::Arc<str>
);
impl PostId {
    /// Heap bytes of the id (the shared allocation: its two reference
    /// counts and the text), counted as if owned by every holder.
    pub fn heap_bytes(&self) -> usize {
        2 * std::mem::size_of::<usize>() + self.0.len()
    }
}

string_id!(
    /// A configured watch id (a monitored subject).
    WatchId
);
impl WatchId {
    /// The rule a configured watch id follows: 1-64 characters of a-z,
    /// 0-9, '-' and '_' (it appears in URLs, metric labels and ids).
    pub fn is_valid(id: &str) -> bool {
        !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '_')
    }
}

string_id!(
    /// An incident id: the watch plus the start of the window that opened
    /// it (`acme-20260302T0840Z`), or a report's id for one opened by hand.
    IncidentId
);
string_id!(
    /// A hashed author id: the platform's author id never leaves ingest.
    AuthorId
);
string_id!(
    /// A stable alert id: the same watch, incident, state and level always give
    /// the same id, so a replay or an at-least-once redelivery is recognised.
    AlertId
);

/// Hashes a platform author id with a deployment salt (SHA-256, first 16
/// bytes in hex). The same salt and id always give the same [`AuthorId`].
pub fn hash_author(salt: &str, raw: &str) -> AuthorId {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(raw.as_bytes());
    AuthorId(hex::encode(&h.finalize()[..16]))
}

impl AlertId {
    /// Derives the id from watch, incident, state and level (SHA-256 of the
    /// four fields, first 16 bytes in hex).
    pub fn derive(watch: &str, incident: &str, state: &str, level: Level) -> AlertId {
        let mut h = Sha256::new();
        for part in [watch, incident, state, level.as_str()] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        AlertId(hex::encode(&h.finalize()[..16]))
    }
}
