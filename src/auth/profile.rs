//! Profiles of the `yc` CLI's config file (`~/.config/yandex-cloud/config.yaml`).

use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

use super::{Credentials, ServiceAccountKey};
use crate::error::{AuthError, CredentialSource, Error, SourceAttempt};
use crate::region::Region;

/// Environment variable with the path of the `yc` config file (instead of
/// `$XDG_CONFIG_HOME/yandex-cloud/config.yaml` or `~/.config/yandex-cloud/config.yaml`).
pub const YC_CONFIG_ENV: &str = "YC_CONFIG";
/// Environment variable naming the `yc` profile to use instead of the file's `current`.
pub const YC_PROFILE_ENV: &str = "YC_PROFILE";
/// The largest config file read (`yc` writes a few kilobytes).
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// One profile of the `yc` CLI's config file, as `yc init` and
/// `yc config set` write it:
///
/// ```yaml
/// current: prod
/// profiles:
///   prod:
///     service-account-key:
///       id: ajekey...
///       service_account_id: ajesa...
///       created_at: "2025-01-01T00:00:00Z"
///       key_algorithm: RSA_2048
///       public_key: |
///         -----BEGIN PUBLIC KEY-----
///         ...
///       private_key: |
///         PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <ajekey...>
///         -----BEGIN PRIVATE KEY-----
///         ...
///     cloud-id: b1g...
///     folder-id: b1g...
///   kz:
///     token: y0_...
///     endpoint: api.yandexcloud.kz:443
/// ```
///
/// Read are `token` (an OAuth token), `service-account-key` (the authorized
/// key inline), `instance-service-account: true` (the VM metadata service),
/// `endpoint`, `cloud-id` and `folder-id`; other settings are ignored. A
/// federated profile (`federation-id`) is an [`AuthErrorKind::Unsupported`](crate::error::AuthErrorKind::Unsupported)
/// error: its tokens come from a browser login, so run `yc iam create-token`
/// and pass the token as `YC_IAM_TOKEN`. A profile with more than one of
/// these credentials is refused rather than guessed at. Errors name the file,
/// the profile and the setting, and never quote a token or key.
///
/// `Debug` hides the secrets.
///
/// ```
/// use yc_billing::auth::Profile;
/// use yc_billing::region::Region;
///
/// let dir = std::env::temp_dir().join(format!("yc-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("config.yaml");
/// std::fs::write(&path, "current: kz\nprofiles:\n  kz:\n    token: y0_secret\n    endpoint: api.yandexcloud.kz:443\n    folder-id: b1gfolder\n")?;
/// let profile = Profile::from_file(&path, None)?;
/// assert_eq!(profile.name(), "kz");
/// assert_eq!(profile.region(), Some(Region::Kz));
/// assert_eq!(profile.folder_id(), Some("b1gfolder"));
/// assert!(!format!("{profile:?}").contains("y0_secret"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Profile {
    name: String,
    path: PathBuf,
    credentials: Option<Credentials>,
    endpoint: Option<String>,
    cloud_id: Option<String>,
    folder_id: Option<String>,
}

impl Profile {
    /// The profile `name` (else `YC_PROFILE`, else the file's `current`) of
    /// the config file at `YC_CONFIG`, else
    /// `$XDG_CONFIG_HOME/yandex-cloud/config.yaml` (when set), else
    /// `$HOME/.config/yandex-cloud/config.yaml`.
    pub fn load(name: Option<&str>) -> Result<Self, Error> {
        Self::load_with(&|n| std::env::var_os(n), name)
    }

    pub(crate) fn load_with(
        get: &dyn Fn(&str) -> Option<OsString>,
        name: Option<&str>,
    ) -> Result<Self, Error> {
        let path = config_path(get).map_err(|reason| Error::config("yc config", reason))?;
        let name = match name {
            Some(n) => Some(n.to_owned()),
            None => env_profile(get)?,
        };
        Self::from_file(&path, name.as_deref())
    }

    /// The profile `name` (the file's `current` when `None`) of the config file at `path`.
    pub fn from_file(path: impl AsRef<Path>, name: Option<&str>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = read_config(path).map_err(|e| {
            Error::config(
                format!("yc config {}", path.display()),
                format!("cannot read it: {e}"),
            )
        })?;
        let doc = Doc::parse(&text, path)?;
        let name = match name {
            Some(n) => n.to_owned(),
            None => doc.current()?.ok_or_else(|| {
                doc.error(
                    "current",
                    "is not set; name a profile (YC_PROFILE, --profile) or run `yc config profile activate`",
                )
            })?,
        };
        doc.profile(&name)?
            .ok_or_else(|| doc.error("profiles", format!("has no profile {name:?}")))
    }

