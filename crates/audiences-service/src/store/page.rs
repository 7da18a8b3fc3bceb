//! Rows into pages: the stored JSON of a prospect as written, and the one
//! page assembler both backends feed row by row, which serves a row only
//! once it passes the check of `row_check.rs`.

use audiences_server::runtime::{RawJson, RawJsonArray};

use super::model::{AudienceState, Page, PageOutcome, Position, StoreError, StoredProspect};
use super::row_check::{proof_of, row_is_served};

/// A prospect's row as the store writes it: its position, its stored JSON
/// (the compact serialization) and the proof that this text passed the
/// check a row passes before it is served (see `row_check.rs`).
pub(crate) struct StoredRow {
    pub(crate) position: Position,
    pub(crate) data: String,
    pub(crate) proof: [u8; 16],
}

/// The row of a prospect, refused unless it is stored under its own id and
/// its text passes the check.
pub(crate) fn stored_row(stored: &StoredProspect) -> Result<StoredRow, StoreError> {
    let data = RawJson::from_value(&stored.prospect)
        .map_err(|error| StoreError::Rejected(format!("prospect does not serialize: {error}")))?
        .into_string();
    let proof = (stored.prospect.id == stored.position.id)
        .then(|| proof_of(&stored.position.id, data.as_bytes()))
        .flatten()
        .ok_or_else(|| {
            StoreError::Rejected(format!(
                "prospect `{}` is not stored under its own id",
                stored.position.id
            ))
        })?;
    Ok(StoredRow {
        position: stored.position.clone(),
        data,
        proof,
    })
}

/// The rows of `prospects` (see [`stored_row`]).
pub(crate) fn stored_rows(prospects: &[StoredProspect]) -> Result<Vec<StoredRow>, StoreError> {
    prospects.iter().map(stored_row).collect()
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
    /// that it is UTF-8 and exactly one JSON object with its own id (its
    /// `proof`, when the store wrote one, saves the parse); the last row's
    /// position is kept without an allocation per row.
    pub(crate) fn row(
        &mut self,
        created_at: i64,
        id: &str,
        data: &[u8],
        proof: Option<&[u8]>,
    ) -> Result<(), StoreError> {
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
        if !row_is_served(id, data, proof) {
            return Err(corrupt());
        }
        self.seen += 1;
        let page = &mut self.page;
        // Served only as the bytes of a text proven UTF-8 (`row_is_served`).
        page.items.push_trusted_bytes(data);
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
        page.row(5, "b", row("b").as_bytes(), None).unwrap();
        page.row(5, "c", row("c").as_bytes(), None).unwrap();
        page.row(6, "a", row("a").as_bytes(), None).unwrap();
        for (created_at, id) in [(6, "a"), (5, "z"), (4, "d")] {
            let refused = page.row(created_at, id, row(id).as_bytes(), None);
            assert!(
                matches!(&refused, Err(StoreError::Corrupt(message)) if message.contains("out of the page's order")),
                "({created_at}, {id}): {refused:?}"
            );
        }
        page.row(6, "b", row("b").as_bytes(), None).unwrap();
        let PageOutcome::Page(page) = page.finish() else {
            panic!("a ready audience's page");
        };
        let last = page.last.unwrap();
        assert_eq!((last.created_at, last.id.as_str()), (6, "b"));
        assert_eq!(page.items.len(), 4);
    }
}
