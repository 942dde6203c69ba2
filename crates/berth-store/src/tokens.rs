//! Opaque bearer tokens (sessions, personal API tokens, service tokens): 32 random bytes shown
//! once to their owner, stored only as a SHA-256 hash. A lookup hashes the presented token and
//! finds it by that hash; the hash is compared by the database's unique index, never by a
//! byte-by-byte loop in the application.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use berth_domain::SecretString;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What kind of token a string is, told by its prefix so a leaked token is recognisable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Session,
    Api,
    Service,
    Webhook,
}

impl TokenKind {
    pub const fn prefix(&self) -> &'static str {
        match self {
            Self::Session => "berth_s_",
            Self::Api => "berth_p_",
            Self::Service => "berth_svc_",
            Self::Webhook => "berth_wh_",
        }
    }
}

/// A new random token of the given kind.
pub fn generate(kind: TokenKind) -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    SecretString::new(format!(
        "{}{}",
        kind.prefix(),
        URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// The hex SHA-256 of a token: what is stored and looked up.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hash_stably() {
        let a = generate(TokenKind::Api);
        let b = generate(TokenKind::Api);
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("berth_p_"));
        assert_eq!(hash(a.expose()), hash(a.expose()));
        assert_eq!(hash(a.expose()).len(), 64);
        assert_ne!(hash(a.expose()), hash(b.expose()));
    }
}
