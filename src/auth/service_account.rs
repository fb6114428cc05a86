//! Service-account authorized keys and the JWTs signed with them.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::{BoxFuture, FutureExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Map, Value};

use super::exchange::IamExchange;
use super::token::{AccessToken, TokenSource};
use crate::error::{AuthError, CredentialSource, Error};
use crate::region::Region;

/// The `exp - iat` of the JWTs this crate signs.
pub const JWT_LIFETIME: Duration = Duration::from_secs(60 * 60);

/// A service-account authorized key, as written by `yc iam key create --output key.json`.
///
/// The JSON fields are `id`, `service_account_id`, `created_at`,
/// `key_algorithm`, `public_key` and `private_key`; the camelCase spellings
/// (`serviceAccountId`, `createdAt`, `keyAlgorithm`, `publicKey`,
/// `privateKey`) are accepted too, and so is the
/// `PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <id>` line before
/// the PEM. The private key is checked when the key is loaded; errors name the
/// field at fault and never contain the private key. `Debug` hides it.
///
/// ```
/// use yc_billing::auth::ServiceAccountKey;
///
/// let err = ServiceAccountKey::from_json(r#"{"id": "aje1", "private_key": "..."}"#).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid configuration: service account key: service_account_id: is missing"
/// );
/// ```
#[derive(Clone)]
pub struct ServiceAccountKey {
    id: String,
    service_account_id: String,
    created_at: Option<String>,
    key_algorithm: Option<String>,
    public_key: Option<String>,
    encoding_key: EncodingKey,
}

/// A field of a key that is missing or invalid.
pub(crate) struct KeyError {
    pub(crate) field: &'static str,
    pub(crate) reason: String,
}

