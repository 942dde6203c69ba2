//! DNS-01 answers by RFC 2136 dynamic updates signed with TSIG (RFC 8945, HMAC-SHA256), as BIND,
//! Knot and PowerDNS accept them. Messages go over TCP, so no answer is ever truncated.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::AcmeError;

const TYPE_SOA: u16 = 6;
const TYPE_TXT: u16 = 16;
const TYPE_TSIG: u16 = 250;
const CLASS_IN: u16 = 1;
const CLASS_NONE: u16 = 254;
const CLASS_ANY: u16 = 255;
const OPCODE_UPDATE: u16 = 5;
const ALGORITHM: &str = "hmac-sha256.";
const FUDGE: u16 = 300;

/// Where and how to update a zone.
#[derive(Clone)]
pub struct Rfc2136 {
    /// The primary server of the zone.
    pub server: SocketAddr,
    /// The zone the records live in, such as `example.com`.
    pub zone: String,
    /// The TSIG key's name, as the server knows it.
    pub key_name: String,
    /// The TSIG key (HMAC-SHA256), raw bytes.
    secret: Vec<u8>,
}

impl std::fmt::Debug for Rfc2136 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rfc2136")
            .field("server", &self.server)
            .field("zone", &self.zone)
            .field("key_name", &self.key_name)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl Rfc2136 {
    /// `secret_base64` is the key as BIND's `tsig-keygen` prints it.
    pub fn new(
        server: SocketAddr,
        zone: &str,
        key_name: &str,
        secret_base64: &str,
    ) -> Result<Self, AcmeError> {
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret_base64.trim())
            .map_err(|_| AcmeError::Config("the TSIG secret is not base64".into()))?;
        if secret.is_empty() {
            return Err(AcmeError::Config("the TSIG secret is empty".into()));
        }
        for (what, name) in [("zone", zone), ("TSIG key name", key_name)] {
            encode_name(name).map_err(|e| AcmeError::Config(format!("the {what}: {e}")))?;
        }
        Ok(Self {
            server,
            zone: zone.trim_end_matches('.').to_ascii_lowercase(),
            key_name: key_name.trim_end_matches('.').to_ascii_lowercase(),
            secret,
        })
    }

    /// Whether `name` lies in this zone.
    pub fn covers(&self, name: &str) -> bool {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name == self.zone || name.ends_with(&format!(".{}", self.zone))
    }

    /// Adds the TXT record `value` at `name`.
    pub async fn add_txt(&self, name: &str, value: &str, ttl: u32) -> Result<(), AcmeError> {
        let mut rdata = Vec::with_capacity(value.len() + 1);
        let bytes = value.as_bytes();
        if bytes.len() > 255 {
            return Err(AcmeError::Dns("a TXT value longer than 255 bytes".into()));
        }
        rdata.push(bytes.len() as u8);
        rdata.extend_from_slice(bytes);
        self.update(name, CLASS_IN, ttl, &rdata).await
    }

    /// Deletes the TXT record `value` at `name` (other values there stay).
    pub async fn remove_txt(&self, name: &str, value: &str) -> Result<(), AcmeError> {
        let mut rdata = Vec::with_capacity(value.len() + 1);
        rdata.push(value.len().min(255) as u8);
        rdata.extend_from_slice(&value.as_bytes()[..value.len().min(255)]);
        self.update(name, CLASS_NONE, 0, &rdata).await
    }

    async fn update(
        &self,
        name: &str,
        class: u16,
        ttl: u32,
        rdata: &[u8],
    ) -> Result<(), AcmeError> {
        if !self.covers(name) {
            return Err(AcmeError::Dns(format!(
                "{name} is not in the zone {}",
                self.zone
            )));
        }
        let id: u16 = rand::random();
        let mut msg = Vec::with_capacity(256);
        msg.extend_from_slice(&id.to_be_bytes());
        msg.extend_from_slice(&(OPCODE_UPDATE << 11).to_be_bytes());
        for count in [1u16, 0, 1, 0] {
            msg.extend_from_slice(&count.to_be_bytes());
        }
        // Zone section.
        msg.extend(encode_name(&self.zone).map_err(AcmeError::Dns)?);
        msg.extend_from_slice(&TYPE_SOA.to_be_bytes());
        msg.extend_from_slice(&CLASS_IN.to_be_bytes());
        // Update section: one record.
        msg.extend(encode_name(name).map_err(AcmeError::Dns)?);
        msg.extend_from_slice(&TYPE_TXT.to_be_bytes());
        msg.extend_from_slice(&class.to_be_bytes());
        msg.extend_from_slice(&ttl.to_be_bytes());
        msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        msg.extend_from_slice(rdata);
        let signed = self.sign(msg, id)?;
        let answer = tokio::time::timeout(Duration::from_secs(10), self.exchange(&signed))
            .await
            .map_err(|_| AcmeError::Dns(format!("{} did not answer within 10 s", self.server)))??;
        if answer.len() < 12 || answer[..2] != id.to_be_bytes() {
            return Err(AcmeError::Dns(format!(
                "{} gave an answer that is not to this update",
                self.server
            )));
        }
        let rcode = answer[3] & 0x0f;
        match rcode {
            0 => Ok(()),
            n => Err(AcmeError::Dns(format!(
                "{} refused the update: {}",
                self.server,
                rcode_name(n)
            ))),
        }
    }

    /// Appends the TSIG record and sets the additional count.
    fn sign(&self, mut msg: Vec<u8>, id: u16) -> Result<Vec<u8>, AcmeError> {
        let key_name = encode_name(&self.key_name).map_err(AcmeError::Dns)?;
        let algorithm = encode_name(ALGORITHM).map_err(AcmeError::Dns)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| AcmeError::Dns("the clock is before 1970".into()))?
            .as_secs();
        let time = &now.to_be_bytes()[2..];
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .map_err(|_| AcmeError::Config("the TSIG secret cannot be used".into()))?;
        mac.update(&msg);
        mac.update(&key_name);
        mac.update(&CLASS_ANY.to_be_bytes());
        mac.update(&0u32.to_be_bytes());
        mac.update(&algorithm);
        mac.update(time);
        mac.update(&FUDGE.to_be_bytes());
        mac.update(&0u16.to_be_bytes()); // error
        mac.update(&0u16.to_be_bytes()); // other length
        let digest = mac.finalize().into_bytes();
        let mut rdata = Vec::with_capacity(64 + digest.len());
        rdata.extend(&algorithm);
        rdata.extend_from_slice(time);
        rdata.extend_from_slice(&FUDGE.to_be_bytes());
        rdata.extend_from_slice(&(digest.len() as u16).to_be_bytes());
        rdata.extend_from_slice(&digest);
        rdata.extend_from_slice(&id.to_be_bytes());
        rdata.extend_from_slice(&0u16.to_be_bytes());
        rdata.extend_from_slice(&0u16.to_be_bytes());
        msg.extend(&key_name);
        msg.extend_from_slice(&TYPE_TSIG.to_be_bytes());
        msg.extend_from_slice(&CLASS_ANY.to_be_bytes());
        msg.extend_from_slice(&0u32.to_be_bytes());
        msg.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        msg.extend(rdata);
        msg[10..12].copy_from_slice(&1u16.to_be_bytes());
        Ok(msg)
    }

    async fn exchange(&self, msg: &[u8]) -> Result<Vec<u8>, AcmeError> {
        let io = |e: std::io::Error| AcmeError::Dns(format!("{}: {e}", self.server));
        let mut s = tokio::net::TcpStream::connect(self.server)
            .await
            .map_err(io)?;
        let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(msg);
        s.write_all(&framed).await.map_err(io)?;
        let len = s.read_u16().await.map_err(io)?;
        let mut answer = vec![0; usize::from(len)];
        s.read_exact(&mut answer).await.map_err(io)?;
        Ok(answer)
    }
}

