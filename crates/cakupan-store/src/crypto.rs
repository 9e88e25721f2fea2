//! Field encryption at rest and blind indexes (issue #4, DESIGN.md §7).
//!
//! Personal fields (NIK, name, birth date, phone, income; heirs' name, NIK and phone) are
//! stored as XChaCha20-Poly1305 ciphertexts bound to their table, row and column (the
//! associated data), so a ciphertext copied to another row or column does not decrypt. NIK and
//! phone are found through keyed blind indexes (HMAC-SHA-256, 16 bytes): equal values give
//! equal indexes, and without the key an index reveals nothing about the NIK.
//!
//! Keys never enter the database. A key file holds one index key and one or more encryption
//! keys by version; the newest version encrypts, every listed version decrypts, and
//! `cakupan keys rotate` re-encrypts rows still under an older one:
//!
//! ```text
//! index:<64 hex digits>
//! v1:<64 hex digits>
//! v2:<64 hex digits>
//! ```

use crate::{Result, StoreError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

const NONCE: usize = 24;

/// The keys of one deployment.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Keys {
    index: [u8; 32],
    /// (version, key), newest last.
    encryption: Vec<(u32, [u8; 32])>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keys {{ versions: {:?} }}",
            self.encryption.iter().map(|k| k.0).collect::<Vec<_>>()
        )
    }
}

fn key_error(m: String) -> StoreError {
    StoreError::Keys(m)
}

fn hex32(s: &str, what: &str) -> Result<[u8; 32]> {
    let v = hex::decode(s.trim()).map_err(|_| key_error(format!("{what} is not hex")))?;
    v.try_into()
        .map_err(|_| key_error(format!("{what} must be 32 bytes (64 hex digits)")))
}

