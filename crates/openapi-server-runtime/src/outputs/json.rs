//! JSON a server already holds as text (rows stored as JSON, a cached
//! page) handed to the response without being parsed into typed values and
//! serialized again, while staying tied to the schema's type: a
//! [`RawJson<T>`] can only be made from a `T`, from text that parses as a
//! `T`, or from text its maker vouches was one of those when it was stored.
//!
//! The text lives in one buffer with room left before it: the objects
//! around it (a page, then the envelope) are written into that room and
//! after it, so that a page of stored rows reaches the socket with one copy
//! (from the database into the buffer), not one per layer.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Bytes kept free before an array's text for what wraps it (a page's
/// leading properties, the envelope's).
pub(crate) const HEADROOM: usize = 192;

/// Room an array keeps after its items: its closing bracket and what the
/// envelope writes after it.
const TAILROOM: usize = 2 + 128;

/// JSON text of one value of type `T`.
pub struct RawJson<T> {
    /// The text is `buffer[start..]`; `buffer[..start]` is free room.
    pub(crate) buffer: Vec<u8>,
    pub(crate) start: usize,
    schema: PhantomData<fn() -> T>,
}

impl<T> RawJson<T> {
    /// Text that was made by [`RawJson::from_value`] or passed
    /// [`RawJson::checked`] when it was stored (a row the service wrote
    /// itself): the caller vouches for it; nothing is checked here.
    pub fn trusted(text: String) -> Self {
        Self::from_parts(text.into_bytes(), 0)
    }

    pub(crate) fn from_parts(buffer: Vec<u8>, start: usize) -> Self {
        Self {
            buffer,
            start,
            schema: PhantomData,
        }
    }

    /// The JSON text: borrowed, as it is UTF-8 whenever its maker kept the
    /// promise of [`RawJsonArray::push_trusted_bytes`]; a broken promise
    /// shows as U+FFFD in place of the bytes that are not, never a panic.
    pub fn as_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }

    /// The JSON text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer[self.start..]
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.as_str().into_owned()
    }

    /// The JSON text as bytes for a response body, without copying it.
    pub fn into_bytes(self) -> axum::body::Bytes {
        axum::body::Bytes::from(self.buffer).slice(self.start..)
    }

    /// `prefix`, this text, then `suffix`, as the JSON of another type: the
    /// prefix goes into the room before the text when it fits (no copy of
    /// the text), else the text is copied once.
    pub(crate) fn wrap<U>(mut self, prefix: &[u8], suffix: &[u8]) -> RawJson<U> {
        if prefix.len() <= self.start {
            let start = self.start - prefix.len();
            self.buffer[start..self.start].copy_from_slice(prefix);
            self.buffer.extend_from_slice(suffix);
            RawJson::from_parts(self.buffer, start)
        } else {
            let text = &self.buffer[self.start..];
            let mut buffer = Vec::with_capacity(HEADROOM + prefix.len() + text.len() + suffix.len());
            buffer.resize(HEADROOM, b' ');
            buffer.extend_from_slice(prefix);
            buffer.extend_from_slice(text);
            buffer.extend_from_slice(suffix);
            RawJson::from_parts(buffer, HEADROOM)
        }
    }
}

impl<T: Serialize> RawJson<T> {
    /// The JSON of `value`.
    pub fn from_value(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_string(value).map(Self::trusted)
    }
}

impl<T: DeserializeOwned> RawJson<T> {
    /// `text`, once it has parsed as a `T` (the check of the write path).
    pub fn checked(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<T>(&text)?;
        Ok(Self::trusted(text))
    }

    /// The typed value (parses the text).
    pub fn parse(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.buffer[self.start..])
    }
}

impl<T> Clone for RawJson<T> {
    fn clone(&self) -> Self {
        Self::from_parts(self.buffer.clone(), self.start)
    }
}

impl<T> fmt::Debug for RawJson<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({} bytes)", self.buffer.len() - self.start)
    }
}

impl<T> PartialEq for RawJson<T> {
    fn eq(&self, other: &Self) -> bool {
        self.buffer[self.start..] == other.buffer[other.start..]
    }
}

/// JSON text of an array of values of type `T`, built item by item.
pub struct RawJsonArray<T> {
    buffer: Vec<u8>,
    count: usize,
    schema: PhantomData<fn() -> T>,
}

