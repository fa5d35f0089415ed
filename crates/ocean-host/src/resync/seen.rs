//! What a resync produced, kept compact: a 128-bit hash per entity, not its
//! blueprint and identifier, so the set costs about 20 bytes an entity
//! whatever the identifiers' length (the one thing that grows with the
//! catalog during a resync). A collision (odds about n²/2¹²⁹) could only keep
//! a stale entity one resync longer, never delete a live one: what is in the
//! set is kept.

use std::collections::{BTreeSet, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// An entity's (blueprint, identifier), hashed.
pub type KeyHash = u128;

/// The hash of an entity's key; the blueprint's length goes first, so
/// ("ab", "c") and ("a", "bc") differ.
pub fn key_hash(blueprint: &str, identifier: &str) -> KeyHash {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&(blueprint.len() as u64).to_le_bytes());
    hasher.update(blueprint.as_bytes());
    hasher.update(identifier.as_bytes());
    hasher.digest128()
}

/// Keys are already uniform hashes: the table takes their low bits as they are.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only reached for keys other than u128; fold them in.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }
}

/// A set of key hashes.
pub type KeySet = HashSet<KeyHash, BuildHasherDefault<PassThrough>>;

/// Entities this resync produced (written, unchanged or held back): all that
/// outlives a page.
#[derive(Default)]
pub struct Seen {
    keys: KeySet,
    /// The blueprints they belong to (a handful).
    blueprints: BTreeSet<String>,
}

impl Seen {
    /// Records that this resync produced (or held) the entity.
    pub fn add(&mut self, blueprint: &str, identifier: &str) {
        if !self.blueprints.contains(blueprint) {
            self.blueprints.insert(blueprint.to_string());
        }
        self.keys.insert(key_hash(blueprint, identifier));
    }

    /// Whether the entity was recorded (a hash collision, very unlikely, may say yes wrongly).
    pub fn contains(&self, blueprint: &str, identifier: &str) -> bool {
        self.contains_hash(key_hash(blueprint, identifier))
    }

    /// As [`Seen::contains`], for a key already hashed with [`key_hash`].
    pub fn contains_hash(&self, key: KeyHash) -> bool {
        self.keys.contains(&key)
    }

    /// The blueprints of the recorded entities, in name order.
    pub fn blueprints(&self) -> impl Iterator<Item = &String> {
        self.blueprints.iter()
    }

    /// Entities recorded.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Bytes the set holds on the heap, for the benchmark's figure per entity.
    pub fn heap_bytes(&self) -> usize {
        // hashbrown: one control byte and one slot per bucket, buckets a power of two.
        let buckets = if self.keys.capacity() == 0 {
            0
        } else {
            (self.keys.capacity() * 8 / 7).next_power_of_two()
        };
        buckets * (std::mem::size_of::<KeyHash>() + 1)
            + self.blueprints.iter().map(|b| b.capacity() + 48).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_told_apart_by_blueprint_and_identifier() {
        let mut seen = Seen::default();
        seen.add("repo", "a/b");
        assert!(seen.contains("repo", "a/b"));
        assert!(!seen.contains("commit", "a/b"));
        assert!(!seen.contains("repo", "a/c"));
        assert_ne!(key_hash("ab", "c"), key_hash("a", "bc"));
        assert_eq!(seen.blueprints().collect::<Vec<_>>(), ["repo"]);
    }

    #[test]
    fn a_hundred_thousand_keys_take_about_twenty_bytes_each() {
        let mut seen = Seen::default();
        for n in 0..100_000 {
            seen.add("codecov_repository", &format!("github/owner-{}/repo-{n}", n % 10));
        }
        assert_eq!(seen.len(), 100_000, "no collisions among these");
        let per_entity = seen.heap_bytes() as f64 / 100_000.0;
        assert!(per_entity < 48.0, "{per_entity} bytes an entity");
    }
}
