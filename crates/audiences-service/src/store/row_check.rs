//! The check every stored row passes before it is served: exactly one JSON
//! object whose `id` member is the row's id, proven by a real validating
//! parse; anything else is a corrupt row (the documented 500), never bytes
//! a client's parser cannot read or a page with more items than rows.
//!
//! The parse ([`row_is_exactly`]) walks the whole text with serde_json
//! (every value's syntax, strings' escapes and control characters, nothing
//! after the object) without allocating per member: member names are
//! compared in place and values skipped with `IgnoredAny`. It costs about
//! 1 µs per row of 1 KB, too much to pay on every page (25 rows would add
//! about a third to a request's CPU time, BENCHMARKS.md §1), so each row's
//! proof is remembered: [`Proven`] keeps the 128-bit XXH3 fingerprint of
//! every (id, text) pair that passed, and a row whose fingerprint is there
//! is served without a second parse. A row changed behind the store's back
//! has another fingerprint and is parsed again. The set is bounded
//! ([`PROVEN_CAPACITY`] rows, about 5 MiB); when full it is emptied and
//! refills as rows are read.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{LazyLock, PoisonError, RwLock};

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};

/// How many proven rows are remembered before the set starts again.
pub const PROVEN_CAPACITY: usize = 1 << 18;

/// Whether `data` is UTF-8 and exactly one JSON object whose `id` member
/// (every one, if repeated) is the string `id`: a real, validating parse.
/// (The parse alone does not look at the UTF-8 of the strings it skips.)
pub fn row_is_exactly(id: &str, data: &[u8]) -> bool {
    if simdutf8::basic::from_utf8(data).is_err() {
        return false;
    }
    let mut deserializer = serde_json::Deserializer::from_slice(data);
    let holds = ObjectWithId { id }
        .deserialize(&mut deserializer)
        .is_ok_and(|found| found);
    holds && deserializer.end().is_ok()
}

/// Whether a stored row may be served: its text is the one the store
/// proved when it wrote the row (`proof`, stored beside it, is the row's
/// fingerprint), or it was proven before (the same id and text), or it is
/// proven now by [`row_is_exactly`] and remembered. Either way the bytes
/// are those of a text that passed [`row_is_exactly`], UTF-8 included.
pub fn row_is_served(id: &str, data: &[u8], proof: Option<&[u8]>) -> bool {
    let fingerprint = fingerprint(id, data);
    if proof.is_some_and(|proof| proof == fingerprint.to_be_bytes()) {
        return true;
    }
    PROVEN.check_fingerprint(fingerprint, id, data)
}

/// The proof the store writes beside a row it wrote: the row's
/// fingerprint, for a row that passes [`row_is_exactly`] (`None` for one
/// that does not).
pub fn proof_of(id: &str, data: &[u8]) -> Option<[u8; 16]> {
    row_is_exactly(id, data).then(|| fingerprint(id, data).to_be_bytes())
}

/// The 128-bit XXH3 fingerprint of a row's (id, text).
fn fingerprint(id: &str, data: &[u8]) -> u128 {
    let seed = xxhash_rust::xxh3::xxh3_64(id.as_bytes());
    xxhash_rust::xxh3::xxh3_128_with_seed(data, seed)
}

static PROVEN: LazyLock<Proven> = LazyLock::new(Proven::default);

/// The fingerprints of rows that passed [`row_is_exactly`].
#[derive(Default)]
pub struct Proven {
    fingerprints: RwLock<HashSet<u128, BuildHasherDefault<AlreadyHashed>>>,
}

impl Proven {
    /// Whether the row passes, parsing it only when its fingerprint is new.
    pub fn check(&self, id: &str, data: &[u8]) -> bool {
        self.check_fingerprint(fingerprint(id, data), id, data)
    }

    fn check_fingerprint(&self, fingerprint: u128, id: &str, data: &[u8]) -> bool {
        if self
            .fingerprints
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&fingerprint)
        {
            return true;
        }
        if !row_is_exactly(id, data) {
            return false;
        }
        let mut fingerprints = self.fingerprints.write().unwrap_or_else(PoisonError::into_inner);
        if fingerprints.len() >= PROVEN_CAPACITY {
            fingerprints.clear();
        }
        fingerprints.insert(fingerprint);
        true
    }

    /// How many fingerprints are remembered.
    pub fn len(&self) -> usize {
        self.fingerprints
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The fingerprints are hashes already: their low 64 bits are the hash.
#[derive(Default)]
pub(super) struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }
}

/// Deserializes an object, finding whether its `id` members are all `id`
/// (and there is at least one).
struct ObjectWithId<'a> {
    id: &'a str,
}

impl<'de> DeserializeSeed<'de> for ObjectWithId<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectWithId<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object with an `id`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        let mut right = true;
        while let Some(is_id) = map.next_key_seed(MemberName)? {
            if is_id {
                found = true;
                right &= map.next_value_seed(Equals(self.id))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found && right)
    }
}

