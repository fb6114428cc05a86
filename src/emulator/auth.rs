//! Tokens, service-account keys and JWT verification.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tonic::Status;

use super::text::echo;
use crate::region::Region;

/// Audiences a service-account JWT may name: every region's
/// [`Region::jwt_audience`]. The emulator also accepts
/// [`jwt_audience_for`](crate::region::jwt_audience_for) of its own
/// `host:port`, which is what SDKs derive from the API endpoint they are
/// pointed at.
pub const JWT_AUDIENCES: [&str; Region::ALL.len()] = {
    let mut audiences = [""; Region::ALL.len()];
    let mut i = 0;
    while i < audiences.len() {
        audiences[i] = Region::ALL[i].jwt_audience();
        i += 1;
    }
    audiences
};

/// Longest accepted lifetime (`exp - iat`) of a service-account JWT.
pub const MAX_JWT_LIFETIME_SECS: i64 = 3600;

/// Clock skew, in seconds, tolerated on a JWT's `exp` and `nbf`: a token is
/// rejected once `exp + 5 <= now`, and while `nbf > now + 5`.
pub const JWT_LEEWAY_SECS: i64 = 5;

/// The first line of the `private_key` of a Yandex Cloud key file.
pub const PRIVATE_KEY_PREFIX: &str = "PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID ";

/// An authorized key of a service account, in the JSON format the Yandex
/// Cloud console and `yc iam key create` produce.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, derive_more::Debug)]
pub struct ServiceAccountKeyFile {
    /// Key id (the JWT `kid`).
    pub id: String,
    /// Service account id (the JWT `iss`).
    pub service_account_id: String,
    /// Creation time, RFC 3339.
    pub created_at: String,
    /// Always `RSA_2048`.
    pub key_algorithm: String,
    /// SPKI PEM public key.
    pub public_key: String,
    /// PKCS#8 PEM private key preceded by the "PLEASE DO NOT REMOVE THIS LINE!" line.
    #[debug("{:?}", "<redacted>")]
    pub private_key: String,
}

impl ServiceAccountKeyFile {
    /// Generates a fresh RSA-2048 key for `service_account_id`, created now.
    pub fn generate(service_account_id: &str) -> Self {
        Self::generate_at(service_account_id, SystemTime::now())
    }

    /// [`generate`](Self::generate) with the creation time given (the
    /// emulator's clock).
    pub(crate) fn generate_at(service_account_id: &str, created_at: SystemTime) -> Self {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let key =
            rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key generation");
        let private = key.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 encoding");
        let public = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("SPKI encoding");
        let id = format!("ajekey{}", &uuid::Uuid::new_v4().simple().to_string()[..14]);
        Self {
            private_key: format!("{PRIVATE_KEY_PREFIX}{id}\n{}", private.as_str()),
            id,
            service_account_id: service_account_id.to_string(),
            created_at: rfc3339(created_at),
            key_algorithm: "RSA_2048".into(),
            public_key: public,
        }
    }

    /// The key file as JSON, in the real format.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("key file serialises")
    }

    /// Parses a key file.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The PKCS#8 PEM private key without the leading warning line.
    pub fn private_key_pem(&self) -> &str {
        match self.private_key.strip_prefix(PRIVATE_KEY_PREFIX) {
            Some(rest) => rest.split_once('\n').map_or(rest, |(_, pem)| pem),
            None => &self.private_key,
        }
    }
}

/// Formats a time as RFC 3339 UTC, seconds precision (as key files have it).
pub(crate) fn rfc3339(t: SystemTime) -> String {
    let seconds = prost_types::Timestamp::from(t).seconds;
    prost_types::Timestamp { seconds, nanos: 0 }.to_string()
}

#[derive(Deserialize)]
struct Claims {
    iat: i64,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
}