impl<T> RawJsonArray<T> {
    /// An empty array with room for `bytes` of JSON (and for what will
    /// wrap it).
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buffer = Vec::with_capacity(HEADROOM + bytes + TAILROOM);
        buffer.resize(HEADROOM, b' ');
        buffer.push(b'[');
        Self {
            buffer,
            count: 0,
            schema: PhantomData,
        }
    }

    /// Appends an item.
    pub fn push(&mut self, item: &RawJson<T>) {
        self.push_trusted_bytes(item.as_bytes());
    }

    /// Appends an item's text, vouched for as [`RawJson::trusted`] is.
    pub fn push_trusted(&mut self, item: &str) {
        self.push_trusted_bytes(item.as_bytes());
    }

    /// Appends an item's text as bytes, vouched for as [`RawJson::trusted`]
    /// is and, more, to be UTF-8: bytes identical to text that was proven
    /// when it was stored (a row whose fingerprint is the one written
    /// beside it) need not be looked at again. Bytes that break the promise
    /// are never a panic here or later (see [`RawJson::as_str`]).
    pub fn push_trusted_bytes(&mut self, item: &[u8]) {
        if self.count > 0 {
            self.buffer.push(b',');
        }
        self.buffer.extend_from_slice(item);
        self.count += 1;
    }

    /// The items pushed so far.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether no item was pushed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The bytes written so far, to size what holds the array.
    pub fn capacity_hint(&self) -> usize {
        self.buffer.len() - HEADROOM + 1
    }

    /// The bytes the array holds in memory (its room included), to weigh
    /// what keeps it.
    pub fn allocated_bytes(&self) -> usize {
        self.buffer.capacity()
    }

    /// The array's JSON text.
    pub fn finish(mut self) -> RawJson<Vec<T>> {
        self.buffer.push(b']');
        RawJson::from_parts(self.buffer, HEADROOM)
    }
}

/// A copy holding the items written so far and the room to wrap them in
/// the envelope, not the room left for more items (a page kept to be served
/// again is weighed by what it holds, then copied out and wrapped in
/// place).
impl<T> Clone for RawJsonArray<T> {
    fn clone(&self) -> Self {
        let mut buffer = Vec::with_capacity(self.buffer.len() + TAILROOM);
        buffer.extend_from_slice(&self.buffer);
        Self {
            buffer,
            count: self.count,
            schema: PhantomData,
        }
    }
}

impl<T> fmt::Debug for RawJsonArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "RawJsonArray({} items, {} bytes)",
            self.count,
            self.buffer.len() - HEADROOM + 1
        )
    }
}

impl<T> Default for RawJsonArray<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// A success body: a typed value, serialized when the response is
/// written, or JSON text of the same type, passed through.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<T> {
    /// A typed value.
    Typed(T),
    /// Its JSON text.
    Raw(RawJson<T>),
}

impl<T> From<T> for Json<T> {
    fn from(value: T) -> Self {
        Json::Typed(value)
    }
}

impl<T> From<RawJson<T>> for Json<T> {
    fn from(raw: RawJson<T>) -> Self {
        Json::Raw(raw)
    }
}

impl<T: Serialize> Json<T> {
    /// The JSON text (serializing a typed value).
    pub fn to_text(&self) -> Result<std::borrow::Cow<'_, str>, serde_json::Error> {
        match self {
            Json::Typed(value) => serde_json::to_string(value).map(std::borrow::Cow::Owned),
            Json::Raw(raw) => Ok(raw.as_str()),
        }
    }
}

impl<T: DeserializeOwned + Clone> Json<T> {
    /// The typed value (parsing raw text).
    pub fn value(&self) -> Result<T, serde_json::Error> {
        match self {
            Json::Typed(value) => Ok(value.clone()),
            Json::Raw(raw) => raw.parse(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes pushed as vouched for are the array's text as they are; bytes
    /// that break the promise read as U+FFFD, never a panic.
    #[test]
    fn vouched_bytes_are_kept_and_broken_promises_do_not_panic() {
        let mut items = RawJsonArray::<String>::with_capacity(8);
        items.push_trusted_bytes("\"é\"".as_bytes());
        items.push_trusted("\"x\"");
        let array = items.finish();
        assert_eq!(array.as_bytes(), "[\"é\",\"x\"]".as_bytes());
        assert_eq!(array.parse().unwrap(), ["é", "x"]);
        let mut broken = RawJsonArray::<String>::with_capacity(8);
        broken.push_trusted_bytes(b"\"\xff\"");
        let broken = broken.finish();
        assert_eq!(broken.as_str(), "[\"\u{fffd}\"]");
        assert_eq!(broken.into_string(), "[\"\u{fffd}\"]");
    }

    /// A copy is the same array, holds only what it needs to be wrapped
    /// (not the room left for items), and grows on its own.
    #[test]
    fn a_copy_is_the_same_array_and_grows_apart() {
        let mut items = RawJsonArray::<String>::with_capacity(100 * 1_024);
        items.push_trusted("\"a\"");
        let mut copy = items.clone();
        assert_eq!(
            (copy.len(), copy.capacity_hint()),
            (items.len(), items.capacity_hint())
        );
        assert!(items.allocated_bytes() > 100 * 1_024);
        assert!(
            copy.allocated_bytes() >= HEADROOM + copy.capacity_hint() + TAILROOM - 1
                && copy.allocated_bytes() < 1_024,
            "{} bytes",
            copy.allocated_bytes()
        );
        copy.push_trusted("\"b\"");
        assert_eq!(items.finish().as_bytes(), b"[\"a\"]");
        assert_eq!(copy.finish().parse().unwrap(), ["a", "b"]);
    }
}
