//! API keys: random secrets shown once, stored as their SHA-256.

use sha2::{Digest, Sha256};

/// The permissions an API key can hold.
pub const ALL_PERMISSIONS: &[&str] = &["prospects:read", "audiences:read", "audiences:write"];

/// A new random API key: `ak_` and 48 hexadecimal digits (192 bits).
pub fn generate() -> String {
    format!("ak_{}", hex::encode(rand::random::<[u8; 24]>()))
}

/// What the database stores for a key. Keys are 192 random bits, so an
/// unsalted hash is as strong as the key; the lookup is by hash, so timing
/// reveals nothing about the secret.
pub fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// A new random id of 24 hexadecimal digits.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

/// How long an instance trusts what it read of a key: a revoked key is
/// refused by every instance at most this long after the revocation
/// commits (the bound is tested across instances).
pub const KEY_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// Keys remembered at most; past it, expired entries are dropped, then all.
const KEY_CACHE_CAPACITY: usize = 100_000;

/// What the store said of each key hash (found or not) in the last
/// [`KEY_CACHE_TTL`], so that a page is one statement rather than two. An
/// unknown key is remembered too: a flood of bad keys costs the database one
/// query per key and TTL, not one per request.
pub struct KeyCache<K> {
    ttl: std::time::Duration,
    entries: dashmap::DashMap<Vec<u8>, (std::time::Instant, Option<std::sync::Arc<K>>)>,
}

impl<K> KeyCache<K> {
    /// A cache whose entries live `ttl` (zero: nothing is cached).
    pub fn new(ttl: std::time::Duration) -> Self {
        Self {
            ttl,
            entries: dashmap::DashMap::new(),
        }
    }

    /// The bound on staleness.
    pub fn ttl(&self) -> std::time::Duration {
        self.ttl
    }

    /// The remembered answer for `hash`, if still fresh.
    pub fn get(&self, hash: &[u8]) -> Option<Option<std::sync::Arc<K>>> {
        let entry = self.entries.get(hash)?;
        let (read_at, key) = &*entry;
        (read_at.elapsed() < self.ttl).then(|| key.clone())
    }

    /// Remembers the answer for `hash`, read at `read_at` (taken before the
    /// query, so that the bound counts from what the database had then).
    pub fn put(&self, hash: Vec<u8>, read_at: std::time::Instant, key: Option<std::sync::Arc<K>>) {
        if self.ttl.is_zero() {
            return;
        }
        if self.entries.len() >= KEY_CACHE_CAPACITY {
            self.entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if self.entries.len() >= KEY_CACHE_CAPACITY {
                self.entries.clear();
            }
        }
        self.entries.insert(hash, (read_at, key));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn an_entry_lives_its_ttl_counted_from_the_read() {
        let cache = KeyCache::new(Duration::from_millis(200));
        cache.put(b"k".to_vec(), Instant::now(), Some(Arc::new(7)));
        cache.put(b"unknown".to_vec(), Instant::now(), None);
        assert_eq!(cache.get(b"k"), Some(Some(Arc::new(7))));
        assert_eq!(cache.get(b"unknown"), Some(None));
        assert_eq!(cache.get(b"other"), None);
        cache.put(
            b"old".to_vec(),
            Instant::now() - Duration::from_millis(300),
            Some(Arc::new(1)),
        );
        assert_eq!(cache.get(b"old"), None, "read before the bound: already stale");
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(cache.get(b"k"), None);
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let cache = KeyCache::new(Duration::ZERO);
        cache.put(b"k".to_vec(), Instant::now(), Some(Arc::new(7)));
        assert_eq!(cache.get(b"k"), None);
    }
}
