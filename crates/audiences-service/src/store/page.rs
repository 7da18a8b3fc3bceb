//! Rows into pages: the stored JSON of a prospect as written, and the one
//! page assembler both backends feed row by row, which serves a row only
//! once it passes the check of `row_check.rs`.

use audiences_server::runtime::{RawJson, RawJsonArray};

use super::model::{AudienceState, Page, PageOutcome, Position, StoreError, StoredProspect};
use super::row_check::{row_is_exactly, row_is_served};

/// The stored JSON of a prospect: its compact serialization, checked as a
/// row is checked before it is served.
pub(crate) fn stored_json(stored: &StoredProspect) -> Result<String, StoreError> {
    let text = RawJson::from_value(&stored.prospect)
        .map_err(|error| StoreError::Rejected(format!("prospect does not serialize: {error}")))?
        .into_string();
    if stored.prospect.id != stored.position.id || !row_is_exactly(&stored.position.id, text.as_bytes()) {
        return Err(StoreError::Rejected(format!(
            "prospect `{}` is not stored under its own id",
            stored.position.id
        )));
    }
    Ok(text)
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

    /// Appends one prospect's row, after checking that it comes after the
    /// row before it (the page's order, which the cursor is made from) and
    /// that it is UTF-8 and exactly one JSON object with its own id; the
    /// last row's position is kept without an allocation per row.
    pub(crate) fn row(&mut self, created_at: i64, id: &str, data: &[u8]) -> Result<(), StoreError> {
        if let Some(last) = &self.page.last
            && (created_at, id) <= (last.created_at, last.id.as_str())
        {
            return Err(StoreError::Corrupt(format!(
                "prospect `{id}` came after `{}` out of the page's order",
                last.id
            )));
        }
        let corrupt = || {
            StoreError::Corrupt(format!(
                "prospect `{id}`: stored data is not one JSON object with its own id"
            ))
        };
        let data = simdutf8::basic::from_utf8(data).map_err(|_| corrupt())?;
        if !row_is_served(id, data.as_bytes()) {
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

    fn row(id: &str) -> String {
        format!(r#"{{"id":"{id}","name":"x"}}"#)
    }

    /// The statement's order is checked, not trusted: a row that does not
    /// come after the one before it makes the page corrupt (a 500, never a
    /// page whose cursor would skip or repeat prospects).
    #[test]
    fn a_row_out_of_the_pages_order_is_refused() {
        let mut page = PageAssembler::new(10);
        page.state("ready").unwrap();
        page.row(5, "b", row("b").as_bytes()).unwrap();
        page.row(5, "c", row("c").as_bytes()).unwrap();
        page.row(6, "a", row("a").as_bytes()).unwrap();
        for (created_at, id) in [(6, "a"), (5, "z"), (4, "d")] {
            let refused = page.row(created_at, id, row(id).as_bytes());
            assert!(
                matches!(&refused, Err(StoreError::Corrupt(message)) if message.contains("out of the page's order")),
                "({created_at}, {id}): {refused:?}"
            );
        }
        page.row(6, "b", row("b").as_bytes()).unwrap();
        let PageOutcome::Page(page) = page.finish() else {
            panic!("a ready audience's page");
        };
        let last = page.last.unwrap();
        assert_eq!((last.created_at, last.id.as_str()), (6, "b"));
        assert_eq!(page.items.len(), 4);
    }
}
