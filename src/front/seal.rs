//! Self-contained session ids: what a handshake settled, sealed with
//! AES-256-GCM, so that any replica holding the key (`[cluster] session_key`)
//! can resume a session another replica made, with nothing shared between
//! them at run time.
//!
//! An id is `<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id (the
//! first 8 hex digits of the key's SHA-256) says which key sealed it, so keys
//! can be rotated: the current one seals, it and the previous ones open. The
//! nonce is 96 random bits, new for every id. The sealed text is a small JSON
//! object: the negotiated revision, the client's capabilities, the principal
//! the session belongs to, the replica that made it, when, and 128 random bits
//! that make every id unique. An id that does not open (tampered with, sealed
//! with a foreign key, truncated) is simply unknown: a 404, like any session
//! id no replica has.
//!
//! The keys are expanded once, at start ([`Sealer::new`]); sealing and opening
//! are one AEAD operation each, and an id is opened only by a replica that
//! does not hold its session yet.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::SessionKey;
use crate::service::Handshake;

/// The largest id accepted for opening: a client's capabilities are small,
/// and anything much longer is not one of ours.
const MAX_ID_LEN: usize = 8 * 1024;

/// What an id carries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sealed {
    /// The negotiated revision.
    #[serde(rename = "r")]
    pub revision: String,
    /// The client's capabilities, as it sent them.
    #[serde(rename = "c")]
    pub capabilities: Box<serde_json::value::RawValue>,
    /// The principal the session belongs to.
    #[serde(rename = "p")]
    pub principal: String,
    /// The replica that made it.
    #[serde(rename = "o")]
    pub owner: String,
    /// When, in Unix seconds.
    #[serde(rename = "t")]
    pub issued: i64,
    /// Random: two sessions with the same handshake get different ids.
    #[serde(rename = "n")]
    pub nonce: String,
}

impl Sealed {
    pub fn handshake(&self) -> Handshake {
        Handshake { revision: self.revision.clone(), capabilities: self.capabilities.get().to_owned() }
    }
}

struct Key {
    id: String,
    key: LessSafeKey,
}

/// Seals and opens session ids with this replica's keys.
pub struct Sealer {
    current: Key,
    previous: Vec<Key>,
    replica: String,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("key", &self.current.id).field("replica", &self.replica).finish()
    }
}

impl Sealer {
    /// `current` seals; it and `previous` open. `replica` is written into
    /// every id this one seals.
    pub fn new(current: &SessionKey, previous: &[SessionKey], replica: &str) -> Sealer {
        Sealer { current: key(current), previous: previous.iter().map(key).collect(), replica: replica.to_owned() }
    }

    /// A new session id for `principal`'s session with this handshake.
    pub fn seal(&self, principal: &str, handshake: &Handshake) -> Option<String> {
        let capabilities = serde_json::value::RawValue::from_string(handshake.capabilities.clone()).ok()?;
        let sealed = Sealed {
            revision: handshake.revision.clone(),
            capabilities,
            principal: principal.to_owned(),
            owner: self.replica.clone(),
            issued: now_unix(),
            nonce: hex(&rand::random::<[u8; 16]>()),
        };
        let mut in_out = serde_json::to_vec(&sealed).ok()?;
        let nonce: [u8; NONCE_LEN] = rand::random();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(self.current.id.as_bytes()),
                &mut in_out,
            )
            .ok()?;
        let mut body = Vec::with_capacity(NONCE_LEN + in_out.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&in_out);
        Some(format!("{}.{}", self.current.id, URL_SAFE_NO_PAD.encode(body)))
    }

    /// What `id` carries, if one of these keys sealed it and nobody changed it.
    pub fn open(&self, id: &str) -> Option<Sealed> {
        if id.len() > MAX_ID_LEN {
            return None;
        }
        let (kid, body) = id.split_once('.')?;
        let key = std::iter::once(&self.current).chain(&self.previous).find(|k| k.id == kid)?;
        let mut body = URL_SAFE_NO_PAD.decode(body).ok()?;
        if body.len() < NONCE_LEN {
            return None;
        }
        let mut ciphertext = body.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&body).ok()?;
        let plain = key.key.open_in_place(nonce, Aad::from(key.id.as_bytes()), &mut ciphertext).ok()?;
        serde_json::from_slice(plain).ok()
    }
}

