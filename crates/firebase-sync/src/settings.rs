//! Where the mirror writes and how it proves who it is, parsed from the settings
//! `RTS_FIREBASE_DATABASE_URL`, `RTS_FIREBASE_CREDENTIALS` and `RTS_FIREBASE_SECRET`.
//! Every check happens here, at startup, so a bad setting stops the server with one line
//! naming it rather than failing on the first write.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

/// The scopes a service account's access token needs for the Realtime Database.
pub(crate) const SCOPES: &str = "https://www.googleapis.com/auth/firebase.database https://www.googleapis.com/auth/userinfo.email";

/// A Realtime Database: `https://<db>.firebaseio.com`, a regional
/// `https://<db>.<region>.firebasedatabase.app`, or an emulator (or the fake) as
/// `http://host:port/?ns=<db>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// Scheme, host and port; no path or query.
    origin: Url,
    /// The `ns` query parameter, for emulators.
    namespace: Option<String>,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw.trim()).map_err(|e| format!("not a URL ({e})"))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not hold credentials; use RTS_FIREBASE_CREDENTIALS".into());
        }
        if !matches!(url.path(), "" | "/") {
            return Err(format!(
                "must be the database's root URL, without a path (not {})",
                url.path()
            ));
        }
        if url.fragment().is_some() {
            return Err("must not have a #fragment".into());
        }
        let mut namespace = None;
        for (key, value) in url.query_pairs() {
            match &*key {
                "ns" if !value.is_empty() => namespace = Some(value.into_owned()),
                _ => return Err(format!("unknown query parameter {key:?} (only ns=<db>)")),
            }
        }
        match url.scheme() {
            "https" => {}
            "http" if namespace.is_some() => {}
            "http" => {
                return Err(
                    "http:// is for an emulator and needs ?ns=<database>; Firebase itself is https://"
                        .into(),
                );
            }
            other => return Err(format!("scheme must be https:// (not {other}://)")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("has no host".into());
        }
        let mut origin = url.clone();
        origin.set_query(None);
        origin.set_path("");
        Ok(Self { origin, namespace })
    }

    /// The REST URL of the node at `path` (`a/b/c`, or empty for the root), with the
    /// namespace if there is one. Each segment is percent-encoded.
    pub(crate) fn node(&self, path: &str) -> Url {
        let mut url = self.origin.clone();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        if let Ok(mut parts) = url.path_segments_mut() {
            parts.clear();
            match segments.split_last() {
                Some((last, parents)) => {
                    parts.extend(parents);
                    parts.push(&format!("{last}.json"));
                }
                None => {
                    parts.push(".json");
                }
            }
        }
        if let Some(ns) = &self.namespace {
            url.query_pairs_mut().append_pair("ns", ns);
        }
        url
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}?ns={ns}", self.origin),
            None => write!(f, "{}", self.origin),
        }
    }
}

/// How the mirror authenticates.
#[derive(Clone)]
pub enum Credentials {
    /// A Google service account: an OAuth2 access token from a signed assertion.
    ServiceAccount(ServiceAccount),
    /// A legacy database secret, sent as `?auth=`. Deprecated by Google; still works.
    Secret(SecretString),
    /// No credentials: an emulator that lets anyone write.
    None,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ServiceAccount(_) => "ServiceAccount",
            Self::Secret(_) => "Secret",
            Self::None => "None",
        })
    }
}

/// The fields of a service-account key file that the token exchange needs.
#[derive(Clone)]
pub struct ServiceAccount {
    pub(crate) client_email: String,
    pub(crate) private_key_id: Option<String>,
    pub(crate) key: jsonwebtoken::EncodingKey,
    pub(crate) token_uri: Url,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri.as_str())
            .finish_non_exhaustive()
    }
}

/// The largest key file read.
pub const KEY_FILE_MAX_BYTES: u64 = 64 * 1024;

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

impl ServiceAccount {
    /// Reads a service-account key file (JSON, as the Firebase console downloads it: about
    /// 2.3 KB). Anything over [`KEY_FILE_MAX_BYTES`] is refused unread, so a wrong path
    /// (`/dev/zero`, a log file) fails at once instead of reading for ever.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        use std::io::Read;
        let cannot = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
        let file = std::fs::File::open(path).map_err(cannot)?;
        let mut bytes = Vec::new();
        file.take(KEY_FILE_MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(cannot)?;
        if bytes.len() as u64 > KEY_FILE_MAX_BYTES {
            return Err(format!(
                "{}: over {} KB, so not a service-account key file",
                path.display(),
                KEY_FILE_MAX_BYTES / 1024
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            format!(
                "{}: not text, so not a service-account key file",
                path.display()
            )
        })?;
        Self::from_json(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: KeyFile = serde_json::from_str(text)
            .map_err(|e| format!("not a service-account key file ({e})"))?;
        if let Some(kind) = file.kind.as_deref()
            && kind != "service_account"
        {
            return Err(format!("type is {kind:?}, not \"service_account\""));
        }
        let client_email = file
            .client_email
            .filter(|e| e.contains('@'))
            .ok_or("client_email is missing")?;
        let private_key = SecretString::from(file.private_key.ok_or("private_key is missing")?);
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_key.expose_secret().as_bytes())
            .map_err(|e| format!("private_key is not an RSA key in PEM ({e})"))?;
        let token_uri = file
            .token_uri
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned());
        let token_uri =
            Url::parse(&token_uri).map_err(|e| format!("token_uri is not a URL ({e})"))?;
        if !matches!(token_uri.scheme(), "https" | "http") {
            return Err("token_uri must be http(s)".into());
        }
        Ok(Self {
            client_email,
            private_key_id: file.private_key_id,
            key,
            token_uri,
        })
    }
}