/// Verifies a service-account JWT. `lookup` maps a key id to
/// `(service_account_id, public_key_pem)`; `own_audiences` are accepted
/// besides [`JWT_AUDIENCES`]. Returns the service account id.
pub(crate) fn verify_jwt(
    jwt: &str,
    now: SystemTime,
    own_audiences: &[String],
    lookup: impl Fn(&str) -> Option<(String, String)>,
) -> Result<String, Status> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
    let unauth = |m: String| Status::unauthenticated(format!("invalid JWT: {m}"));
    let header = decode_header(jwt).map_err(|e| unauth(format!("malformed: {e}")))?;
    if header.alg != Algorithm::PS256 {
        return Err(unauth(format!(
            "algorithm must be PS256, got {:?}",
            header.alg
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| unauth("header has no kid".into()))?;
    let (sa_id, public_pem) =
        lookup(&kid).ok_or_else(|| unauth(format!("unknown key id {}", echo(&kid))))?;
    let key = DecodingKey::from_rsa_pem(public_pem.as_bytes())
        .map_err(|e| Status::internal(format!("stored public key unusable: {e}")))?;
    let mut validation = Validation::new(Algorithm::PS256);
    let audiences: Vec<&str> = JWT_AUDIENCES
        .iter()
        .copied()
        .chain(own_audiences.iter().map(String::as_str))
        .collect();
    validation.set_audience(&audiences);
    validation.set_issuer(&[sa_id.as_str()]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.leeway = JWT_LEEWAY_SECS as u64;
    // Times are checked below against the emulator's (injectable) clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    let data = decode::<Claims>(jwt, &key, &validation).map_err(|e| unauth(e.to_string()))?;
    let Claims { iat, exp, nbf } = data.claims;
    let lifetime = i128::from(exp) - i128::from(iat);
    if lifetime <= 0 || lifetime > i128::from(MAX_JWT_LIFETIME_SECS) {
        return Err(unauth(format!(
            "exp - iat must be within (0, {MAX_JWT_LIFETIME_SECS}] seconds, got {lifetime}"
        )));
    }
    let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    if iat > now + 300 {
        return Err(unauth("iat is in the future".into()));
    }
    if exp.saturating_add(JWT_LEEWAY_SECS) <= now {
        return Err(unauth("the token has expired (exp)".into()));
    }
    if let Some(nbf) = nbf {
        if nbf > now + JWT_LEEWAY_SECS {
            return Err(unauth(format!(
                "the token is not valid yet (nbf is {} s in the future, more than the \
                 {JWT_LEEWAY_SECS} s leeway)",
                i128::from(nbf) - i128::from(now)
            )));
        }
    }
    Ok(sa_id)
}

/// A fresh random IAM token.
pub(crate) fn new_iam_token() -> String {
    format!(
        "t1.emu.{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Extracts the bearer token from a request's one `authorization` header.
/// More than one is ambiguous (which subject is calling?) and UNAUTHENTICATED.
pub(crate) fn bearer_of(headers: &http::HeaderMap) -> Result<String, Status> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(Status::unauthenticated(
            "the request has more than one authorization header; send exactly one \
             `authorization: Bearer <IAM token>`",
        ));
    }
    bearer(first)
}

/// Extracts the bearer token from an `authorization` header value.
pub(crate) fn bearer(header: Option<&http::HeaderValue>) -> Result<String, Status> {
    let value = header.ok_or_else(|| {
        Status::unauthenticated(
            "authorization header is missing; send `authorization: Bearer <IAM token>`",
        )
    })?;
    let value = value
        .to_str()
        .map_err(|_| Status::unauthenticated("malformed authorization header"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| {
        Status::unauthenticated("malformed authorization header: expected `Bearer <token>`")
    })?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() || token.contains(' ') {
        return Err(Status::unauthenticated(
            "malformed authorization header: expected `Bearer <token>`",
        ));
    }
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_epoch_and_leap() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + std::time::Duration::from_millis(951_782_400_500); // 2000-02-29
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00Z");
    }
}
