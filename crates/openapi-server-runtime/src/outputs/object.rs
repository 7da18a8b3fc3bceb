//! Raw JSON objects written around raw values: the generated raw builders
//! (a page around its stored rows) and the success envelope use
//! [`RawObject`], which keeps the first raw value in its own buffer and
//! writes the other properties into the room before it and after it (see
//! [`super::json`]).

use serde::Serialize;

use super::json::RawJson;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outputs::json::RawJsonArray;

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