    /// The environment chain's step: the profile, or why it did not apply.
    /// A file that exists but is broken, a profile named by `YC_PROFILE`
    /// that is missing, and a federated profile are errors, never a reason
    /// to fall through to the metadata service.
    pub(crate) fn from_env_chain(
        get: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Result<Self, SourceAttempt>, Error> {
        let skipped = |setting: &str, reason: String| {
            SourceAttempt::new(CredentialSource::YcProfile, setting, reason)
        };
        let path = match config_path(get) {
            Ok(path) => path,
            Err(reason) => return Ok(Err(skipped("config file", reason))),
        };
        let shown = path.display().to_string();
        let text = match read_config(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(skipped(&shown, "no such file".into())));
            }
            Err(e) => return Ok(Err(skipped(&shown, format!("cannot read it: {e}")))),
        };
        let doc = Doc::parse(&text, &path)?;
        let name = match env_profile(get)? {
            Some(name) => {
                return doc
                    .profile(&name)?
                    .ok_or_else(|| {
                        doc.error(
                            "profiles",
                            format!("has no profile {name:?} (named by {YC_PROFILE_ENV})"),
                        )
                    })
                    .map(|p| p.with_credentials_or(&shown));
            }
            None => match doc.current()? {
                Some(name) => name,
                None => return Ok(Err(skipped(&shown, "no `current` profile".into()))),
            },
        };
        Ok(match doc.profile(&name)? {
            Some(p) => p.with_credentials_or(&shown),
            None => Err(skipped(
                &shown,
                format!("the current profile {name:?} is not in it"),
            )),
        })
    }

    fn with_credentials_or(self, shown: &str) -> Result<Self, SourceAttempt> {
        if self.credentials.is_some() {
            Ok(self)
        } else {
            Err(SourceAttempt::new(
                CredentialSource::YcProfile,
                shown,
                format!(
                    "profile {:?} has no credentials (token, service-account-key or \
                     instance-service-account)",
                    self.name
                ),
            ))
        }
    }

    /// Its credentials; a profile without any is an [`Error::Config`] naming it.
    pub fn into_credentials(self) -> Result<Credentials, Error> {
        match self.credentials {
            Some(c) => Ok(c),
            None => Err(Error::config(
                format!("yc config {}: profiles.{}", self.path.display(), self.name),
                "has no credentials (token, service-account-key or instance-service-account)",
            )),
        }
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The config file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its credentials (`None` when it has none, for example only a `folder-id`).
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// Its `endpoint`: the API (discovery) endpoint, `api.cloud.yandex.net:443` when unset.
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The region of its `endpoint` ([`Region::from_api_endpoint`]): `None`
    /// for an endpoint of no known region; [`Region::Ru`] without an endpoint.
    pub fn region(&self) -> Option<Region> {
        match &self.endpoint {
            None => Some(Region::Ru),
            Some(e) => Region::from_api_endpoint(e),
        }
    }

    /// Its `cloud-id`.
    pub fn cloud_id(&self) -> Option<&str> {
        self.cloud_id.as_deref()
    }

    /// Its `folder-id`.
    pub fn folder_id(&self) -> Option<&str> {
        self.folder_id.as_deref()
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("credentials", &self.credentials)
            .field("endpoint", &self.endpoint)
            .field("cloud_id", &self.cloud_id)
            .field("folder_id", &self.folder_id)
            .finish()
    }
}

/// Where the config file is: `YC_CONFIG`, `$XDG_CONFIG_HOME/yandex-cloud/config.yaml`
/// or `$HOME/.config/yandex-cloud/config.yaml`.
fn config_path(get: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf, String> {
    let set = |name: &str| get(name).filter(|v| !v.is_empty());
    if let Some(path) = set(YC_CONFIG_ENV) {
        return Ok(PathBuf::from(path));
    }
    if let Some(xdg) = set("XDG_CONFIG_HOME") {
        return Ok(PathBuf::from(xdg).join("yandex-cloud").join("config.yaml"));
    }
    match set("HOME") {
        Some(home) => Ok(PathBuf::from(home)
            .join(".config")
            .join("yandex-cloud")
            .join("config.yaml")),
        None => Err(format!(
            "none of {YC_CONFIG_ENV}, XDG_CONFIG_HOME and HOME is set"
        )),
    }
}

/// `YC_PROFILE`, when set.
fn env_profile(get: &dyn Fn(&str) -> Option<OsString>) -> Result<Option<String>, Error> {
    let Some(value) = get(YC_PROFILE_ENV) else {
        return Ok(None);
    };
    let value = value
        .into_string()
        .map_err(|_| Error::config(YC_PROFILE_ENV, "is not valid UTF-8"))?;
    match value.trim() {
        "" => Err(Error::config(
            YC_PROFILE_ENV,
            "is set but empty; unset it to use the file's current profile",
        )),
        name => Ok(Some(name.to_owned())),
    }
}

/// Reads at most [`MAX_CONFIG_BYTES`] of the file.
fn read_config(path: &Path) -> std::io::Result<String> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_CONFIG_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "it is larger than {} KiB",
            MAX_CONFIG_BYTES / 1024
        )));
    }
    Ok(text)
}

