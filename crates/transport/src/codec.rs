//! The one codec for records that leave the process: a versioned JSON
//! envelope holding one record (`{"v":1,"record":…}`) or, packed, several
//! records of one key (`{"v":1,"records":[…]}`). Readers accept both.

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

/// What a reader accepts: either form.
#[derive(Debug, Deserialize)]
struct AnyEnvelope<T> {
    v: u32,
    record: Option<T>,
    records: Option<Vec<T>>,
}

/// Encodes a record in an envelope.
pub fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, TransportError> {
    serde_json::to_vec(&Envelope {
        v: SCHEMA_VERSION,
        record,
    })
    .map_err(|e| TransportError::Codec(e.to_string()))
}

/// Encodes several records in one packed envelope (one record: the plain
/// envelope, as [`encode`]).
pub fn encode_packed<T: Serialize>(records: &[T]) -> Result<Vec<u8>, TransportError> {
    let parts = records
        .iter()
        .map(serde_json::to_vec)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TransportError::Codec(e.to_string()))?;
    Ok(frame(&parts))
}

/// Wraps already-serialised records (each one JSON value) in the envelope:
/// the plain form for one, the packed form for several. Lets a producer
/// size its packs from the parts' lengths: the result is
/// [`frame_len`] bytes long.
pub fn frame<B: AsRef<[u8]>>(parts: &[B]) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame_len(parts.iter().map(|p| p.as_ref().len())));
    if let [one] = parts {
        out.extend_from_slice(PLAIN_HEAD.as_bytes());
        out.extend_from_slice(one.as_ref());
        out.push(b'}');
        return out;
    }
    out.extend_from_slice(PACKED_HEAD.as_bytes());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(p.as_ref());
    }
    out.extend_from_slice(b"]}");
    out
}

/// The length of [`frame`]'s result for parts of these lengths.
pub fn frame_len(lens: impl ExactSizeIterator<Item = usize>) -> usize {
    let n = lens.len();
    let body: usize = lens.sum();
    if n == 1 {
        PLAIN_HEAD.len() + body + 1
    } else {
        PACKED_HEAD.len() + body + n.saturating_sub(1) + 2
    }
}

const PLAIN_HEAD: &str = concat!("{\"v\":", 1, ",\"record\":");
const PACKED_HEAD: &str = concat!("{\"v\":", 1, ",\"records\":[");
const _: () = assert!(SCHEMA_VERSION == 1, "update the frame heads");

/// Decodes an envelope, rejecting other schema versions and packed
/// envelopes (use [`decode_all`] where packing is allowed).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, TransportError> {
    let mut all = decode_all(bytes)?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => Err(TransportError::Codec(format!(
            "expected one record, the envelope holds {n}"
        ))),
    }
}

/// Decodes a plain or a packed envelope into its records, rejecting other
/// schema versions, an envelope with both or neither field, and an empty
/// pack.
pub fn decode_all<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, TransportError> {
    let env: AnyEnvelope<T> =
        serde_json::from_slice(bytes).map_err(|e| TransportError::Codec(e.to_string()))?;
    if env.v != SCHEMA_VERSION {
        return Err(TransportError::Codec(format!(
            "schema version {} is not {SCHEMA_VERSION}",
            env.v
        )));
    }
    match (env.record, env.records) {
        (Some(r), None) => Ok(vec![r]),
        (None, Some(rs)) if !rs.is_empty() => Ok(rs),
        (None, Some(_)) => Err(TransportError::Codec("empty `records`".into())),
        (Some(_), Some(_)) => Err(TransportError::Codec(
            "both `record` and `records` are set".into(),
        )),
        (None, None) => Err(TransportError::Codec(
            "missing field `record` (or `records`)".into(),
        )),
    }
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

    #[test]
    fn packed_envelopes_round_trip_and_single_records_stay_plain() {
        let b = encode_packed(&[3u32, 4, 5]).unwrap();
        assert_eq!(
            std::str::from_utf8(&b).unwrap(),
            r#"{"v":1,"records":[3,4,5]}"#
        );
        assert_eq!(decode_all::<u32>(&b).unwrap(), vec![3, 4, 5]);
        // A pack is not one record.
        assert!(decode::<u32>(&b).is_err());
        // One record packs as the plain envelope, readable by both.
        let one = encode_packed(&[7u32]).unwrap();
        // frame() writes what serde writes, and frame_len() says how long.
        let rec = serde_json::json!({"a": [1, "x"], "b": null});
        for n in 1..4 {
            let recs = vec![rec.clone(); n];
            let parts: Vec<Vec<u8>> = recs
                .iter()
                .map(|r| serde_json::to_vec(r).unwrap())
                .collect();
            let framed = frame(&parts);
            assert_eq!(framed.len(), frame_len(parts.iter().map(Vec::len)));
            #[derive(Serialize)]
            struct Packed<'a> {
                v: u32,
                records: &'a [serde_json::Value],
            }
            let expected = if n == 1 {
                encode(&rec).unwrap()
            } else {
                serde_json::to_vec(&Packed {
                    v: SCHEMA_VERSION,
                    records: &recs,
                })
                .unwrap()
            };
            assert_eq!(framed, expected);
        }
        assert_eq!(one, encode(&7u32).unwrap());
        assert_eq!(decode::<u32>(&one).unwrap(), 7);
        assert_eq!(decode_all::<u32>(&one).unwrap(), vec![7]);
    }

    #[test]
    fn malformed_envelopes_are_refused_with_a_reason() {
        for (bytes, why) in [
            (&br#"{"v":1}"#[..], "missing field"),
            (br#"{"v":1,"records":[]}"#, "empty"),
            (br#"{"v":1,"record":1,"records":[2]}"#, "both"),
            (br#"{"v":2,"records":[1]}"#, "schema version 2"),
            (br#"{"v":1,"records":[1,"x"]}"#, "invalid type"),
        ] {
            let e = decode_all::<u32>(bytes).unwrap_err().to_string();
            assert!(e.contains(why), "{e} should say {why}");
        }
    }
}