impl Keys {
    /// Parses a key file's text (see the module documentation).
    pub fn parse(text: &str) -> Result<Keys> {
        let mut index = None;
        let mut encryption = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| key_error(format!("line {}: expected name:hex", n + 1)))?;
            match name.trim() {
                "index" => index = Some(hex32(value, "the index key")?),
                v => {
                    let version: u32 = v
                        .strip_prefix('v')
                        .and_then(|x| x.parse().ok())
                        .filter(|x| *x > 0)
                        .ok_or_else(|| {
                            key_error(format!(
                                "line {}: '{v}' is neither index nor v<number>",
                                n + 1
                            ))
                        })?;
                    if encryption.iter().any(|(x, _)| *x == version) {
                        return Err(key_error(format!("version v{version} appears twice")));
                    }
                    encryption.push((version, hex32(value, &format!("key v{version}"))?));
                }
            }
        }
        encryption.sort_by_key(|k| k.0);
        let index = index.ok_or_else(|| key_error("no index key".into()))?;
        if encryption.is_empty() {
            return Err(key_error("no encryption key (v1:…)".into()));
        }
        Ok(Keys { index, encryption })
    }

    /// A new key file's text: a random index key and a random v1.
    pub fn generate() -> Result<String> {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        getrandom::fill(&mut a).map_err(|e| key_error(e.to_string()))?;
        getrandom::fill(&mut b).map_err(|e| key_error(e.to_string()))?;
        let text = format!(
            "# Cakupan keys: keep outside the database, readable by the service only.\nindex:{}\nv1:{}\n",
            hex::encode(a),
            hex::encode(b)
        );
        a.zeroize();
        b.zeroize();
        Ok(text)
    }

    /// `text` with a new encryption version appended (for rotation).
    pub fn add_version(text: &str) -> Result<(String, u32)> {
        let k = Keys::parse(text)?;
        let next = k.current_version() + 1;
        let mut b = [0u8; 32];
        getrandom::fill(&mut b).map_err(|e| key_error(e.to_string()))?;
        let mut out = text.trim_end().to_string();
        out.push_str(&format!("\nv{next}:{}\n", hex::encode(b)));
        b.zeroize();
        Ok((out, next))
    }

    /// The version new ciphertexts are written under.
    pub fn current_version(&self) -> u32 {
        self.encryption.last().map(|k| k.0).unwrap_or(0)
    }

    fn key(&self, version: u32) -> Option<&[u8; 32]> {
        self.encryption
            .iter()
            .find(|k| k.0 == version)
            .map(|k| &k.1)
    }

    fn index_of(&self, domain: &str, value: &str) -> Vec<u8> {
        // HMAC accepts keys of any length.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.index) else {
            return Vec::new();
        };
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes()[..16].to_vec()
    }

    /// The keyed MAC that links the audit chain: HMAC-SHA-256 under a key derived from the
    /// index key (which never rotates), so the chain stays verifiable across encryption key
    /// rotations and cannot be recomputed by someone who can write the table but lacks the
    /// key file.
    pub fn audit_mac(&self) -> Result<Hmac<Sha256>> {
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(&self.index)
            .map_err(|_| key_error("index key unusable".into()))?;
        derive.update(b"cakupan audit chain v1");
        let mut key = derive.finalize().into_bytes();
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(&key)
            .map_err(|_| key_error("audit key unusable".into()));
        key.zeroize();
        mac
    }

    /// A keyed check value of the index key (the key that never rotates: blind indexes and the
    /// audit chain depend on it), recorded in the database at creation so that a database is
    /// never opened with another deployment's keys. It reveals nothing of the key.
    pub fn check_value(&self) -> String {
        hex::encode(self.index_of("key check", "cakupan v1"))
    }

    /// The check code of a receipt (issue #17): six characters of Crockford base 32 (30 bits)
    /// keyed on the posting id, so receipt numbers cannot be guessed from one another.
    pub fn receipt_code(&self, posting_id: i64) -> String {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mac = self.index_of("receipt", &posting_id.to_string());
        let mut bits: u64 = 0;
        for b in mac.iter().take(4) {
            bits = (bits << 8) | u64::from(*b);
        }
        (0..6)
            .map(|i| char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]))
            .collect()
    }

    /// The tag of a SNAP access token's contents (issue #19): 16 bytes of HMAC-SHA-256 under
    /// the index key, so a token cannot be made up without the key file, and every server of
    /// a deployment accepts the tokens of the others.
    pub fn token_tag(&self, contents: &str) -> Vec<u8> {
        self.index_of("snap token", contents)
    }

    /// The blind index of a NIK (its 16 digits).
    pub fn nik_index(&self, nik: &cakupan_domain::Nik) -> Vec<u8> {
        self.index_of("nik", &nik.to_string())
    }

    /// The blind index of one word of a name (`participants::name_words`), for the search by
    /// name (issue #22; its leakage is in docs/security.md).
    pub fn name_word_index(&self, word: &str) -> Vec<u8> {
        self.index_of("name word", word)
    }

    /// A keyed digest of a registration's facts (`Registration::same_registration_text`):
    /// what the bulk load compares two rows of one NIK and segment by, in its staging table.
    pub fn registration_digest(&self, r: &cakupan_domain::participants::Registration) -> Vec<u8> {
        self.index_of("registration", &r.same_registration_text())
    }

    /// The blind index of a phone number (as stored, +62…).
    pub fn phone_index(&self, phone: &str) -> Vec<u8> {
        self.index_of("phone", phone)
    }

    /// Encrypts `plain` for `table`/`row`/`column`: version (4 bytes) ‖ nonce ‖ ciphertext.
    pub fn seal(&self, table: &str, row: i64, column: &str, plain: &str) -> Result<Vec<u8>> {
        let version = self.current_version();
        let key = self
            .key(version)
            .ok_or_else(|| key_error("no encryption key".into()))?;
        let cipher = XChaCha20Poly1305::new(key.into());
        let mut nonce = [0u8; NONCE];
        getrandom::fill(&mut nonce).map_err(|e| key_error(e.to_string()))?;
        let aad = format!("{table}/{row}/{column}/v{version}");
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| StoreError::Corrupt("encryption failed".into()))?;
        let mut out = Vec::with_capacity(4 + NONCE + ct.len());
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts what [`Keys::seal`] wrote for the same table, row and column.
    pub fn open(&self, table: &str, row: i64, column: &str, sealed: &[u8]) -> Result<String> {
        let bad = |why: &str| StoreError::Corrupt(format!("{table} {row} {column}: {why}"));
        if sealed.len() < 4 + NONCE + 16 {
            return Err(bad("ciphertext too short"));
        }
        let version = u32::from_be_bytes([sealed[0], sealed[1], sealed[2], sealed[3]]);
        let key = self.key(version).ok_or_else(|| {
            bad(&format!(
                "encrypted under key v{version}, which the key file does not hold"
            ))
        })?;
        let cipher = XChaCha20Poly1305::new(key.into());
        let aad = format!("{table}/{row}/{column}/v{version}");
        let nonce: [u8; NONCE] = sealed[4..4 + NONCE]
            .try_into()
            .map_err(|_| bad("ciphertext too short"))?;
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &sealed[4 + NONCE..],
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| bad("does not decrypt (wrong key, or moved from another row)"))?;
        String::from_utf8(plain).map_err(|_| bad("not text"))
    }

    /// The key version a ciphertext was written under.
    pub fn version_of(sealed: &[u8]) -> Option<u32> {
        Some(u32::from_be_bytes(sealed.get(..4)?.try_into().ok()?))
    }

    /// Fixed keys for tests and benchmarks only.
    pub fn for_tests() -> Keys {
        Keys {
            index: [7; 32],
            encryption: vec![(1, [9; 32])],
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_fields_are_bound_to_their_place() {
        let k = Keys::parse(&Keys::generate().unwrap()).unwrap();
        let s = k.seal("participants", 7, "name", "Siti Aminah").unwrap();
        assert!(!s.windows(4).any(|w| w == b"Siti"));
        assert_eq!(
            k.open("participants", 7, "name", &s).unwrap(),
            "Siti Aminah"
        );
        assert!(
            k.open("participants", 8, "name", &s).is_err(),
            "another row"
        );
        assert!(
            k.open("participants", 7, "phone", &s).is_err(),
            "another column"
        );
        let mut flipped = s.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(
            k.open("participants", 7, "name", &flipped).is_err(),
            "tampered"
        );
        // Random nonces: the same value seals differently.
        assert_ne!(s, k.seal("participants", 7, "name", "Siti Aminah").unwrap());
        let other = Keys::parse(&Keys::generate().unwrap()).unwrap();
        assert!(
            other.open("participants", 7, "name", &s).is_err(),
            "another key"
        );
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable() {
        let text = Keys::generate().unwrap();
        let v1 = Keys::parse(&text).unwrap();
        let old = v1
            .seal("participants", 1, "nik", "3273015203900003")
            .unwrap();
        let (text2, n) = Keys::add_version(&text).unwrap();
        assert_eq!(n, 2);
        let v2 = Keys::parse(&text2).unwrap();
        assert_eq!(v2.current_version(), 2);
        assert_eq!(
            v2.open("participants", 1, "nik", &old).unwrap(),
            "3273015203900003"
        );
        let new = v2
            .seal("participants", 1, "nik", "3273015203900003")
            .unwrap();
        assert_eq!(Keys::version_of(&new), Some(2));
        // The index key does not rotate: look-ups keep working.
        let nik = cakupan_domain::Nik::parse("3273015203900003").unwrap();
        assert_eq!(v1.nik_index(&nik), v2.nik_index(&nik));
        assert_eq!(v1.nik_index(&nik).len(), 16);
    }

    #[test]
    fn bad_key_files_are_named() {
        for (text, says) in [
            (
                "v1:0000000000000000000000000000000000000000000000000000000000000000",
                "no index key",
            ),
            ("index:zz", "not hex"),
            (
                "index:0000000000000000000000000000000000000000000000000000000000000000",
                "no encryption key",
            ),
            ("index:00\nv1:00", "32 bytes"),
            ("key:00", "neither index nor"),
        ] {
            let e = Keys::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
    }
}