impl KeyError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        KeyError {
            field,
            reason: reason.into(),
        }
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl ServiceAccountKey {
    /// A key from its parts: key id, service-account id and the PEM of the
    /// private key (PKCS#8 or PKCS#1, with or without the Yandex prefix line).
    pub fn new(
        id: impl Into<String>,
        service_account_id: impl Into<String>,
        private_key_pem: &str,
    ) -> Result<Self, Error> {
        let mut map = Map::new();
        map.insert("id".into(), Value::String(id.into()));
        map.insert(
            "service_account_id".into(),
            Value::String(service_account_id.into()),
        );
        map.insert("private_key".into(), Value::String(private_key_pem.into()));
        Self::from_map(&map)
            .map_err(|e| Error::config(format!("service account key: {}", e.field), e.reason))
    }

    /// Parses the JSON of an authorized key.
    pub fn from_json(json: &str) -> Result<Self, Error> {
        Self::parse(json)
            .map_err(|e| Error::config(format!("service account key: {}", e.field), e.reason))
    }

    /// Parses the JSON of an authorized key given as bytes (for example a
    /// secret read from a vault): they must be UTF-8. Errors never quote them.
    ///
    /// ```
    /// use yc_billing::auth::ServiceAccountKey;
    ///
    /// let err = ServiceAccountKey::from_json_bytes(b"\xff{").unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "invalid configuration: service account key: json: is not valid UTF-8 (at byte 0)"
    /// );
    /// ```
    pub fn from_json_bytes(json: &[u8]) -> Result<Self, Error> {
        let json = std::str::from_utf8(json).map_err(|e| {
            Error::config(
                "service account key: json",
                format!("is not valid UTF-8 (at byte {})", e.valid_up_to()),
            )
        })?;
        Self::from_json(json)
    }

    /// Reads and parses an authorized key file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let json = std::fs::read_to_string(path).map_err(|e| {
            Error::config(
                format!("service account key file {}", path.display()),
                format!("cannot read it: {e}"),
            )
        })?;
        Self::parse(&json).map_err(|e| {
            Error::config(
                format!("service account key file {}: {}", path.display(), e.field),
                e.reason,
            )
        })
    }

    fn parse(json: &str) -> Result<Self, KeyError> {
        // Parse to a `Value` first: syntax errors carry only a position, never content.
        let value: Value = serde_json::from_str(json)
            .map_err(|e| KeyError::new("json", format!("is not valid JSON: {e}")))?;
        match value {
            Value::Object(map) => Self::from_map(&map),
            other => Err(KeyError::new(
                "json",
                format!("expected an object, found {}", type_name(&other)),
            )),
        }
    }

    pub(crate) fn from_map(map: &Map<String, Value>) -> Result<Self, KeyError> {
        let id = required(map, "id", "id")?;
        let service_account_id = required(map, "service_account_id", "serviceAccountId")?;
        let created_at = optional(map, "created_at", "createdAt")?.map(str::to_owned);
        let key_algorithm = optional(map, "key_algorithm", "keyAlgorithm")?.map(str::to_owned);
        let public_key = optional(map, "public_key", "publicKey")?.map(str::to_owned);
        let private_key = required(map, "private_key", "privateKey")?;

        // Ids go into the JWT and into `Debug`: a key pasted into the wrong
        // field must be refused, not sent or logged.
        for (field, value) in [("id", id), ("service_account_id", service_account_id)] {
            if !is_token_like(value) {
                return Err(KeyError::new(
                    field,
                    "contains whitespace or control characters",
                ));
            }
        }
        if let Some(alg) = &key_algorithm {
            if !alg.to_ascii_uppercase().starts_with("RSA") {
                return Err(KeyError::new(
                    "key_algorithm",
                    format!(
                        "{} is not supported: only RSA keys can sign PS256 JWTs",
                        Shown(alg)
                    ),
                ));
            }
        }
        let encoding_key = encoding_key(private_key)?;
        Ok(ServiceAccountKey {
            id: id.to_owned(),
            service_account_id: service_account_id.to_owned(),
            created_at,
            key_algorithm,
            public_key,
            encoding_key,
        })
    }

    /// The key id (the JWT `kid`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The id of the service account the key belongs to (the JWT `iss`).
    pub fn service_account_id(&self) -> &str {
        &self.service_account_id
    }

    /// `created_at`, as written in the file.
    pub fn created_at(&self) -> Option<&str> {
        self.created_at.as_deref()
    }

    /// `key_algorithm`, for example `RSA_2048`.
    pub fn key_algorithm(&self) -> Option<&str> {
        self.key_algorithm.as_deref()
    }

    /// The PEM of the public key, when the file has it.
    pub fn public_key(&self) -> Option<&str> {
        self.public_key.as_deref()
    }

    /// Signs the JWT to exchange for an IAM token in `region`: PS256, header
    /// `kid` = key id, claims `iss` = service-account id,
    /// `aud` = [`Region::jwt_audience`], `iat` = `now`, `exp` = `now` + [`JWT_LIFETIME`].
    pub fn create_jwt(&self, region: Region, now: SystemTime) -> Result<String, AuthError> {
        let iat = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| {
                AuthError::new(
                    CredentialSource::ServiceAccountKey,
                    "the clock is before 1970; cannot sign a JWT",
                )
            })?
            .as_secs();
        let mut header = Header::new(Algorithm::PS256);
        header.kid = Some(self.id.clone());
        let claims = Claims {
            iss: &self.service_account_id,
            aud: region.jwt_audience(),
            iat,
            exp: iat + JWT_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&header, &claims, &self.encoding_key).map_err(|e| {
            AuthError::new(
                CredentialSource::ServiceAccountKey,
                format!("cannot sign the JWT with key {}: {e}", self.id),
            )
            .with_cause(e)
        })
    }
}

