//! Module provenance: publisher signatures carried inside the module.
//!
//! Digests are always checked (a Host runs only the bytes whose sha256 it was told); a
//! signature says in addition *who* published them. `silverline sign` appends a custom section
//! named [`SECTION`] holding the publisher's ed25519 public key (32 bytes) and a signature
//! (64 bytes) over `silverline-module-v1` and the sha256 of everything before that section.
//! Custom sections do not change what a module does, so a signed module runs anywhere; a Host
//! whose [`TrustPolicy`] is `Require` runs only modules signed by a publisher it trusts.

use crate::signing::{public_key, verify, KeyPair};
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

/// The custom section's name.
pub const SECTION: &str = "silverline.signature";
const CONTEXT: &[u8] = b"silverline-module-v1\0";

/// Whether a Host requires signed modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrustPolicy {
    /// Unsigned modules run; a signature that is present must verify.
    #[default]
    Optional,
    /// Only modules signed by a trusted publisher run.
    Require,
}

impl std::str::FromStr for TrustPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<TrustPolicy, String> {
        match s {
            "optional" => Ok(TrustPolicy::Optional),
            "require" => Ok(TrustPolicy::Require),
            other => Err(format!("unknown module trust policy `{other}`: expected `optional` or `require`")),
        }
    }
}

/// Why a module's provenance was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvenanceError {
    /// Not a Wasm binary, or its sections run past its end.
    #[error("not a well-formed Wasm binary: {0}")]
    Malformed(String),
    /// No signature, and the Host requires one.
    #[error("the module is not signed, and this Host requires modules signed by a trusted publisher")]
    Unsigned,
    /// Signed, but not by a publisher this Host trusts.
    #[error("the module is signed by publisher {0}, whom this Host does not trust")]
    Untrusted(String),
    /// The signature does not match the bytes.
    #[error("the module's signature does not match its contents (tampered after signing)")]
    BadSignature,
}

/// Where the signature section starts, and its contents, if the module has one (it must be
/// the last section).
fn find_signature(wasm: &[u8]) -> Result<Option<(usize, &[u8])>, ProvenanceError> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(ProvenanceError::Malformed("missing the `\\0asm` header".into()));
    }
    let mut at = 8;
    let mut found = None;
    while at < wasm.len() {
        let start = at;
        let id = wasm[at];
        let (size, len) = leb128(&wasm[at + 1..]).ok_or_else(|| ProvenanceError::Malformed(format!("bad section size at byte {at}")))?;
        let body = at + 1 + len;
        let end = body.checked_add(size).filter(|&e| e <= wasm.len()).ok_or_else(|| ProvenanceError::Malformed(format!("section at byte {start} runs past the end")))?;
        found = None;
        if id == 0 {
            let (name_len, n) = leb128(&wasm[body..end]).ok_or_else(|| ProvenanceError::Malformed("bad custom section name".into()))?;
            let name_end = (body + n).checked_add(name_len).filter(|&e| e <= end).ok_or_else(|| ProvenanceError::Malformed("custom section name runs past its section".into()))?;
            if &wasm[body + n..name_end] == SECTION.as_bytes() {
                found = Some((start, &wasm[name_end..end]));
            }
        }
        at = end;
    }
    Ok(found)
}

fn leb128(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().take(5).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return usize::try_from(value).ok().map(|v| (v, i + 1));
        }
    }
    None
}

fn push_leb128(out: &mut Vec<u8>, mut v: usize) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn signed_message(payload: &[u8]) -> Vec<u8> {
    let mut m = CONTEXT.to_vec();
    m.extend_from_slice(&Sha256::digest(payload));
    m
}

