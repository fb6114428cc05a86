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
struct KeyError {
    field: &'static str,
    reason: String,
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

    fn from_map(map: &Map<String, Value>) -> Result<Self, KeyError> {
        let id = required(map, "id", "id")?;
        let service_account_id = required(map, "service_account_id", "serviceAccountId")?;
        let created_at = optional(map, "created_at", "createdAt")?.map(str::to_owned);
        let key_algorithm = optional(map, "key_algorithm", "keyAlgorithm")?.map(str::to_owned);
        let public_key = optional(map, "public_key", "publicKey")?.map(str::to_owned);
        let private_key = required(map, "private_key", "privateKey")?;

        if http::HeaderValue::from_str(id).is_err() || id.contains(char::is_whitespace) {
            return Err(KeyError::new(
                "id",
                "contains whitespace or control characters",
            ));
        }
        if let Some(alg) = &key_algorithm {
            if !alg.to_ascii_uppercase().starts_with("RSA") {
                return Err(KeyError::new(
                    "key_algorithm",
                    format!("{alg:?} is not supported: only RSA keys can sign PS256 JWTs"),
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
        })
    }
}

/// Turns the `private_key` field into a signing key, checking that it can sign.
fn encoding_key(private_key: &str) -> Result<EncodingKey, KeyError> {
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
            .field("created_at", &self.created_at)
            .field("key_algorithm", &self.key_algorithm)
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

        deserializer.deserialize_map(KeyVisitor)
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
                .create_jwt(self.iam.region(), self.iam.clock().now())?;
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