/// The mirror's settings; `None` from [`MirrorSettings::from_settings`] means the mirror
/// is off.
#[derive(Clone, Debug)]
pub struct MirrorSettings {
    pub database: DatabaseUrl,
    pub credentials: Credentials,
    /// Tries before a change becomes a dead letter.
    pub max_attempts: u32,
}

/// The setting at fault and why.
pub type SettingError = (&'static str, String);

impl MirrorSettings {
    /// From the raw settings: no database URL means no mirror. A key file and a secret
    /// together are refused (which one was meant?).
    pub fn from_settings(
        database_url: Option<&str>,
        credentials: Option<&Path>,
        secret: Option<&SecretString>,
        max_attempts: u32,
    ) -> Result<Option<Self>, SettingError> {
        let Some(raw) = database_url.filter(|u| !u.trim().is_empty()) else {
            if credentials.is_some() || secret.is_some() {
                return Err((
                    "firebase_database_url",
                    "is not set, but Firebase credentials are: set it to https://<db>.firebaseio.com or unset the credentials".into(),
                ));
            }
            return Ok(None);
        };
        let database = DatabaseUrl::parse(raw).map_err(|e| ("firebase_database_url", e))?;
        let credentials = match (credentials, secret) {
            (Some(_), Some(_)) => {
                return Err((
                    "firebase_secret",
                    "is set together with RTS_FIREBASE_CREDENTIALS; set one of them".into(),
                ));
            }
            (Some(path), None) => Credentials::ServiceAccount(
                ServiceAccount::from_file(path).map_err(|e| ("firebase_credentials", e))?,
            ),
            (None, Some(secret)) => Credentials::Secret(secret.clone()),
            (None, None) => {
                if database.namespace.is_none() {
                    return Err((
                        "firebase_credentials",
                        "is not set: Firebase needs a service-account key file (or RTS_FIREBASE_SECRET); only an emulator URL (?ns=) works without".into(),
                    ));
                }
                Credentials::None
            }
        };
        if !(1..=1000).contains(&max_attempts) {
            return Err(("firebase_max_attempts", "must be between 1 and 1000".into()));
        }
        Ok(Some(Self {
            database,
            credentials,
            max_attempts,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls() {
        let prod = DatabaseUrl::parse("https://demo-default-rtdb.firebaseio.com/")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            prod.node("videos/v1/comments/c1").as_str(),
            "https://demo-default-rtdb.firebaseio.com/videos/v1/comments/c1.json"
        );
        assert_eq!(
            prod.node("").as_str(),
            "https://demo-default-rtdb.firebaseio.com/.json"
        );
        let emulator =
            DatabaseUrl::parse("http://127.0.0.1:9000?ns=demo").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            emulator.node("users/u 1").as_str(),
            "http://127.0.0.1:9000/users/u%201.json?ns=demo"
        );
        for bad in [
            "firebaseio.com",
            "http://demo.firebaseio.com",
            "https://demo.firebaseio.com/videos",
            "https://demo.firebaseio.com/?x=1",
            "https://user:pw@demo.firebaseio.com",
            "ftp://demo.firebaseio.com",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn settings_say_which_one_is_wrong() {
        let none = MirrorSettings::from_settings(None, None, None, 10);
        assert!(matches!(none, Ok(None)));
        let secret = SecretString::from("s");
        let orphan = MirrorSettings::from_settings(None, None, Some(&secret), 10);
        assert!(matches!(orphan, Err(("firebase_database_url", _))));
        let no_credentials =
            MirrorSettings::from_settings(Some("https://demo.firebaseio.com"), None, None, 10);
        assert!(matches!(no_credentials, Err(("firebase_credentials", _))));
        let missing_file = MirrorSettings::from_settings(
            Some("https://demo.firebaseio.com"),
            Some(Path::new("/nonexistent/key.json")),
            None,
            10,
        );
        assert!(matches!(missing_file, Err(("firebase_credentials", _))));
        let emulator =
            MirrorSettings::from_settings(Some("http://127.0.0.1:9000/?ns=x"), None, None, 10);
        assert!(matches!(emulator, Ok(Some(_))));
    }

    #[test]
    fn an_endless_or_huge_key_file_is_refused_unread() {
        let started = std::time::Instant::now();
        let err = ServiceAccount::from_file(Path::new("/dev/zero"))
            .err()
            .unwrap_or_default();
        assert!(err.contains("over 64 KB"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "read at once"
        );
    }

    #[test]
    fn a_key_file_without_a_usable_key_is_refused() {
        let err = ServiceAccount::from_json(
            r#"{"type":"service_account","client_email":"a@b.iam.gserviceaccount.com","private_key":"nope"}"#,
        )
        .err()
        .unwrap_or_default();
        assert!(err.contains("private_key"), "{err}");
    }
}
