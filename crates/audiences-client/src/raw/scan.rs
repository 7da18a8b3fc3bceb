//! A page's body read in one pass: the envelope's structure walked here,
//! each value in it parsed by serde_json where it starts, so that every
//! prospect is parsed once, as the documented type, and its span in the
//! body is known from where that parse ended. (Collecting the prospects as
//! `RawValue`s first and parsing each again read every byte twice: a third
//! of the CLI's time on a page of 100.)
//!
//! It accepts what `serde_json::from_str` into the derived envelope would:
//! members in any order, unknown members ignored, a member named twice
//! refused, nothing but whitespace after the body. The tests check this
//! against that derived parse.

use std::fmt::Display;
use std::ops::Range;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::types::AudienceProspect;

/// What a 200 body says: each prospect's span in it, the cursor of the
/// next page (present or not), whether one follows, and the trace id.
#[derive(Debug)]
pub(super) struct Parsed {
    pub(super) items: Vec<Range<usize>>,
    pub(super) next_cursor: Option<String>,
    pub(super) has_more: bool,
    pub(super) trace_id: String,
}

/// Parses a 200 body (see the module docs); a refusal says what and where.
pub(super) fn page(text: &str) -> Result<Parsed, String> {
    let mut scan = Scan { text, at: 0 };
    let (mut success, mut data, mut error, mut trace_id) = (None, None, None, None);
    scan.object(|scan, key| match key {
        "success" => scan.once(&mut success, "success", Scan::value::<bool>),
        "data" => scan.once(&mut data, "data", Scan::data),
        "error" => scan.once(&mut error, "error", Scan::value::<IgnoredAny>),
        "traceId" => scan.once(&mut trace_id, "traceId", Scan::value::<String>),
        _ => scan.value::<IgnoredAny>().map(drop),
    })?;
    if scan.peek().is_some() {
        return Err(scan.fail("trailing characters after the envelope"));
    }
    let missing = |field: &str| format!("missing field `{field}`");
    if !success.ok_or_else(|| missing("success"))? {
        return Err("`success` is false in a 200 answer".to_owned());
    }
    let (items, next_cursor, has_more) = data.ok_or_else(|| missing("data"))?;
    Ok(Parsed {
        items,
        next_cursor,
        has_more,
        trace_id: trace_id.ok_or_else(|| missing("traceId"))?,
    })
}

/// The body and how far it has been read.
struct Scan<'a> {
    text: &'a str,
    at: usize,
}

type Data = (Vec<Range<usize>>, Option<String>, bool);

impl<'a> Scan<'a> {
    fn fail(&self, what: impl Display) -> String {
        format!("{what} (at byte {} of the body)", self.at)
    }

    /// The next byte that is not JSON whitespace, left unread.
    fn peek(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(&byte) = bytes.get(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        match self.peek() {
            Some(found) if found == byte => {
                self.at += 1;
                Ok(())
            }
            Some(found) => Err(self.fail(format_args!(
                "expected `{}`, found `{}`",
                byte as char,
                char::from(found)
            ))),
            None => Err(self.fail(format_args!("expected `{}`, found the end", byte as char))),
        }
    }

    /// One JSON value from here, parsed as `T`; reading moves past it.
    fn value<T: Deserialize<'a>>(&mut self) -> Result<T, String> {
        self.peek();
        let mut values = serde_json::Deserializer::from_str(&self.text[self.at..]).into_iter::<T>();
        match values.next() {
            Some(Ok(value)) => {
                self.at += values.byte_offset();
                Ok(value)
            }
            Some(Err(error)) => Err(self.fail(error)),
            None => Err(self.fail("expected a value, found the end")),
        }
    }

    /// A member's value read into `slot` by `read`, refused when the
    /// object named it already.
    fn once<T>(
        &mut self,
        slot: &mut Option<T>,
        name: &str,
        read: impl FnOnce(&mut Self) -> Result<T, String>,
    ) -> Result<(), String> {
        if slot.is_some() {
            return Err(self.fail(format_args!("duplicate field `{name}`")));
        }
        *slot = Some(read(self)?);
        Ok(())
    }