/// Turns the `private_key` field into a signing key, checking that it can sign.
fn encoding_key(private_key: &str) -> Result<EncodingKey, KeyError> {
    // A public key pasted where the private one belongs: say so, by its PEM label only.
    if let Some(label) = [
        "BEGIN PUBLIC KEY",
        "BEGIN RSA PUBLIC KEY",
        "BEGIN CERTIFICATE",
    ]
    .into_iter()
    .find(|label| private_key.contains(label))
    {
        return Err(KeyError::new(
            "private_key",
            format!(
                "is not a private key: it holds a PEM `{label}` block; the PEM of \
                 the private key belongs here"
            ),
        ));
    }
    let pem = private_key
        .find("-----BEGIN")
        .map(|at| &private_key[at..])
        .ok_or_else(|| {
            KeyError::new(
                "private_key",
                "is not a PEM-encoded key (no -----BEGIN line)",
            )
        })?;
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
        KeyError::new(
            "private_key",
            format!("is not an RSA private key in PEM form ({:?})", e.kind()),
        )
    })?;
    // ring validates the key only when signing; do it once now so that a bad
    // key fails at load time rather than at the first exchange.
    jsonwebtoken::encode(&Header::new(Algorithm::PS256), &serde_json::json!({}), &key).map_err(
        |e| {
            KeyError::new(
                "private_key",
                format!("is not a usable RSA private key ({:?})", e.kind()),
            )
        },
    )?;
    Ok(key)
}

/// Printable ASCII without spaces: what an id (a header value, a JWT claim) can be.
fn is_token_like(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_graphic())
}

/// A free-form field of a key file, shown only when it is short and
/// token-like: a private key pasted into the wrong field must not be echoed.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 64 && is_token_like(self.0) {
            write!(f, "{:?}", self.0)
        } else {
            write!(f, "<{} characters, not shown>", self.0.chars().count())
        }
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn optional<'a>(
    map: &'a Map<String, Value>,
    snake: &'static str,
    camel: &'static str,
) -> Result<Option<&'a str>, KeyError> {
    match map.get(snake).or_else(|| map.get(camel)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(KeyError::new(
            snake,
            format!("must be a string, found {}", type_name(other)),
        )),
    }
}

fn required<'a>(
    map: &'a Map<String, Value>,
    snake: &'static str,
    camel: &'static str,
) -> Result<&'a str, KeyError> {
    match optional(map, snake, camel)? {
        None => Err(KeyError::new(snake, "is missing")),
        Some(s) if s.trim().is_empty() => Err(KeyError::new(snake, "is empty")),
        Some(s) => Ok(s),
    }
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("id", &self.id)
            .field("service_account_id", &self.service_account_id)
            .field("created_at", &self.created_at.as_deref().map(Shown))
            .field("key_algorithm", &self.key_algorithm.as_deref().map(Shown))
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl<'de> serde::Deserialize<'de> for ServiceAccountKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = ServiceAccountKey;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a service-account key object")
            }

            // Overridden so that the error never quotes the string (it may be the key).
            fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Err(E::custom(
                    "expected a service-account key object, found a string",
                ))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<Self::Value, A::Error> {
                let mut map = Map::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    map.insert(k, v);
                }
                ServiceAccountKey::from_map(&map).map_err(|e| {
                    serde::de::Error::custom(format_args!(
                        "service account key: {}: {}",
                        e.field, e.reason
                    ))
                })
            }
        }

        // `deserialize_any`, not `deserialize_map`: with a map hint serde_json reports a
        // string by quoting it, bypassing `visit_str`.
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// Signs a JWT with the key and exchanges it at every fetch.
pub(crate) struct ServiceAccountSource {
    pub(crate) key: ServiceAccountKey,
    pub(crate) iam: IamExchange,
}

impl fmt::Debug for ServiceAccountSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountSource")
            .field("key", &self.key)
            .field("iam", &self.iam)
            .finish()
    }
}

impl TokenSource for ServiceAccountSource {
    fn fetch(&self) -> BoxFuture<'_, Result<AccessToken, AuthError>> {
        async move {
            let jwt = self
                .key
                .create_jwt(self.iam.region(), self.iam.shared_clock().now())?;
            self.iam.exchange_jwt(&jwt).await
        }
        .boxed()
    }

    fn kind(&self) -> CredentialSource {
        CredentialSource::ServiceAccountKey
    }
}

