//! Pages an instance read from PostgreSQL, kept with the version of their
//! audience they were read at, to be served again while that version has
//! not moved.
//!
//! Every write to an audience's prospects moves its version in the writing
//! transaction (migrations/postgres/0004_page_versions.sql: triggers that
//! fire in every replication role). For a page kept here, the request's
//! one statement takes the caller's token and reads the audience's state
//! and version (no prospect table in its plan); the kept page is served
//! only when that version is the one it was read at, so it is the page the
//! rows would give at that moment, on every instance: a write committed
//! anywhere is seen by the next request, as without the cache. When the
//! version moved, a second statement reads the page (and keeps it). The
//! token is taken on every request either way (the limit stays exact
//! across instances), and the audience's state and account group are read
//! afresh (a 404 or 409 is never served from here).
//!
//! Versions come from one sequence, so a version names one state of one
//! audience; the entry's key (audience, position, size) is compared in
//! full on every hit, so a hash collision costs a read, never another
//! page. A kept page passed the row check when it was read; it is copied
//! out, never shared with a response.
//!
//! The cache is bounded in bytes (`--page-cache-mib`; 0 turns it off) and
//! evicts with quick_cache's S3-FIFO: a page read once (an export's walk)
//! passes through without pushing out the pages read again and again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::model::{Page, Position};

/// `page_cache_lookups_total{result}`: pages asked of the PostgreSQL
/// store's page cache, by result: `hit` (served from the instance, the
/// database only took the token and said the version), `miss` (read from
/// the database) or `off`.
pub const PAGE_CACHE: &str = "page_cache_lookups_total";

/// What identifies a page: its audience, the position it starts after and
/// its size.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageKey<'a> {
    pub(crate) audience: &'a str,
    pub(crate) after: (i64, &'a str),
    pub(crate) limit: u32,
}

impl<'a> PageKey<'a> {
    /// The page of `audience` after `after` (the first page: `None`), of
    /// `limit` items.
    pub(crate) fn new(audience: &'a str, after: Option<&'a super::model::Position>, limit: u32) -> Self {
        Self {
            audience,
            after: super::model::Position::bounds(after),
            limit,
        }
    }

    fn hash(&self) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3Default::new();
        // Lengths first: no two keys write the same bytes.
        hasher.update(&(self.audience.len() as u64).to_le_bytes());
        hasher.update(self.audience.as_bytes());
        hasher.update(&self.after.0.to_le_bytes());
        hasher.update(&(self.after.1.len() as u64).to_le_bytes());
        hasher.update(self.after.1.as_bytes());
        hasher.update(&self.limit.to_le_bytes());
        hasher.digest()
    }
}

/// A kept page and what it was read for.
#[derive(Debug)]
pub(crate) struct Kept {
    audience: String,
    after: Position,
    limit: u32,
    version: i64,
    page: Page,
    /// What it holds, in bytes, counted once.
    bytes: usize,
}

impl Kept {
    fn is_for(&self, key: &PageKey<'_>) -> bool {
        self.limit == key.limit
            && self.after.created_at == key.after.0
            && self.after.id == key.after.1
            && self.audience == key.audience
    }

    /// A copy of `page` (only the bytes it holds, see `RawJsonArray`'s
    /// `Clone`), weighed by what it allocates: a page with few rows read
    /// into room for many weighs its rows, not the room.
    fn new(key: &PageKey<'_>, version: i64, page: &Page) -> Self {
        let page = page.clone();
        let last = page.last.as_ref().map_or(0, |last| last.id.capacity());
        let bytes = page.items.allocated_bytes()
            + last
            + key.audience.len()
            + key.after.1.len()
            + std::mem::size_of::<Self>();
        Self {
            audience: key.audience.to_owned(),
            after: Position {
                created_at: key.after.0,
                id: key.after.1.to_owned(),
            },
            limit: key.limit,
            version,
            page,
            bytes,
        }
    }
}

/// A kept page's weight: its bytes (`Kept::bytes`).
#[derive(Debug, Clone, Copy)]
struct Bytes;

impl quick_cache::Weighter<u64, Arc<Kept>> for Bytes {
    fn weight(&self, _: &u64, kept: &Arc<Kept>) -> u64 {
        kept.bytes as u64
    }
}

/// The pages kept by one instance (see the module's docs).
pub(crate) struct PageCache {
    /// `None`: the cache is off.
    pages: Option<quick_cache::sync::Cache<u64, Arc<Kept>, Bytes>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Pages looked up in a `PageCache`: served from it, and read from the
/// database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCacheStats {
    /// Pages served from the cache.
    pub hits: u64,
    /// Pages read from the database (the cache had none, or an older one).
    pub misses: u64,
}

