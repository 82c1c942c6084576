//! `X-Hub-Signature-256`: HMAC-SHA256 of the raw request body with the app secret.
//!
//! Always verify the bytes exactly as received. Meta escapes non-ASCII characters as
//! `\u00e4`, so JSON that is parsed and serialised again no longer matches the signature.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The header prefix Meta uses.
const PREFIX: &str = "sha256=";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("the X-Hub-Signature-256 header does not match the body")]
    Mismatch,
}

fn mac(app_secret: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    HmacSha256::new_from_slice(app_secret).expect("HMAC takes keys of any length")
}

/// Checks `header` (`sha256=<hex>`) against the HMAC-SHA256 of `raw_body`, in constant time.
pub fn verify(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let hex_digest = header
        .strip_prefix(PREFIX)
        .or_else(|| {
            // Tolerate an upper-case algorithm name; the digest itself is checked below.
            header
                .get(..PREFIX.len())
                .filter(|p| p.eq_ignore_ascii_case(PREFIX))
                .map(|_| &header[PREFIX.len()..])
        })
        .ok_or(SignatureError::Malformed)?;
    if hex_digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(hex_digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(app_secret);
    mac.update(raw_body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

/// The header value Meta would send for `raw_body`: `sha256=<lower-case hex>`.
pub fn sign(app_secret: &[u8], raw_body: &[u8]) -> String {
    let mut mac = mac(app_secret);
    mac.update(raw_body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret-123";

    #[test]
    fn round_trip() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign(SECRET, body);
        assert!(header.starts_with("sha256="));
        assert_eq!(header.len(), 7 + 64);
        assert_eq!(verify(SECRET, body, Some(&header)), Ok(()));
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn upper_case_hex_is_accepted() {
        let body = b"{}";
        let header = sign(SECRET, body).to_uppercase();
        assert_eq!(verify(SECRET, body, Some(&header)), Ok(()));
    }

    #[test]
    fn wrong_secret_is_a_mismatch() {
        let body = b"{\"a\":1}";
        let header = sign(b"another secret", body);
        assert_eq!(
            verify(SECRET, body, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn tampered_body_is_a_mismatch() {
        let body = br#"{"text":{"body":"hallo"}}"#;
        let header = sign(SECRET, body);
        let tampered = br#"{"text":{"body":"hallO"}}"#;
        assert_eq!(
            verify(SECRET, tampered, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn escaped_non_ascii_is_verified_on_the_raw_bytes() {
        // Meta sends "ä" as the six ASCII bytes \u00e4.
        let raw = br#"{"text":{"body":"Ik wil een paspoort aanvragen in M\u00e4rz \ud83d\ude00"}}"#;
        let header = sign(SECRET, raw);
        assert_eq!(verify(SECRET, raw, Some(&header)), Ok(()));
        // Re-serialising the parsed JSON produces UTF-8 and no longer matches.
        let value: serde_json::Value = serde_json::from_slice(raw).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        assert_ne!(reserialised, raw.to_vec());
        assert_eq!(
            verify(SECRET, &reserialised, Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn missing_header() {
        assert_eq!(verify(SECRET, b"{}", None), Err(SignatureError::Missing));
        assert_eq!(
            verify(SECRET, b"{}", Some("  ")),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn malformed_headers() {
        let good = sign(SECRET, b"{}");
        let hex_part = &good[7..];
        for bad in [
            hex_part.to_string(),                    // no prefix
            format!("sha1={hex_part}"),              // wrong algorithm
            "sha256=".to_string(),                   // empty digest
            format!("sha256={}", &hex_part[..62]),   // too short
            format!("sha256={}zz", &hex_part[..62]), // not hex
        ] {
            assert_eq!(
                verify(SECRET, b"{}", Some(&bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
