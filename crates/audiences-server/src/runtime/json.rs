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
const HEADROOM: usize = 192;

/// JSON text of one value of type `T`.
pub struct RawJson<T> {
    /// The text is `buffer[start..]`; `buffer[..start]` is free room.
    buffer: Vec<u8>,
    start: usize,
    schema: PhantomData<fn() -> T>,
}

impl<T> RawJson<T> {
    /// Text that was made by [`RawJson::from_value`] or passed
    /// [`RawJson::checked`] when it was stored (a row the service wrote
    /// itself): the caller vouches for it; nothing is checked here.
    pub fn trusted(text: String) -> Self {
        Self::from_parts(text.into_bytes(), 0)
    }

    fn from_parts(buffer: Vec<u8>, start: usize) -> Self {
        Self {
            buffer,
            start,
            schema: PhantomData,
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        // Built only from `str`s, at char boundaries.
        std::str::from_utf8(&self.buffer[self.start..]).expect("raw JSON is UTF-8")
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.as_str().to_owned()
    }

    /// The JSON text as bytes for a response body, without copying it.
    pub fn into_bytes(self) -> axum::body::Bytes {
        axum::body::Bytes::from(self.buffer).slice(self.start..)
    }

    /// `prefix`, this text, then `suffix`, as the JSON of another type: the
    /// prefix goes into the room before the text when it fits (no copy of
    /// the text), else the text is copied once.
    fn wrap<U>(mut self, prefix: &[u8], suffix: &[u8]) -> RawJson<U> {
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
        let mut buffer = Vec::with_capacity(HEADROOM + bytes + 2 + 128);
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
        self.push_trusted(item.as_str());
    }

    /// Appends an item's text, vouched for as [`RawJson::trusted`] is.
    pub fn push_trusted(&mut self, item: &str) {
        if self.count > 0 {
            self.buffer.push(b',');
        }
        self.buffer.extend_from_slice(item.as_bytes());
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

    /// The array's JSON text.
    pub fn finish(mut self) -> RawJson<Vec<T>> {
        self.buffer.push(b']');
        RawJson::from_parts(self.buffer, HEADROOM)
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

/// Writes a JSON object property by property; the generated raw builders
/// (one per schema with arrays of components) use it, so the property names
/// and types come from the document. The first raw property is kept in its
/// own buffer, the others written around it.
pub struct RawObject {
    /// Everything before the first raw property's value.
    before: Vec<u8>,
    /// The first raw property's value.
    body: Option<RawJson<()>>,
    /// Everything after it.
    after: Vec<u8>,
}

/// Writes `"name":` as JSON.
fn write_key(out: &mut Vec<u8>, name: &str) -> Result<(), serde_json::Error> {
    if name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
    {
        out.push(b'"');
        out.extend_from_slice(name.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, name)?;
    }
    out.push(b':');
    Ok(())
}

impl RawObject {
    /// An empty object.
    pub fn new() -> Self {
        Self {
            before: Vec::with_capacity(64),
            body: None,
            after: Vec::with_capacity(96),
        }
    }

    fn current(&mut self) -> &mut Vec<u8> {
        // Only `before` starts the object; `after` always follows the raw value.
        if self.body.is_none() {
            let separator = if self.before.is_empty() { b'{' } else { b',' };
            self.before.push(separator);
            &mut self.before
        } else {
            self.after.push(b',');
            &mut self.after
        }
    }

    /// A property of raw JSON.
    pub fn raw<T>(&mut self, name: &str, value: RawJson<T>) -> Result<&mut Self, serde_json::Error> {
        let out = self.current();
        write_key(out, name)?;
        if self.body.is_none() {
            self.body = Some(RawJson::from_parts(value.buffer, value.start));
        } else {
            self.after.extend_from_slice(&value.buffer[value.start..]);
        }
        Ok(self)
    }

    /// A property of a typed value.
    pub fn value<V: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &V,
    ) -> Result<&mut Self, serde_json::Error> {
        let out = self.current();
        write_key(out, name)?;
        serde_json::to_writer(&mut *out, value)?;
        Ok(self)
    }

    /// The object, as the raw JSON of `T`.
    pub fn finish<T>(mut self) -> RawJson<T> {
        match self.body {
            Some(body) => {
                self.after.push(b'}');
                body.wrap(&self.before, &self.after)
            }
            None => {
                if self.before.is_empty() {
                    self.before.push(b'{');
                }
                self.before.push(b'}');
                RawJson::from_parts(self.before, 0)
            }
        }
    }
}

impl Default for RawObject {
    fn default() -> Self {
        Self::new()
    }
}

/// One property of a raw success envelope, named by the document's
/// `x-envelope`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopePart {
    /// The boolean property: `true`.
    True,
    /// The data property: the raw JSON.
    Data,
    /// The error property: `null`.
    Null,
    /// The trace id property.
    TraceId,
}

/// `data` in the success envelope: the `parts` in their order (the order
/// the typed envelope serializes in, so both are the same bytes), such as
/// `{"data":DATA,"error":null,"success":true,"traceId":"…"}`.
pub fn envelope<T>(
    parts: &[(&'static str, EnvelopePart)],
    data: RawJson<T>,
    trace_id: &str,
) -> Result<RawJson<()>, serde_json::Error> {
    let mut object = RawObject::new();
    let mut data = Some(data);
    for (name, part) in parts {
        match part {
            EnvelopePart::True => object.value(name, &true)?,
            EnvelopePart::Data => match data.take() {
                Some(data) => object.raw(name, data)?,
                None => object.value(name, &())?,
            },
            EnvelopePart::Null => object.value(name, &())?,
            EnvelopePart::TraceId => object.value(name, trace_id)?,
        };
    }
    Ok(object.finish())
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
            Json::Raw(raw) => Ok(std::borrow::Cow::Borrowed(raw.as_str())),
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

    #[test]
    fn wrapping_writes_around_the_text_in_place() {
        let mut items = RawJsonArray::<u32>::with_capacity(16);
        items.push_trusted("1");
        items.push_trusted("2");
        let array = items.finish();
        let address = array.buffer.as_ptr();
        let mut page = RawObject::new();
        page.value("hasMore", &true).unwrap();
        page.raw("items", array).unwrap();
        page.value("next cursor", &Some("c")).unwrap();
        let page: RawJson<()> = page.finish();
        assert_eq!(
            page.as_str(),
            r#"{"hasMore":true,"items":[1,2],"next cursor":"c"}"#
        );
        let parts = [
            ("data", EnvelopePart::Data),
            ("error", EnvelopePart::Null),
            ("success", EnvelopePart::True),
            ("traceId", EnvelopePart::TraceId),
        ];
        let body = envelope(&parts, page, "t\"1").unwrap();
        assert_eq!(
            body.as_str(),
            r#"{"data":{"hasMore":true,"items":[1,2],"next cursor":"c"},"error":null,"success":true,"traceId":"t\"1"}"#
        );
        assert_eq!(body.buffer.as_ptr(), address, "no copy of the array");
        assert_eq!(&body.clone().into_bytes()[..], body.as_str().as_bytes());
    }

    #[test]
    fn text_without_room_is_copied_once_and_objects_without_raw_parts_are_plain() {
        let trusted = RawJson::<()>::trusted("[7]".to_owned());
        let mut object = RawObject::new();
        object.raw("a", trusted).unwrap();
        object.raw("b", RawJson::<()>::trusted("{}".to_owned())).unwrap();
        assert_eq!(object.finish::<()>().as_str(), r#"{"a":[7],"b":{}}"#);
        let mut plain = RawObject::new();
        plain.value("x", &1).unwrap();
        assert_eq!(plain.finish::<()>().as_str(), r#"{"x":1}"#);
        assert_eq!(RawObject::new().finish::<()>().as_str(), "{}");
    }
}
