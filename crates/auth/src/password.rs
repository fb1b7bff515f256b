//! Password hashing with argon2id (m=19 MiB, t=2, p=1: the OWASP recommendation). Each hash
//! costs ~20 ms of CPU and 19 MiB, so it runs on a few threads of its own: a burst of logins
//! queues here instead of stalling sockets. Not on tokio's blocking pool: its many threads
//! each kept a malloc arena holding 19 MiB after a hash (1.2 GB of RSS after 200 sign-ups).

use std::fmt;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use domain::ValidationError;
use std::sync::Mutex;
use std::sync::mpsc;

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

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords on `threads` dedicated threads.
#[derive(Clone, Debug)]
pub struct PasswordHasher {
    jobs: Arc<Mutex<mpsc::Sender<Job>>>,
    /// A real hash of a random password, verified against when the account does not exist
    /// so that an unknown email costs as much as a wrong password.
    decoy: Arc<str>,
}

impl PasswordHasher {
    pub fn new(threads: usize) -> Result<Self> {
        let decoy = hash_blocking(&format!("decoy-{}", uuid_like()))?;
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = Arc::clone(&rx);
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || {
                    loop {
                        let job = rx
                            .lock()
                            .map_err(|_| ())
                            .and_then(|r| r.recv().map_err(|_| ()));
                        match job {
                            Ok(job) => job(),
                            // Every PasswordHasher is gone.
                            Err(()) => break,
                        }
                    }
                })
                .map_err(|e| Error::Internal(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self {
            jobs: Arc::new(Mutex::new(tx)),
            decoy: decoy.into(),
        })
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) with a fresh random salt.
    pub async fn hash(&self, password: &Password) -> Result<String> {
        let plain = password.0.clone();
        self.on_hashing_threads(move || hash_blocking(&plain)).await
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
            .on_hashing_threads(move || {
                match Argon2::default().verify_password(plain.as_bytes(), hash.as_str()) {
                    Ok(()) => Ok(true),
                    Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
                    Err(e) => Err(Error::Hashing(e.to_string())),
                }
            })
            .await?;
        Ok(matches && known)
    }

    async fn on_hashing_threads<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs
            .lock()
            .map_err(|_| Error::Cancelled)?
            .send(job)
            .map_err(|_| Error::Cancelled)?;
        result.await.map_err(|_| Error::Cancelled)?
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