impl ServiceAccountSource {
    pub(crate) fn shared(key: ServiceAccountKey, iam: IamExchange) -> Arc<dyn TokenSource> {
        Arc::new(ServiceAccountSource { key, iam })
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;

    const PRIVATE: &str = include_str!("testdata/test_sa_private.pem");
    const PUBLIC: &str = include_str!("testdata/test_sa_public.pem");
    /// A line of the base64 body of the private key, to check it never leaks.
    fn private_fragment() -> &'static str {
        PRIVATE.lines().nth(3).unwrap()
    }

    fn with_prefix() -> String {
        format!("PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID ajekey1\n{PRIVATE}")
    }

    fn snake_json() -> String {
        serde_json::json!({
            "id": "ajekey1",
            "service_account_id": "ajesa1",
            "created_at": "2024-01-01T00:00:00Z",
            "key_algorithm": "RSA_2048",
            "public_key": PUBLIC,
            "private_key": with_prefix(),
        })
        .to_string()
    }

    fn assert_no_leak(text: &str) {
        assert!(
            !text.contains(private_fragment()),
            "private key leaked: {text}"
        );
        assert!(
            !text.contains("BEGIN PRIVATE KEY"),
            "private key leaked: {text}"
        );
    }

    #[test]
    fn parses_snake_case_with_prefix_line() {
        let key = ServiceAccountKey::from_json(&snake_json()).unwrap();
        assert_eq!(key.id(), "ajekey1");
        assert_eq!(key.service_account_id(), "ajesa1");
        assert_eq!(key.created_at(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(key.key_algorithm(), Some("RSA_2048"));
        assert_eq!(key.public_key(), Some(PUBLIC));
    }

    #[test]
    fn parses_camel_case_without_prefix_line() {
        let json = serde_json::json!({
            "id": "ajekey2",
            "serviceAccountId": "ajesa2",
            "createdAt": "2024-01-01T00:00:00Z",
            "keyAlgorithm": "RSA_4096",
            "publicKey": PUBLIC,
            "privateKey": PRIVATE,
        })
        .to_string();
        let key = ServiceAccountKey::from_json(&json).unwrap();
        assert_eq!(key.service_account_id(), "ajesa2");
        assert_eq!(key.key_algorithm(), Some("RSA_4096"));
        assert_eq!(key.public_key(), Some(PUBLIC));
    }

    #[test]
    fn only_required_fields() {
        let key = ServiceAccountKey::new("k", "sa", PRIVATE).unwrap();
        assert_eq!(key.created_at(), None);
        assert_eq!(key.public_key(), None);
    }

    #[test]
    fn deserializes_through_serde() {
        let key: ServiceAccountKey = serde_json::from_str(&snake_json()).unwrap();
        assert_eq!(key.id(), "ajekey1");
        let err =
            serde_json::from_str::<ServiceAccountKey>(&serde_json::to_string(PRIVATE).unwrap())
                .unwrap_err()
                .to_string();
        assert_no_leak(&err);
        let err = serde_json::from_str::<ServiceAccountKey>(r#"{"id":"k","private_key":"x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("service_account_id: is missing"), "{err}");
    }

    #[test]
    fn missing_fields_are_named() {
        for field in ["id", "service_account_id", "private_key"] {
            let mut value: Value = serde_json::from_str(&snake_json()).unwrap();
            value.as_object_mut().unwrap().remove(field);
            let err = ServiceAccountKey::from_json(&value.to_string()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("invalid configuration: service account key: {field}: is missing")
            );
            assert_no_leak(&err.to_string());
        }
    }

    #[test]
    fn invalid_fields_are_named_without_echoing_the_key() {
        let cases = [
            (
                serde_json::json!({"id": 5, "service_account_id": "sa", "private_key": PRIVATE}),
                "id: must be a string, found a number",
            ),
            (
                serde_json::json!({"id": "", "service_account_id": "sa", "private_key": PRIVATE}),
                "id: is empty",
            ),
            (
                serde_json::json!({"id": "k", "service_account_id": "sa", "private_key": ["x"]}),
                "private_key: must be a string",
            ),
            (
                serde_json::json!({"id": "k", "service_account_id": "sa", "private_key": "not a pem"}),
                "private_key: is not a PEM-encoded key",
            ),
            (
                serde_json::json!({"id": "k", "service_account_id": "sa",
                    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----\n"}),
                "private_key: is not",
            ),
            (
                // The public key where the private one belongs.
                serde_json::json!({"id": "k", "service_account_id": "sa", "private_key": PUBLIC}),
                "private_key: is not a private key: it holds a PEM `BEGIN PUBLIC KEY` block",
            ),
            (
                serde_json::json!({"id": "k", "service_account_id": "sa", "key_algorithm": "ED25519", "private_key": PRIVATE}),
                "key_algorithm: \"ED25519\" is not supported",
            ),
        ];
        for (json, expected) in cases {
            let err = ServiceAccountKey::from_json(&json.to_string())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
            assert_no_leak(&err);
        }
    }

    #[test]
    fn garbage_is_rejected_without_echo() {
        for garbage in [
            "",
            "not json",
            "[1,2]",
            "null",
            &serde_json::to_string(PRIVATE).unwrap(),
            PRIVATE,
        ] {
            let err = ServiceAccountKey::from_json(garbage)
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with("invalid configuration: service account key: json:"),
                "{err}"
            );
            assert_no_leak(&err);
        }
    }

    #[test]
    fn from_file_names_the_file() {
        let dir = std::env::temp_dir().join(format!("yc-billing-sa-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key.json");
        std::fs::write(&path, snake_json()).unwrap();
        assert_eq!(ServiceAccountKey::from_file(&path).unwrap().id(), "ajekey1");

        std::fs::write(&path, r#"{"id": "k"}"#).unwrap();
        let err = ServiceAccountKey::from_file(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("service_account_id: is missing"), "{err}");

        let missing = dir.join("absent.json");
        let err = ServiceAccountKey::from_file(&missing)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("absent.json") && err.contains("cannot read it"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_is_redacted() {
        let key = ServiceAccountKey::from_json(&snake_json()).unwrap();
        let shown = format!("{key:?}");
        assert!(
            shown.contains("ajekey1") && shown.contains("<redacted>"),
            "{shown}"
        );
        assert_no_leak(&shown);
    }

    #[test]
    fn jwt_is_ps256_with_kid_iss_aud_and_one_hour_life() {
        #[derive(serde::Deserialize)]
        struct Decoded {
            iss: String,
            aud: String,
            iat: u64,
            exp: u64,
        }
        let key = ServiceAccountKey::from_json(&snake_json()).unwrap();
        let decoding = DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for region in [Region::Ru, Region::Kz] {
            let jwt = key.create_jwt(region, now).unwrap();
            let header = jsonwebtoken::decode_header(&jwt).unwrap();
            assert_eq!(header.alg, Algorithm::PS256);
            assert_eq!(header.kid.as_deref(), Some("ajekey1"));

            let mut validation = Validation::new(Algorithm::PS256);
            validation.validate_exp = false;
            validation.set_audience(&[region.jwt_audience()]);
            validation.set_issuer(&["ajesa1"]);
            let claims = jsonwebtoken::decode::<Decoded>(&jwt, &decoding, &validation)
                .unwrap()
                .claims;
            assert_eq!(claims.iss, "ajesa1");
            assert_eq!(claims.aud, region.jwt_audience());
            assert_eq!(claims.iat, 1_700_000_000);
            assert_eq!(claims.exp - claims.iat, 3600);

            // The other region's audience does not verify.
            let other = if region == Region::Ru {
                Region::Kz
            } else {
                Region::Ru
            };
            let mut wrong = Validation::new(Algorithm::PS256);
            wrong.validate_exp = false;
            wrong.set_audience(&[other.jwt_audience()]);
            assert!(jsonwebtoken::decode::<Decoded>(&jwt, &decoding, &wrong).is_err());
        }
    }

    #[test]
    fn jwt_uses_the_given_time_and_refuses_pre_epoch_clocks() {
        let key = ServiceAccountKey::new("k", "sa", PRIVATE).unwrap();
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        let err = key.create_jwt(Region::Ru, before).unwrap_err();
        assert_eq!(err.credential_source(), CredentialSource::ServiceAccountKey);
    }
}