/// A member name: whether it is `id`, compared where it lies.
struct MemberName;

impl<'de> DeserializeSeed<'de> for MemberName {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for MemberName {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == "id")
    }
}

/// A value: whether it is the string given.
struct Equals<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for Equals<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Equals<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<bool, E> {
        Ok(value == self.0)
    }

    // Anything but a string is a wrong id; it is still parsed in full.
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6650000000000000000000aa";

    #[test]
    fn a_row_is_served_only_when_it_is_exactly_one_object_with_its_own_id() {
        for good in [
            format!("{{\"id\":\"{ID}\",\"name\":\"x\"}}"),
            format!("{{\"about\":null,\"id\":\"{ID}\",\"name\":\"x\"}}"),
            format!("{{\"id\": \"{ID}\", \"tags\": [1, {{\"id\": 2}}], \"n\": -1.5e3}}"),
            format!("{{\"i\\u0064\":\"{ID}\"}}"),
            format!("{{\"id\":\"{ID}\",\"about\":\"Hello! \\ud83d\\udc4d \\\"quoted\\\"\"}}"),
        ] {
            assert!(row_is_exactly(ID, good.as_bytes()), "{good}");
        }
        for bad in [
            format!("{{\"a\":1}}{{\"id\":\"{ID}\"}}"),
            format!("{{\"id\":\"X\",\"name\":\"injected\"}},{{\"id\":\"{ID}\"}}"),
            format!("{{\"id\":\"{ID}\"}} trailing"),
            format!("{{\"id\":\"{ID}0\"}}"),
            format!("{{\"id\":\"{ID}\",\"id\":\"other\"}}"),
            format!("{{\"id\":\"{ID}\",\"name\":\"x\""),
            format!("{{\"id\":\"{ID}\",\"name\":\"a\u{1}b\"}}"),
            format!("{{\"id\":\"{ID}\",\"n\":01}}"),
            format!("{{\"id\":\"{ID}\",\"n\":[1,]}}"),
            format!("[{{\"id\":\"{ID}\"}}]"),
            format!("\"{ID}\""),
            "{\"id\": 42, \"secret\": \"/var/lib/x\"}".to_owned(),
            "{\"name\":\"no id\"}".to_owned(),
            String::new(),
        ] {
            assert!(!row_is_exactly(ID, bad.as_bytes()), "{bad}");
        }
        // Not UTF-8, in a value the parse skips and in the id itself: the
        // parse alone would let the first through.
        for bad in [
            [
                format!("{{\"id\":\"{ID}\",\"name\":\"").as_bytes(),
                b"\xff\xfe\"}",
            ]
            .concat(),
            [b"{\"id\":\"\xc3\x28".as_slice(), ID.as_bytes(), b"\"}"].concat(),
        ] {
            assert!(!row_is_exactly(ID, &bad), "{}", String::from_utf8_lossy(&bad));
            assert_eq!(proof_of(ID, &bad), None);
            assert!(!Proven::default().check(ID, &bad));
        }
    }

    #[test]
    fn a_proof_is_remembered_for_the_same_id_and_text_only() {
        let proven = Proven::default();
        let good = format!("{{\"id\":\"{ID}\"}}");
        assert!(proven.check(ID, good.as_bytes()));
        assert!(proven.check(ID, good.as_bytes()));
        assert_eq!(proven.len(), 1);
        // The same text under another id, and another text, are parsed.
        assert!(!proven.check("6650000000000000000000ab", good.as_bytes()));
        assert!(!proven.check(ID, format!("{good}{good}").as_bytes()));
        assert_eq!(proven.len(), 1);
    }

    /// A row's stored proof stands for the parse only while the text is the
    /// one it was made from: a proof is made only for a row that passes; a
    /// row that matches its proof is served without being parsed (shown
    /// here with a proof forged for a text that would not pass); a text
    /// changed since is parsed, and refused when it does not pass.
    #[test]
    fn a_stored_proof_stands_for_the_parse_of_its_own_text_only() {
        let good = format!("{{\"id\":\"{ID}\"}}");
        let proof = proof_of(ID, good.as_bytes()).expect("a good row has a proof");
        assert!(row_is_served(ID, good.as_bytes(), Some(&proof)));
        assert_eq!(proof_of(ID, b"{\"id\":1}"), None);
        // Another id, the same text: another fingerprint.
        assert_ne!(
            fingerprint("6650000000000000000000ab", good.as_bytes()).to_be_bytes(),
            proof
        );

        let broken = format!("{{\"id\":\"{ID}\"");
        let forged = fingerprint(ID, broken.as_bytes()).to_be_bytes();
        assert!(
            row_is_served(ID, broken.as_bytes(), Some(&forged)),
            "the proof is trusted"
        );
        assert!(!row_is_served(ID, broken.as_bytes(), Some(&proof)));
        assert!(!row_is_served(ID, broken.as_bytes(), None));
        assert!(!row_is_served(ID, broken.as_bytes(), Some(b"short")));
    }
}