/// The parsed file.
struct Doc<'a> {
    root: Value,
    path: &'a Path,
}

impl<'a> Doc<'a> {
    fn parse(text: &str, path: &'a Path) -> Result<Self, Error> {
        // Only the position of a syntax error is shown: the text may hold a key.
        let root: Value = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(" (line {}, column {})", l.line(), l.column()))
                .unwrap_or_default();
            Error::config(
                format!("yc config {}", path.display()),
                format!("is not valid YAML{at}"),
            )
        })?;
        let doc = Doc { root, path };
        if !matches!(doc.root, Value::Mapping(_) | Value::Null) {
            return Err(doc.error("", "must be a mapping (current, profiles)"));
        }
        Ok(doc)
    }

    fn error(&self, field: &str, reason: impl Into<String>) -> Error {
        let field = if field.is_empty() {
            format!("yc config {}", self.path.display())
        } else {
            format!("yc config {}: {field}", self.path.display())
        };
        Error::config(field, reason)
    }

    fn current(&self) -> Result<Option<String>, Error> {
        string(self.root.get("current")).map_err(|reason| self.error("current", reason))
    }

    fn profile(&self, name: &str) -> Result<Option<Profile>, Error> {
        let profiles = match self.root.get("profiles") {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Mapping(m)) => m,
            Some(_) => return Err(self.error("profiles", "must be a mapping of profiles")),
        };
        let Some(p) = profiles.get(name) else {
            return Ok(None);
        };
        let field = |key: &str| format!("profiles.{name}.{key}");
        if !matches!(p, Value::Mapping(_) | Value::Null) {
            return Err(self.error(&format!("profiles.{name}"), "must be a mapping"));
        }
        let text = |key: &str| string(p.get(key)).map_err(|reason| self.error(&field(key), reason));
        let token = text("token")?;
        let federation = text("federation-id")?;
        let instance = match p.get("instance-service-account") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(self.error(&field("instance-service-account"), "must be true or false"));
            }
        };
        let key = match p.get("service-account-key") {
            None | Some(Value::Null) => None,
            Some(v) => Some(self.key(v, &field("service-account-key"))?),
        };
        let present: Vec<&str> = [
            ("token", token.is_some()),
            ("service-account-key", key.is_some()),
            ("instance-service-account", instance),
            ("federation-id", federation.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if present.len() > 1 {
            return Err(self.error(
                &format!("profiles.{name}"),
                format!(
                    "has more than one credential ({}); keep one",
                    present.join(", ")
                ),
            ));
        }
        let origin = format!("yc profile {name:?} in {}", self.path.display());
        let credentials = if federation.is_some() {
            return Err(Error::Auth(AuthError::unsupported(
                CredentialSource::YcProfile,
                format!(
                    "profile {name:?} in {} is federated (federation-id): its tokens come from \
                     a browser login, which yc-billing does not support; run \
                     `yc iam create-token` and pass the token as YC_IAM_TOKEN, or use a \
                     service-account key",
                    self.path.display()
                ),
            )));
        } else if let Some(token) = token {
            Some(Credentials::oauth_token(token))
        } else if let Some(key) = key {
            Some(Credentials::service_account_key(key))
        } else if instance {
            Some(Credentials::metadata_service())
        } else {
            None
        };
        let endpoint = text("endpoint")?;
        if let Some(e) = &endpoint {
            if !e.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(self.error(
                    &field("endpoint"),
                    "contains whitespace or control characters",
                ));
            }
        }
        Ok(Some(Profile {
            name: name.to_owned(),
            path: self.path.to_owned(),
            credentials: credentials.map(|c| c.with_origin(origin)),
            endpoint,
            cloud_id: text("cloud-id")?,
            folder_id: text("folder-id")?,
        }))
    }

    /// `service-account-key`: the key as a mapping (as `yc` writes it) or as a JSON string.
    fn key(&self, value: &Value, field: &str) -> Result<ServiceAccountKey, Error> {
        let key_error = |sub: &str, reason: String| self.error(&format!("{field}.{sub}"), reason);
        match value {
            Value::Mapping(_) => {
                let json = serde_json::to_value(value)
                    .map_err(|_| self.error(field, "must be a mapping of strings"))?;
                let serde_json::Value::Object(map) = json else {
                    return Err(self.error(field, "must be a mapping"));
                };
                ServiceAccountKey::from_map(&map).map_err(|e| key_error(e.field, e.reason))
            }
            Value::String(json) => ServiceAccountKey::from_json(json).map_err(|e| match e {
                Error::Config { field: sub, reason } => {
                    key_error(sub.trim_start_matches("service account key: "), reason)
                }
                other => other,
            }),
            _ => Err(self.error(
                field,
                "must be a mapping (id, service_account_id, private_key, …)",
            )),
        }
    }
}

