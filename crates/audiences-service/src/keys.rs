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