    /// An object, each member's key handed to `member`, which reads its value.
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &str) -> Result<(), String>,
    ) -> Result<(), String> {
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.fail("expected a member's name"));
            }
            let key: String = self.value()?;
            self.expect(b':')?;
            member(self, &key)?;
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(self.fail("expected `,` or `}` after a member")),
            }
        }
    }

    /// The `data` member: the prospects' spans, `nextCursor`, `hasMore`.
    fn data(&mut self) -> Result<Data, String> {
        let (mut items, mut next_cursor, mut has_more) = (None, None, None);
        self.object(|scan, key| match key {
            "items" => scan.once(&mut items, "items", Scan::items),
            "nextCursor" => scan.once(&mut next_cursor, "nextCursor", Scan::value::<Option<String>>),
            "hasMore" => scan.once(&mut has_more, "hasMore", Scan::value::<bool>),
            _ => scan.value::<IgnoredAny>().map(drop),
        })?;
        let items = items.ok_or_else(|| self.fail("missing field `items`"))?;
        let has_more = has_more.ok_or_else(|| self.fail("missing field `hasMore`"))?;
        Ok((items, next_cursor.flatten(), has_more))
    }

    /// The prospects, each parsed as the documented type where it starts.
    fn items(&mut self) -> Result<Vec<Range<usize>>, String> {
        self.expect(b'[')?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(items);
        }
        loop {
            self.peek();
            let start = self.at;
            let index = items.len();
            self.value::<AudienceProspect>()
                .map_err(|error| format!("prospect {index} of the page: {error}"))?;
            items.push(start..self.at);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => return Err(self.fail("expected `,` or `]` after a prospect")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::*;
    use crate::raw::tests::{PROSPECT, body_text as body};

    /// The derived envelope the scan must agree with.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope<'a> {
        success: bool,
        #[serde(borrow)]
        data: DerivedData<'a>,
        #[serde(default)]
        #[allow(dead_code, reason = "read to be checked, as the scan does")]
        error: Option<IgnoredAny>,
        trace_id: String,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct DerivedData<'a> {
        #[serde(borrow)]
        items: Vec<&'a RawValue>,
        next_cursor: Option<String>,
        has_more: bool,
    }

    /// What the derived parse makes of `text`: the prospects' texts, the
    /// cursor, `hasMore` and the trace id; `None` when it refuses.
    fn derived(text: &str) -> Option<(Vec<String>, Option<String>, bool, String)> {
        let envelope: Envelope<'_> = serde_json::from_str(text).ok()?;
        if !envelope.success {
            return None;
        }
        let mut items = Vec::new();
        for item in envelope.data.items {
            serde_json::from_str::<AudienceProspect>(item.get()).ok()?;
            items.push(item.get().to_owned());
        }
        Some((
            items,
            envelope.data.next_cursor,
            envelope.data.has_more,
            envelope.trace_id,
        ))
    }

    fn scanned(text: &str) -> Option<(Vec<String>, Option<String>, bool, String)> {
        let parsed = page(text).ok()?;
        let items = parsed
            .items
            .iter()
            .map(|span| text[span.clone()].to_owned())
            .collect();
        Some((items, parsed.next_cursor, parsed.has_more, parsed.trace_id))
    }

    #[test]
    fn the_scan_accepts_and_refuses_what_the_derived_parse_does() {
        let newer = PROSPECT.replacen('{', r#"{"score": 0.5e1, "tags":["a"],"#, 1);
        let two = format!("{PROSPECT}, {newer}");
        let broken = PROSPECT.replace(r#""premium":false"#, r#""premium":"yes""#);
        let cases = [
            body(&two),
            body(""),
            body(&format!(" \n{PROSPECT}\t,\r\n{PROSPECT} ")),
            format!(" {} \n", body(PROSPECT)),
            body(&format!("{PROSPECT},{broken}")),
            body(&format!("{PROSPECT},")),
            body(&format!("{PROSPECT} {PROSPECT}")),
            body(&PROSPECT.replace(r#""name":"Avery Stone","#, "")),
            format!("{}x", body(PROSPECT)),
            format!("{}{{}}", body(PROSPECT)),
            body(PROSPECT).replacen('{', r#"{"traceId":"first","#, 1),
            body(PROSPECT).replace(r#""hasMore":true"#, r#""hasMore":true,"items":[]"#),
            body(PROSPECT).replace(r#","hasMore":true"#, ""),
            body(PROSPECT).replace(r#""nextCursor":"c1","#, ""),
            body(PROSPECT).replace(r#""nextCursor":"c1""#, r#""nextCursor":null"#),
            body(PROSPECT).replace(r#""success":true"#, r#""success":false"#),
            body(PROSPECT).replace(r#""success":true,"#, ""),
            body(PROSPECT).replace(r#","traceId":"t-1""#, ""),
            body(PROSPECT).replace(r#""error":null"#, r#""error":{"code":"X","details":[1,{}]}"#),
            body(PROSPECT).replace(r#""traceId":"t-1""#, r#""trace\u0049d":"t-\"1\"""#),
            body(PROSPECT).replacen('{', r#"{"extra":{"deep":[true,null,1.5]},"#, 1),
            body(PROSPECT).replace(r#""data":{"#, r#""data":{"more":"x","#),
            body(PROSPECT).replace(r#""data":{"#, r#""data":null,"x":{"#),
            body(PROSPECT).replace(r#""items":["#, r#""items":{"#),
            body(PROSPECT).replace(r#""hasMore":true"#, r#""hasMore":1"#),
            body(PROSPECT).replace(r#""traceId":"t-1"}"#, r#""traceId":"t-1",}"#),
            body(PROSPECT).replace(':', " : "),
            "{}".to_owned(),
            "[]".to_owned(),
            String::new(),
            body(PROSPECT)[..40].to_owned(),
        ];
        let mut accepted = 0;
        for (index, case) in cases.iter().enumerate() {
            let expected = derived(case);
            assert_eq!(scanned(case), expected, "case {index}: {case}");
            accepted += usize::from(expected.is_some());
        }
        // Both outcomes are exercised, not only refusals.
        assert!((8..cases.len() - 8).contains(&accepted), "{accepted} accepted");
    }

    #[test]
    fn a_refusal_names_the_prospect_or_the_byte() {
        let broken = PROSPECT.replace(r#""premium":false"#, r#""premium":"yes""#);
        let error = page(&body(&format!("{PROSPECT},{broken}"))).unwrap_err();
        assert!(error.contains("prospect 1 of the page"), "{error}");
        let text = format!("{} !", body(""));
        let error = page(&text).unwrap_err();
        let at = format!("at byte {} of the body", text.len() - 1);
        assert!(
            error.contains("trailing characters") && error.contains(&at),
            "{error}"
        );
    }
}