/// A string setting: absent, or a non-empty string.
fn string(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Err("is empty".into()),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err("must be a string".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AuthErrorKind;

    const PRIVATE: &str = include_str!("testdata/test_sa_private.pem");
    const PUBLIC: &str = include_str!("testdata/test_sa_public.pem");

    fn indent(text: &str, by: usize) -> String {
        text.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(by)))
            .collect()
    }

    /// A config file as `yc config set service-account-key key.json` and
    /// `yc config set token` leave it (two-space indents, the key inline as
    /// a mapping, `created_at` unquoted, the PEMs as literal blocks).
    fn yc_config() -> String {
        format!(
            "current: sa\nprofiles:\n  sa:\n    service-account-key:\n      id: ajekey1\n      \
             service_account_id: ajesa1\n      created_at: 2025-03-04T05:06:07.891011Z\n      \
             key_algorithm: RSA_2048\n      public_key: |\n{}      private_key: |\n        \
             PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <ajekey1>\n{}    \
             cloud-id: b1gcloud\n    folder-id: b1gfolder\n    compute-default-zone: ru-central1-a\n  \
             kz:\n    token: y0_kz-secret\n    endpoint: api.yandexcloud.kz:443\n  \
             private:\n    token: y0_private-secret\n    endpoint: 127.0.0.1:50051\n  \
             fed:\n    federation-id: bpfed000000000000000\n    cloud-id: b1gcloud\n  \
             vm:\n    instance-service-account: true\n  \
             both:\n    token: y0_both-secret\n    federation-id: bpfed\n  \
             bare:\n    folder-id: b1gfolder\n",
            indent(PUBLIC, 8),
            indent(PRIVATE, 8)
        )
    }

    fn write(text: &str) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("yc-billing-profile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.yaml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    fn assert_no_secret(text: &str) {
        for secret in ["y0_", PRIVATE.lines().nth(3).unwrap(), "BEGIN PRIVATE KEY"] {
            assert!(!text.contains(secret), "secret {secret:?} in {text}");
        }
    }

    #[test]
    fn reads_the_profiles_yc_writes() {
        let (dir, path) = write(&yc_config());
        let sa = Profile::from_file(&path, None).unwrap();
        assert_eq!(sa.name(), "sa");
        assert_eq!(sa.path(), path);
        let creds = sa.credentials().unwrap();
        assert_eq!(creds.kind(), CredentialSource::ServiceAccountKey);
        assert_eq!(
            creds.origin().unwrap(),
            format!("yc profile \"sa\" in {}", path.display())
        );
        assert_eq!(sa.cloud_id(), Some("b1gcloud"));
        assert_eq!(sa.folder_id(), Some("b1gfolder"));
        assert_eq!(sa.endpoint(), None);
        assert_eq!(sa.region(), Some(Region::Ru));
        assert_no_secret(&format!("{sa:?}"));

        let kz = Profile::from_file(&path, Some("kz")).unwrap();
        assert_eq!(kz.credentials().unwrap().kind(), CredentialSource::OAuth);
        assert_eq!(kz.endpoint(), Some("api.yandexcloud.kz:443"));
        assert_eq!(kz.region(), Some(Region::Kz));
        let private = Profile::from_file(&path, Some("private")).unwrap();
        assert_eq!(private.region(), None);
        let vm = Profile::from_file(&path, Some("vm")).unwrap();
        assert_eq!(
            vm.credentials().unwrap().kind(),
            CredentialSource::MetadataService
        );
        let bare = Profile::from_file(&path, Some("bare")).unwrap();
        assert!(bare.credentials().is_none());
        let err = bare.into_credentials().unwrap_err();
        assert!(
            err.to_string().ends_with("profiles.bare: has no credentials (token, service-account-key or instance-service-account)"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_federated_profile_is_a_typed_unsupported_error() {
        let (dir, path) = write(&yc_config());
        let err = Profile::from_file(&path, Some("fed")).unwrap_err();
        let Error::Auth(auth) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(auth.kind(), AuthErrorKind::Unsupported);
        assert_eq!(auth.credential_source(), CredentialSource::YcProfile);
        assert!(auth.reason().contains("run `yc iam create-token`"), "{err}");
        // In the environment chain too: never a fall-through to the metadata service.
        let get = |n: &str| {
            (n == YC_CONFIG_ENV)
                .then(|| OsString::from(&path))
                .or_else(|| (n == YC_PROFILE_ENV).then(|| "fed".into()))
        };
        let err = Profile::from_env_chain(&get).unwrap_err();
        assert!(
            matches!(&err, Error::Auth(a) if a.kind() == AuthErrorKind::Unsupported),
            "{err:?}"
        );

        let err = Profile::from_file(&path, Some("both")).unwrap_err();
        assert!(
            err.to_string().ends_with(
                "profiles.both: has more than one credential (token, federation-id); keep one"
            ),
            "{err}"
        );
        assert_no_secret(&format!("{err} {err:?}"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_files_and_settings_are_named_without_echoing_secrets() {
        let cases = [
            (
                "profiles: [1, 2]\n",
                Some("p"),
                "profiles: must be a mapping of profiles",
            ),
            ("- a\n- b\n", None, "must be a mapping (current, profiles)"),
            (
                "profiles:\n  p:\n    token: y0_x\n",
                None,
                "current: is not set",
            ),
            (
                "current: p\nprofiles:\n  q: {}\n",
                None,
                "profiles: has no profile \"p\"",
            ),
            (
                "current: p\nprofiles:\n  p:\n    token: [y0_list-secret]\n",
                None,
                "profiles.p.token: must be a string",
            ),
            (
                "current: p\nprofiles:\n  p:\n    token: \"  \"\n",
                None,
                "profiles.p.token: is empty",
            ),
            (
                "current: p\nprofiles:\n  p:\n    instance-service-account: yes-please\n",
                None,
                "instance-service-account: must be true or false",
            ),
            (
                "current: p\nprofiles:\n  p:\n    service-account-key:\n      id: k\n      private_key: y0_not-a-key\n",
                None,
                "profiles.p.service-account-key.service_account_id: is missing",
            ),
            (
                "current: p\nprofiles:\n  p:\n    service-account-key: 5\n",
                None,
                "service-account-key: must be a mapping",
            ),
            (
                "current: p\nprofiles:\n  p:\n    service-account-key: '{\"id\": \"k\", \"service_account_id\": \"s\", \"private_key\": \"y0_nope\"}'\n",
                None,
                "service-account-key.private_key: is not a PEM-encoded key",
            ),
            (
                "current: p\nprofiles:\n  p:\n    token: y0_x\n    endpoint: \"a b\"\n",
                None,
                "profiles.p.endpoint: contains whitespace",
            ),
            (
                "current: p\nprofiles:\n  p:\n    token: 'y0_unterminated-secret\n",
                None,
                "is not valid YAML (line ",
            ),
        ];
        for (text, name, needle) in cases {
            let (dir, path) = write(text);
            let err = Profile::from_file(&path, name).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(shown.contains(needle), "{needle:?} in {shown}");
            assert!(shown.contains(&path.display().to_string()), "{shown}");
            assert_no_secret(&shown);
            std::fs::remove_dir_all(&dir).unwrap();
        }
        // The public key where the private one belongs, inline.
        let (dir, path) = write(&yc_config().replacen(&indent(PRIVATE, 8), &indent(PUBLIC, 8), 1));
        let err = Profile::from_file(&path, None).unwrap_err().to_string();
        assert!(
            err.contains("profiles.sa.service-account-key.private_key: is not a private key"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        // A huge file is refused, not read whole.
        let (dir, path) = write(&"#".repeat(2 << 20));
        let err = Profile::from_file(&path, None).unwrap_err().to_string();
        assert!(err.contains("larger than 1024 KiB"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
