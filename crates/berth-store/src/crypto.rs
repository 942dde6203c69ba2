//! Secrets at rest: AES-256-GCM with a fresh random 96-bit nonce for every value. A stored
//! value is `version (1 byte) || nonce (12 bytes) || ciphertext and tag`. The key comes from
//! configuration; when none is configured berth generates one on first start and keeps it in a
//! file of the data directory readable by its owner only.

use std::fmt;
use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the secret key must be 32 bytes encoded in base64")]
    BadKey,
    #[error(
        "a stored secret could not be decrypted: it is damaged or was written under another key"
    )]
    Decrypt,
    #[error("the secret key file {path}: {source}")]
    KeyFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The 256-bit key that protects every secret. `Debug` never shows it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        Self(key.into())
    }

    /// A key written as base64 (as in the configuration or the key file).
    pub fn from_base64(s: &str) -> Result<Self, CryptoError> {
        let bytes = STANDARD.decode(s.trim()).map_err(|_| CryptoError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        Ok(Self(key))
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Reads the key from `path`, or creates that file with a new key (mode 0600) when it does
    /// not exist yet.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let file_err = |source| CryptoError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(s) => Self::from_base64(&s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut f = options.open(path).map_err(file_err)?;
                f.write_all(key.to_base64().as_bytes()).map_err(file_err)?;
                f.sync_all().map_err(file_err)?;
                Ok(key)
            }
            Err(e) => Err(file_err(e)),
        }
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

/// Encrypts and decrypts secret values under the master key.
#[derive(Clone)]
pub struct Cipher {
    aead: Aes256Gcm,
}

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher")
    }
}

impl Cipher {
    pub fn new(key: &MasterKey) -> Self {
        Self {
            aead: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0)),
        }
    }

    pub fn encrypt(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption with a valid key and nonce cannot fail for in-memory data.
        let ciphertext = self
            .aead
            .encrypt(&nonce, plaintext)
            .unwrap_or_else(|_| unreachable!("AES-GCM encryption of a buffer does not fail"));
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn decrypt(&self, stored: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if stored.len() < 1 + NONCE_LEN || stored[0] != VERSION {
            return Err(CryptoError::Decrypt);
        }
        let nonce = Nonce::from_slice(&stored[1..1 + NONCE_LEN]);
        self.aead
            .decrypt(nonce, &stored[1 + NONCE_LEN..])
            .map_err(|_| CryptoError::Decrypt)
    }

    pub fn encrypt_str(&self, plaintext: &str) -> Vec<u8> {
        self.encrypt(plaintext.as_bytes())
    }

    pub fn decrypt_str(&self, stored: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.decrypt(stored)?).map_err(|_| CryptoError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let c = Cipher::new(&MasterKey::generate());
        let a = c.encrypt_str("s3cret");
        let b = c.encrypt_str("s3cret");
        assert_ne!(a, b, "the same value encrypts differently each time");
        assert!(!a.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(c.decrypt_str(&a).unwrap(), "s3cret");
    }

    #[test]
    fn tampering_and_wrong_keys_are_detected() {
        let c = Cipher::new(&MasterKey::generate());
        let mut v = c.encrypt_str("value");
        let last = v.len() - 1;
        v[last] ^= 1;
        assert!(c.decrypt(&v).is_err());
        let other = Cipher::new(&MasterKey::generate());
        assert!(other.decrypt(&c.encrypt_str("value")).is_err());
        assert!(c.decrypt(&[1, 2, 3]).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let k1 = MasterKey::load_or_create(&path).unwrap();
        let k2 = MasterKey::load_or_create(&path).unwrap();
        assert_eq!(k1.to_base64(), k2.to_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{k1:?}"), "MasterKey([redacted])");
        assert!(MasterKey::from_base64("short").is_err());
    }
}