fn key(k: &SessionKey) -> Key {
    let id = hex(&Sha256::digest(k.0)[..4]);
    // An AES-256 key is any 32 bytes: `new` cannot fail for them.
    let unbound = UnboundKey::new(&AES_256_GCM, &k.0).unwrap_or_else(|_| unreachable!("AES-256 takes 32 bytes"));
    Key { id, key: LessSafeKey::new(unbound) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> Handshake {
        Handshake { revision: "2025-11-25".into(), capabilities: r#"{"sampling":{},"x-custom":[1,2]}"#.into() }
    }

    #[test]
    fn an_id_opens_to_what_was_sealed_on_any_replica_with_the_key() {
        let k = SessionKey([7; 32]);
        let a = Sealer::new(&k, &[], "a");
        let b = Sealer::new(&k, &[], "b");
        let id = a.seal("alice", &handshake()).unwrap_or_default();
        assert!(id.is_ascii() && !id.contains([' ', ',', ';']), "{id}");
        let opened = b.open(&id).unwrap_or_else(|| panic!("b cannot open {id}"));
        assert_eq!(opened.handshake(), handshake());
        assert_eq!((opened.principal.as_str(), opened.owner.as_str()), ("alice", "a"));
        assert_ne!(a.seal("alice", &handshake()), Some(id), "every id is new");
    }

    #[test]
    fn tampered_foreign_and_garbled_ids_do_not_open() {
        let k = SessionKey([7; 32]);
        let sealer = Sealer::new(&k, &[], "a");
        let id = sealer.seal("alice", &handshake()).unwrap_or_default();
        let (kid, body) = id.split_once('.').unwrap_or_default();
        // One character changed anywhere in the body.
        for i in [0, body.len() / 2, body.len() - 1] {
            let mut chars: Vec<char> = body.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let tampered = format!("{kid}.{}", chars.into_iter().collect::<String>());
            assert!(sealer.open(&tampered).is_none(), "{tampered}");
        }
        let foreign = Sealer::new(&SessionKey([8; 32]), &[], "x");
        assert!(foreign.open(&id).is_none());
        // The same body under another key id.
        let other = Sealer::new(&SessionKey([8; 32]), std::slice::from_ref(&k), "x");
        let forged = format!("{}.{body}", other.current.id);
        assert!(other.open(&forged).is_none());
        for garbled in ["", ".", "abc", "00000000.", "00000000.!!!", &"a".repeat(MAX_ID_LEN + 1)] {
            assert!(sealer.open(garbled).is_none(), "{garbled:?}");
        }
        // A random id as minted without a key is simply unknown.
        assert!(sealer.open("5f0c2a9d8e7b6a5f4e3d2c1b0a998877").is_none());
    }

    #[test]
    fn a_rotated_key_still_opens_what_it_sealed() {
        let old = SessionKey([1; 32]);
        let new = SessionKey([2; 32]);
        let before = Sealer::new(&old, &[], "a").seal("bob", &handshake()).unwrap_or_default();
        let after = Sealer::new(&new, &[old], "a");
        assert_eq!(after.open(&before).map(|s| s.principal), Some("bob".into()));
        let sealed_now = after.seal("bob", &handshake()).unwrap_or_default();
        assert!(sealed_now.starts_with(&after.current.id), "the current key seals");
        assert!(Sealer::new(&new, &[], "b").open(&before).is_none(), "once dropped, the old key opens nothing");
    }
}
