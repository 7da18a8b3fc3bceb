//! Rows into pages: the stored JSON of a prospect as written, the check a
//! stored row passes before it is served, and the one page assembler both
//! backends feed row by row.

use audiences_server::runtime::{RawJson, RawJsonArray};

use super::model::{AudienceState, Page, PageOutcome, Position, StoreError, StoredProspect};

/// The stored JSON of a prospect: its compact serialization, checked to be
/// framed as [`row_is_framed`] expects.
pub(crate) fn stored_json(stored: &StoredProspect) -> Result<String, StoreError> {
    let text = RawJson::from_value(&stored.prospect)
        .map_err(|error| StoreError::Rejected(format!("prospect does not serialize: {error}")))?
        .into_string();
    if stored.prospect.id != stored.position.id || !row_is_framed(&stored.position.id, &text) {
        return Err(StoreError::Rejected(format!(
            "prospect `{}` is not stored under its own id",
            stored.position.id
        )));
    }
    Ok(text)
}

/// Whether a stored row looks as this store writes it: one JSON object
/// holding `"id":"<the row's id>"` as serde_json writes it. Rows are written
/// only from typed values ([`stored_json`] checks the same framing), so a
/// row that passes is passed through as the `AudienceProspect` it was,
/// unparsed; a row replaced, truncated or swapped behind the store's back
/// fails here and is a 500 rather than wrong or invalid JSON sent to a
/// client. It costs a substring search, not a parse (a full check of the
/// JSON syntax alone would cost about 0.9 µs a row, see BENCHMARKS.md).
pub fn row_is_framed(id: &str, data: &str) -> bool {
    static KEY: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"id\":\""));
    let bytes = data.as_bytes();
    let width = KEY.needle().len();
    data.starts_with('{')
        && data.ends_with('}')
        && KEY.find_iter(bytes).any(|at| {
            bytes[at + width..]
                .strip_prefix(id.as_bytes())
                .is_some_and(|rest| rest.first() == Some(&b'"'))
        })
}

/// A page being read from the rows of the page statement, whichever
/// backend ran it: each row carries the audience's state and, when the
/// audience has prospects after the position, one prospect (`limit + 1`
/// were asked for, the last only to tell whether more follow).
pub(crate) struct PageAssembler {
    page: Page,
    limit: u32,
    seen: u32,
    state: Option<AudienceState>,
}

impl PageAssembler {
    /// Room for a page of `limit` rows of typical size.
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            page: Page {
                items: RawJsonArray::with_capacity(limit as usize * 1_024),
                ..Page::default()
            },
            limit,
            seen: 0,
            state: None,
        }
    }

    /// Whether the audience's state is still to be read (from the first row).
    pub(crate) fn wants_state(&self) -> bool {
        self.state.is_none()
    }

    /// The audience's state, as stored.
    pub(crate) fn state(&mut self, stored: &str) -> Result<(), StoreError> {
        self.state = Some(AudienceState::parse(stored)?);
        Ok(())
    }

    /// Whether another row is wanted: `false` once the page is full (the row
    /// after it only says that more follow).
    pub(crate) fn wants_row(&mut self) -> bool {
        if self.seen == self.limit {
            self.page.has_more = true;
            return false;
        }
        true
    }

    /// Appends one prospect's row, after checking that it is UTF-8 and
    /// framed as written; the last row's position is kept without an
    /// allocation per row.
    pub(crate) fn row(&mut self, created_at: i64, id: &str, data: &[u8]) -> Result<(), StoreError> {
        let corrupt = || StoreError::Corrupt(format!("prospect `{id}`: stored data is not as written"));
        let data = simdutf8::basic::from_utf8(data).map_err(|_| corrupt())?;
        if !row_is_framed(id, data) {
            return Err(corrupt());
        }
        self.seen += 1;
        let page = &mut self.page;
        page.items.push_trusted(data);
        match &mut page.last {
            Some(last) => {
                last.created_at = created_at;
                last.id.clear();
                last.id.push_str(id);
            }
            None => {
                page.last = Some(Position {
                    created_at,
                    id: id.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// What the rows found: no audience (no row), an audience being
    /// populated, or the page.
    pub(crate) fn finish(self) -> PageOutcome {
        match self.state {
            None => PageOutcome::NotFound,
            Some(AudienceState::Populating) => PageOutcome::Populating,
            Some(AudienceState::Ready) => PageOutcome::Page(self.page),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_framed_by_its_own_id() {
        let id = "6650000000000000000000aa";
        assert!(row_is_framed(id, &format!("{{\"id\":\"{id}\",\"name\":\"x\"}}")));
        assert!(row_is_framed(
            id,
            &format!("{{\"about\":null,\"id\":\"{id}\",\"name\":\"x\"}}")
        ));
        for bad in [
            format!("{{\"id\": \"{id}\"}}"),
            format!("{{\"id\":\"{id}0\"}}"),
            format!("{{\"id\":\"{id}\",\"name\":\"x\""),
            "{\"id\": 42, \"secret\": \"/var/lib/x\"}".to_owned(),
            String::new(),
        ] {
            assert!(!row_is_framed(id, &bad), "{bad}");
        }
    }
}
