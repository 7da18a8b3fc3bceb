//! JSON a server already holds as text (rows stored as JSON, a cached
//! page) handed to the response without being parsed into typed values and
//! serialized again, while staying tied to the schema's type: a
//! [`RawJson<T>`] can only be made from a `T`, from text that parses as a
//! `T`, or from text its maker vouches was one of those when it was stored.

use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// JSON text of one value of type `T`.
pub struct RawJson<T> {
    text: String,
    schema: PhantomData<fn() -> T>,
}

impl<T> RawJson<T> {
    /// Text that was made by [`RawJson::from_value`] or passed
    /// [`RawJson::checked`] when it was stored (a row the service wrote
    /// itself): the caller vouches for it; nothing is checked here.
    pub fn trusted(text: String) -> Self {
        Self {
            text,
            schema: PhantomData,
        }
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.text
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
        serde_json::from_str(&self.text)
    }
}

impl<T> Clone for RawJson<T> {
    fn clone(&self) -> Self {
        Self::trusted(self.text.clone())
    }
}

impl<T> fmt::Debug for RawJson<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJson({} bytes)", self.text.len())
    }
}

impl<T> PartialEq for RawJson<T> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// JSON text of an array of values of type `T`, built item by item.
pub struct RawJsonArray<T> {
    text: String,
    count: usize,
    schema: PhantomData<fn() -> T>,
}

impl<T> RawJsonArray<T> {
    /// An empty array with room for `bytes` of JSON.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut text = String::with_capacity(bytes + 2);
        text.push('[');
        Self {
            text,
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
            self.text.push(',');
        }
        self.text.push_str(item);
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
        self.text.len() + 1
    }

    /// The array's JSON text.
    pub fn finish(mut self) -> RawJson<Vec<T>> {
        self.text.push(']');
        RawJson::trusted(self.text)
    }
}

impl<T> fmt::Debug for RawJsonArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RawJsonArray({} items, {} bytes)", self.count, self.text.len())
    }
}

impl<T> Default for RawJsonArray<T> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

/// Writes a JSON object property by property; the generated raw builders
/// (one per schema with arrays of components) use it, so the property names
/// and types come from the document.
pub struct RawObject {
    text: String,
    first: bool,
}

impl RawObject {
    /// An empty object with room for `bytes` of JSON.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut text = String::with_capacity(bytes + 64);
        text.push('{');
        Self { text, first: true }
    }

    fn key(&mut self, name: &str) -> Result<(), serde_json::Error> {
        if !self.first {
            self.text.push(',');
        }
        self.first = false;
        self.text.push_str(&serde_json::to_string(name)?);
        self.text.push(':');
        Ok(())
    }

    /// A property of raw JSON.
    pub fn raw<T>(&mut self, name: &str, value: &RawJson<T>) -> Result<&mut Self, serde_json::Error> {
        self.key(name)?;
        self.text.push_str(value.as_str());
        Ok(self)
    }

    /// A property of a typed value.
    pub fn value<V: Serialize + ?Sized>(
        &mut self,
        name: &str,
        value: &V,
    ) -> Result<&mut Self, serde_json::Error> {
        self.key(name)?;
        self.text.push_str(&serde_json::to_string(value)?);
        Ok(self)
    }

    /// The object, as the raw JSON of `T`.
    pub fn finish<T>(mut self) -> RawJson<T> {
        self.text.push('}');
        RawJson::trusted(self.text)
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
