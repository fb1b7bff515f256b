//! Password hashing with argon2id (m=19 MiB, t=2, p=1: the OWASP recommendation). Each hash
//! costs ~20 ms of CPU and 19 MiB, so it runs on the blocking pool behind a semaphore: a burst
//! of logins queues here instead of stalling sockets or exhausting memory.

use std::fmt;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use domain::ValidationError;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// A plaintext password that met the rules: 8..=128 characters. Its `Debug` hides it.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> std::result::Result<Self, ValidationError> {
        let n = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(ValidationError::new(
                "password",
                format!(
                    "must be {} to {} characters long",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(****)")
    }
}

/// Hashes and verifies passwords on the blocking pool, at most `max_concurrent` at a time.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account does not exist
    /// so that an unknown email costs as much as a wrong password.
    decoy: Arc<str>,
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize) -> Result<Self> {
        let decoy = hash_blocking(&format!("decoy-{}", uuid_like()))?;
        Ok(Self {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            decoy: decoy.into(),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let plain = password.0.clone();
        self.on_blocking_pool(move || hash_blocking(&plain)).await
    }

    /// Whether `password` matches `stored`; with `stored = None` (no such account) it does
    /// the same work and answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool> {
        let plain = password.to_owned();
        let (hash, known) = match stored {
            Some(h) => (h.to_owned(), true),
            None => (self.decoy.to_string(), false),
        };
        let matches = self
            .on_blocking_pool(move || {
                match Argon2::default().verify_password(plain.as_bytes(), hash.as_str()) {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                    Err(e) => Err(Error::Hashing(e.to_string())),
                }
            })
            .await?;
        Ok(matches && known)
    }

    async fn on_blocking_pool<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(|_| Error::Cancelled)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| Error::Cancelled)?
    }
}

fn hash_blocking(plain: &str) -> Result<String> {
    Argon2::default()
        .hash_password(plain.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Hashing(e.to_string()))
}

/// Process-unique text for the decoy password; it is hashed and never compared for equality.
fn uuid_like() -> String {
    format!("{:?}-{}", std::time::SystemTime::now(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let p = Password::parse("correct horse").map_err(|e| e.to_string());
        assert!(p.is_ok());
        assert_eq!(format!("{:?}", p.ok()), "Some(Password(****))");
    }

    #[tokio::test]
    async fn hash_then_verify() -> Result<()> {
        let hasher = PasswordHasher::new(2)?;
        let pw =
            Password::parse("correct horse battery").map_err(|e| Error::Hashing(e.to_string()))?;
        let hash = hasher.hash(&pw).await?;
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(hasher.verify("correct horse battery", Some(&hash)).await?);
        assert!(!hasher.verify("wrong horse battery", Some(&hash)).await?);
        assert!(!hasher.verify("correct horse battery", None).await?);
        assert!(hasher.verify("x", Some("not a phc string")).await.is_err());
        Ok(())
    }
}
