//! The opaque pagination cursor: base64url of a version byte, the audience,
//! the keyset position, and an HMAC-SHA256 tag (truncated to 16 bytes) with
//! the server secret. A corrupted, forged or foreign cursor never decodes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::store::Position;

const VERSION: u8 = 1;
const ID_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
const PAYLOAD_BYTES: usize = 1 + ID_BYTES + 8 + ID_BYTES;

/// Why a cursor was refused; each reads as a 400 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorError {
    /// Not base64url, wrong length or unknown version.
    Malformed,
    /// The signature does not match: altered or forged.
    Forged,
    /// Valid, but issued for another audience.
    ForeignAudience,
}

impl std::fmt::Display for CursorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CursorError::Malformed => "query parameter `cursor` is not a cursor this API issued",
            CursorError::Forged => "query parameter `cursor` has been altered",
            CursorError::ForeignAudience => "query parameter `cursor` belongs to another audience",
        })
    }
}

/// Signs and checks cursors with the server secret.
#[derive(Clone)]
pub struct CursorCodec {
    secret: Vec<u8>,
}

fn hex_id(text: &str) -> Option<[u8; ID_BYTES]> {
    let mut out = [0u8; ID_BYTES];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn id_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

impl CursorCodec {
    /// A codec with `secret` (at least 32 bytes of randomness).
    pub fn new(secret: Vec<u8>) -> Self {
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length")
    }

    /// The cursor that resumes `audience` after `position`; `None` when an id
    /// is not 24 hexadecimal digits (the store only holds such ids).
    pub fn encode(&self, audience: &str, position: &Position) -> Option<String> {
        let mut bytes = Vec::with_capacity(PAYLOAD_BYTES + TAG_BYTES);
        bytes.push(VERSION);
        bytes.extend_from_slice(&hex_id(audience)?);
        bytes.extend_from_slice(&position.created_at.to_be_bytes());
        bytes.extend_from_slice(&hex_id(&position.id)?);
        let mut mac = self.mac();
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes()[..TAG_BYTES]);
        Some(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The position a cursor stands for, if this server issued it for `audience`.
    pub fn decode(&self, audience: &str, cursor: &str) -> Result<Position, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(cursor)
            .map_err(|_| CursorError::Malformed)?;
        if bytes.len() != PAYLOAD_BYTES + TAG_BYTES || bytes[0] != VERSION {
            return Err(CursorError::Malformed);
        }
        let (payload, tag) = bytes.split_at(PAYLOAD_BYTES);
        let mut mac = self.mac();
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| CursorError::Forged)?;
        let expected = hex_id(&audience.to_ascii_lowercase()).ok_or(CursorError::ForeignAudience)?;
        if payload[1..1 + ID_BYTES] != expected {
            return Err(CursorError::ForeignAudience);
        }
        let mut created_at = [0u8; 8];
        created_at.copy_from_slice(&payload[1 + ID_BYTES..1 + ID_BYTES + 8]);
        Ok(Position {
            created_at: i64::from_be_bytes(created_at),
            id: id_hex(&payload[1 + ID_BYTES + 8..]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUDIENCE: &str = "6650a1b2c3d4e5f60123abcd";

    fn position() -> Position {
        Position {
            created_at: 1_700_000_000_123_456,
            id: "00000000000000000000002a".into(),
        }
    }

    #[test]
    fn a_cursor_decodes_to_its_position_for_its_audience_only() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let cursor = codec.encode(AUDIENCE, &position()).unwrap();
        assert_eq!(codec.decode(AUDIENCE, &cursor), Ok(position()));
        assert_eq!(codec.decode(&AUDIENCE.to_uppercase(), &cursor), Ok(position()));
        assert_eq!(
            codec.decode("6650a1b2c3d4e5f60123abce", &cursor),
            Err(CursorError::ForeignAudience)
        );
    }

    #[test]
    fn altered_truncated_and_foreign_secret_cursors_are_refused() {
        let codec = CursorCodec::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let cursor = codec.encode(AUDIENCE, &position()).unwrap();
        let other = CursorCodec::new(b"another secret of thirty-two b..".to_vec());
        assert_eq!(other.decode(AUDIENCE, &cursor), Err(CursorError::Forged));
        assert_eq!(
            codec.decode(AUDIENCE, &cursor[..cursor.len() - 2]),
            Err(CursorError::Malformed)
        );
        assert_eq!(
            codec.decode(AUDIENCE, "not a cursor!"),
            Err(CursorError::Malformed)
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for index in 0..bytes.len() {
            bytes[index] ^= 0x01;
            let flipped = URL_SAFE_NO_PAD.encode(&bytes);
            assert!(
                codec.decode(AUDIENCE, &flipped).is_err(),
                "bit flip at byte {index} accepted"
            );
            bytes[index] ^= 0x01;
        }
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn codec() -> CursorCodec {
            CursorCodec::new(b"0123456789abcdef0123456789abcdef".to_vec())
        }

        fn hex24() -> impl Strategy<Value = String> {
            proptest::array::uniform12(any::<u8>()).prop_map(|bytes| id_hex(&bytes))
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

            #[test]
            fn every_position_round_trips(audience in hex24(), id in hex24(), created_at in any::<i64>()) {
                let position = Position { created_at, id };
                let cursor = codec().encode(&audience, &position).unwrap();
                prop_assert!(cursor.len() <= 512, "fits the document's maxLength");
                prop_assert_eq!(codec().decode(&audience, &cursor), Ok(position));
            }

            #[test]
            fn any_text_decodes_only_if_this_server_issued_it(audience in hex24(), text in ".{0,120}") {
                // Never panics; whatever decodes re-encodes to the same text.
                if let Ok(position) = codec().decode(&audience, &text) {
                    prop_assert_eq!(codec().encode(&audience, &position), Some(text));
                }
            }

            #[test]
            fn well_formed_but_unsigned_cursors_are_refused(
                audience in hex24(),
                bytes in proptest::collection::vec(any::<u8>(), PAYLOAD_BYTES + TAG_BYTES),
            ) {
                let mut bytes = bytes;
                bytes[0] = VERSION;
                bytes[1..1 + ID_BYTES].copy_from_slice(&hex_id(&audience).unwrap());
                let forged = URL_SAFE_NO_PAD.encode(&bytes);
                prop_assert_eq!(codec().decode(&audience, &forged), Err(CursorError::Forged));
            }

            #[test]
            fn a_cursor_for_one_audience_never_opens_another(
                audience in hex24(),
                other in hex24(),
                id in hex24(),
                created_at in any::<i64>(),
            ) {
                prop_assume!(audience != other);
                let cursor = codec().encode(&audience, &Position { created_at, id }).unwrap();
                prop_assert_eq!(codec().decode(&other, &cursor), Err(CursorError::ForeignAudience));
            }
        }
    }
}