impl PageCache {
    /// A cache holding at most `budget` bytes of pages (0: off).
    pub(crate) fn new(budget: usize) -> Self {
        // About 32 KiB a page (25 to 100 prospects of about 1 KiB).
        let pages = (budget > 0)
            .then(|| quick_cache::sync::Cache::with_weighter((budget >> 15).max(16), budget as u64, Bytes));
        Self {
            pages,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The page kept for `key`, if any (`None` too when the cache is off):
    /// its version is the one to ask the database about.
    pub(crate) fn lookup(&self, key: &PageKey<'_>) -> Option<Arc<Kept>> {
        self.pages
            .as_ref()?
            .get(&key.hash())
            .filter(|kept| kept.is_for(key))
    }

    /// A copy of the `kept` page if it was read at `version`, the
    /// audience's version now (a hit; `None` otherwise, counted by
    /// [`PageCache::read`] once the page is read).
    pub(crate) fn serve(&self, kept: &Kept, version: i64) -> Option<Page> {
        if kept.version != version {
            return None;
        }
        self.hits.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(PAGE_CACHE, "result" => "hit").increment(1);
        Some(kept.page.clone())
    }

    /// Counts a page read from the database for `key` at `version` (a
    /// miss) and keeps a copy of it, in place of an older one.
    pub(crate) fn read(&self, key: &PageKey<'_>, version: i64, page: &Page) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let Some(pages) = &self.pages else {
            metrics::counter!(PAGE_CACHE, "result" => "off").increment(1);
            return;
        };
        metrics::counter!(PAGE_CACHE, "result" => "miss").increment(1);
        pages.insert(key.hash(), Arc::new(Kept::new(key, version, page)));
    }

    /// Pages served from the cache and read from the database so far.
    pub(crate) fn stats(&self) -> PageCacheStats {
        PageCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// The bytes of the pages kept.
    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.pages.as_ref().map_or(0, |pages| pages.weight())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(ids: &[&str]) -> Page {
        let mut page = Page::default();
        for id in ids {
            page.items.push_trusted(&format!(r#"{{"id":"{id}"}}"#));
        }
        page
    }

    fn key<'a>(audience: &'a str, id: &'a str, limit: u32) -> PageKey<'a> {
        PageKey {
            audience,
            after: (7, id),
            limit,
        }
    }

    fn version(cache: &PageCache, audience: &str, id: &str, limit: u32) -> Option<i64> {
        cache.lookup(&key(audience, id, limit)).map(|kept| kept.version)
    }

    fn text(page: Page) -> String {
        page.items.finish().as_str().into_owned()
    }

    /// A page is served again only for its own key and at the version it
    /// was read at; hits and reads are counted.
    #[test]
    fn a_page_is_served_for_its_key_at_its_version_only() {
        let cache = PageCache::new(1 << 20);
        assert_eq!(version(&cache, "a", "x", 25), None);
        cache.read(&key("a", "x", 25), 41, &page(&["p1", "p2"]));
        assert_eq!(version(&cache, "a", "x", 25), Some(41));
        let kept = cache.lookup(&key("a", "x", 25)).unwrap();
        let served = cache.serve(&kept, 41).expect("kept at 41");
        assert_eq!(text(served), r#"[{"id":"p1"},{"id":"p2"}]"#);
        assert!(cache.serve(&kept, 42).is_none(), "moved version");
        for other in [key("b", "x", 25), key("a", "y", 25), key("a", "x", 26)] {
            assert!(cache.lookup(&other).is_none(), "{other:?}");
        }
        assert_eq!(cache.stats(), PageCacheStats { hits: 1, misses: 1 });
        // Read again at a newer version: the newer page is kept in its place.
        cache.read(&key("a", "x", 25), 42, &page(&["p3"]));
        let kept = cache.lookup(&key("a", "x", 25)).unwrap();
        assert_eq!(text(cache.serve(&kept, 42).unwrap()), r#"[{"id":"p3"}]"#);
        assert_eq!(cache.stats(), PageCacheStats { hits: 2, misses: 2 });
    }

    /// A page read into room for 100 rows that holds one weighs its row,
    /// and what it weighs is what it allocates: the bound in bytes is a
    /// bound on memory, whatever the pages' sizes.
    #[test]
    fn a_kept_page_weighs_what_it_holds() {
        let mut sparse = Page {
            items: audiences_server::runtime::RawJsonArray::with_capacity(100 * 1_024),
            ..Page::default()
        };
        sparse.items.push_trusted(r#"{"id":"p"}"#);
        assert!(sparse.items.allocated_bytes() > 100 * 1_024);
        let kept = Kept::new(&key("a", "x", 100), 1, &sparse);
        assert_eq!(kept.page.items.capacity_hint(), sparse.items.capacity_hint());
        assert!(kept.bytes >= kept.page.items.allocated_bytes());
        assert!(kept.bytes < 2_048, "{} bytes", kept.bytes);
    }

    /// The bound holds, and a walk over many pages read once (an export)
    /// does not push out a page read again and again.
    #[test]
    fn the_cache_stays_within_its_bytes_and_keeps_what_is_read_again() {
        let prospects: Vec<String> = (0..25).map(|n| format!("p{n:0900}")).collect();
        let prospects: Vec<&str> = prospects.iter().map(String::as_str).collect();
        let one = Kept::new(&key("a", "x0", 25), 1, &page(&prospects)).bytes as u64;
        let budget = one * 64;
        let cache = PageCache::new(budget as usize);
        cache.read(&key("a", "hot", 25), 1, &page(&prospects));
        for n in 0..1_000 {
            let id = format!("x{n}");
            cache.read(&key("a", &id, 25), 1, &page(&prospects));
            assert!(cache.bytes() <= budget, "{} bytes after {n}", cache.bytes());
            if n % 10 == 0 {
                assert_eq!(
                    version(&cache, "a", "hot", 25),
                    Some(1),
                    "the page read again, at {n}"
                );
            }
        }
        assert!(
            cache.bytes() > budget / 2,
            "filled: {} of {budget}",
            cache.bytes()
        );
        // Off: nothing kept, every page counted as read from the database.
        let off = PageCache::new(0);
        off.read(&key("a", "x", 25), 1, &page(&["p"]));
        assert_eq!(version(&off, "a", "x", 25), None);
        assert_eq!(off.stats(), PageCacheStats { hits: 0, misses: 1 });
    }
}