/// `wasm` signed by `key`: an existing signature section is replaced.
pub fn sign_module(wasm: &[u8], key: &KeyPair) -> Result<Vec<u8>, ProvenanceError> {
    let payload = match find_signature(wasm)? {
        Some((start, _)) => &wasm[..start],
        None => wasm,
    };
    let public = hex::decode(key.public_hex()).expect("a public key is hex");
    let signature = key.sign(&signed_message(payload));
    let mut contents = Vec::new();
    push_leb128(&mut contents, SECTION.len());
    contents.extend_from_slice(SECTION.as_bytes());
    contents.extend_from_slice(&public);
    contents.extend_from_slice(&signature);
    let mut out = payload.to_vec();
    out.push(0);
    push_leb128(&mut out, contents.len());
    out.extend_from_slice(&contents);
    Ok(out)
}

/// Who signed `wasm` (the publisher's public key, hex), `None` if it is unsigned; an error if
/// a signature is present but does not verify.
pub fn signer(wasm: &[u8]) -> Result<Option<String>, ProvenanceError> {
    let Some((start, contents)) = find_signature(wasm)? else {
        return Ok(None);
    };
    if contents.len() != 96 {
        return Err(ProvenanceError::Malformed(format!("the `{SECTION}` section holds {} bytes, expected 96", contents.len())));
    }
    let publisher = hex::encode(&contents[..32]);
    let key = public_key(&publisher).map_err(|_| ProvenanceError::BadSignature)?;
    if !verify(&key, &signed_message(&wasm[..start]), &contents[32..]) {
        return Err(ProvenanceError::BadSignature);
    }
    Ok(Some(publisher))
}

/// Check `wasm` against a Host's policy and trusted publishers.
pub fn check(wasm: &[u8], policy: TrustPolicy, trusted: &[VerifyingKey]) -> Result<Option<String>, ProvenanceError> {
    match (signer(wasm)?, policy) {
        (None, TrustPolicy::Optional) => Ok(None),
        (None, TrustPolicy::Require) => Err(ProvenanceError::Unsigned),
        (Some(publisher), _) => {
            let known = trusted.iter().any(|k| hex::encode(k.to_bytes()) == publisher);
            match (known, policy) {
                (true, _) => Ok(Some(publisher)),
                (false, TrustPolicy::Optional) if trusted.is_empty() => Ok(Some(publisher)),
                (false, _) => Err(ProvenanceError::Untrusted(publisher)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // (module (func (export "f")))
    const MODULE: &[u8] = &[0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 5, 1, 1, 102, 0, 0, 10, 4, 1, 2, 0, 11];

    #[test]
    fn signed_modules_verify_and_stay_valid_wasm() {
        let key = KeyPair::generate();
        let signed = sign_module(MODULE, &key).unwrap();
        assert_eq!(signer(&signed).unwrap(), Some(key.public_hex()));
        assert!(signed.starts_with(MODULE));
        let resigned = sign_module(&signed, &KeyPair::generate()).unwrap();
        assert_eq!(resigned.len(), signed.len(), "re-signing replaces the signature");
        let trusted = [public_key(&key.public_hex()).unwrap()];
        assert!(check(&signed, TrustPolicy::Require, &trusted).is_ok());
        assert_eq!(check(MODULE, TrustPolicy::Require, &trusted), Err(ProvenanceError::Unsigned));
        assert_eq!(check(MODULE, TrustPolicy::Optional, &trusted), Ok(None));
        assert!(matches!(check(&resigned, TrustPolicy::Require, &trusted), Err(ProvenanceError::Untrusted(_))));
    }

    #[test]
    fn tampering_is_detected() {
        let key = KeyPair::generate();
        let mut signed = sign_module(MODULE, &key).unwrap();
        signed[22] ^= 1; // the export's name: `f` becomes `g`
        assert_eq!(signer(&signed), Err(ProvenanceError::BadSignature));
        assert!(matches!(signer(b"\0asm\x01\0\0\0\x01\xff"), Err(ProvenanceError::Malformed(_))));
        assert!(matches!(signer(b"nope"), Err(ProvenanceError::Malformed(_))));
    }
}