/// A name in DNS wire form (lower case, absolute).
fn encode_name(name: &str) -> Result<Vec<u8>, String> {
    let name = name.trim_end_matches('.');
    let mut out = Vec::with_capacity(name.len() + 2);
    if !name.is_empty() {
        for label in name.split('.') {
            let b = label.as_bytes();
            if b.is_empty() || b.len() > 63 {
                return Err(format!("{name:?} is not a domain name"));
            }
            if !b
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_'))
            {
                return Err(format!("{name:?} is not a domain name"));
            }
            out.push(b.len() as u8);
            out.extend(b.iter().map(u8::to_ascii_lowercase));
        }
    }
    out.push(0);
    if out.len() > 255 {
        return Err(format!("{name:?} is too long"));
    }
    Ok(out)
}

fn rcode_name(n: u8) -> &'static str {
    match n {
        1 => "FORMERR (the server could not read it)",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP (the server does not take dynamic updates)",
        5 => "REFUSED (the key may not update this zone)",
        9 => "NOTAUTH (the TSIG key or signature was not accepted, or the server is not authoritative)",
        10 => "NOTZONE (the name is not in the zone)",
        _ => "an error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_and_checked() {
        assert_eq!(
            encode_name("_acme-challenge.Example.com.").unwrap(),
            b"\x0f_acme-challenge\x07example\x03com\x00"
        );
        assert!(encode_name("a..b").is_err());
        assert!(encode_name("a b.com").is_err());
    }

    #[test]
    fn a_zone_covers_its_names_only() {
        let z = Rfc2136::new("127.0.0.1:53".parse().unwrap(), "test.", "k", "c2VjcmV0").unwrap();
        assert!(z.covers("_acme-challenge.shop.test"));
        assert!(z.covers("test"));
        assert!(!z.covers("contest"));
        assert!(format!("{z:?}").contains("[redacted]"));
    }
}
