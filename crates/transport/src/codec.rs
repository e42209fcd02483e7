//! The one codec for records that leave the process: a versioned JSON
//! envelope.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::TransportError;

/// Schema version of every stream; part of the Kafka topic name.
pub const SCHEMA_VERSION: u32 = 1;

/// A record with its schema version.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// Schema version.
    pub v: u32,
    /// The record.
    pub record: T,
}

/// Encodes a record in an envelope.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, TransportError> {
    serde_json::to_vec(&Envelope {
        v: SCHEMA_VERSION,
        record,
    })
    .map_err(|e| TransportError::Codec(e.to_string()))
}

/// Decodes an envelope, rejecting other schema versions.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, TransportError> {
    let env: Envelope<T> =
        serde_json::from_slice(bytes).map_err(|e| TransportError::Codec(e.to_string()))?;
    if env.v != SCHEMA_VERSION {
        return Err(TransportError::Codec(format!(
            "schema version {} is not {SCHEMA_VERSION}",
            env.v
        )));
    }
    Ok(env.record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let b = encode(&vec![1u32, 2]).unwrap();
        assert_eq!(decode::<Vec<u32>>(&b).unwrap(), vec![1, 2]);
        assert!(decode::<Vec<u32>>(br#"{"v":2,"record":[1]}"#).is_err());
        assert!(decode::<Vec<u32>>(b"not json").is_err());
    }
}
