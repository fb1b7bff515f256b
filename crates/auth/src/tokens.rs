//! Access tokens (JWT, HS256 pinned, short-lived) and refresh tokens (opaque random
//! secrets, stored only as SHA-256 hashes).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::tokens::TokenHash;
use domain::{DeviceRowId, Role, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

const ISSUER: &str = "realtime-server";
/// The shortest HS256 secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
const REFRESH_SECRET_BYTES: usize = 32;

/// What an access token says about its bearer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: UserId,
    /// The device row id the token was issued to.
    pub dev: DeviceRowId,
    pub role: Role,
    /// The token's own id.
    pub jti: uuid::Uuid,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

/// Signs and verifies access tokens with one HS256 key.
#[derive(Clone)]
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for AccessTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokens")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Why a secret cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the JWT secret must be at least {MIN_SECRET_BYTES} bytes (got {0})")]
pub struct WeakSecret(pub usize);

impl AccessTokens {
    pub fn new(secret: &SecretString, ttl: Duration) -> std::result::Result<Self, WeakSecret> {
        let bytes = secret.expose_secret().as_bytes();
        if bytes.len() < MIN_SECRET_BYTES {
            return Err(WeakSecret(bytes.len()));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
            ttl,
        })
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A signed token for the user on the device.
    pub fn issue(&self, user: UserId, device: DeviceRowId, role: Role) -> Result<String> {
        let now = now_secs();
        let claims = AccessClaims {
            sub: user,
            dev: device,
            role,
            jti: uuid::Uuid::now_v7(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(format!("cannot sign a token: {e}")))
    }

    /// The claims of a token signed by us with HS256 and not expired; anything else is
    /// `InvalidToken` or `TokenExpired`.
    pub fn verify(&self, token: &str) -> Result<AccessClaims> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => Error::TokenExpired,
                _ => Error::InvalidToken,
            })
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A fresh refresh token: the secret for the client and the hash to store.
pub fn new_refresh_token() -> Result<(String, TokenHash)> {
    let mut bytes = [0u8; REFRESH_SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_refresh_token(&secret);
    Ok((secret, hash))
}

/// The stored form of a presented refresh token.
pub fn hash_refresh_token(secret: &str) -> TokenHash {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> AccessTokens {
        AccessTokens::new(
            &SecretString::from("0123456789abcdef0123456789abcdef"),
            Duration::from_secs(900),
        )
        .expect("long enough")
    }

    #[test]
    fn short_secrets_are_refused() {
        let short = AccessTokens::new(&SecretString::from("too short"), Duration::from_secs(1));
        assert!(short.is_err());
    }

    /// Also guards the trap that jsonwebtoken without exactly one crypto backend compiles
    /// and then panics at the first signature.
    #[test]
    fn issued_tokens_verify() {
        let keys = keys();
        let (user, device) = (UserId::generate(), DeviceRowId::generate());
        let token = keys.issue(user, device, Role::Moderator).expect("signed");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(
            (claims.sub, claims.dev, claims.role),
            (user, device, Role::Moderator)
        );
        assert_eq!(claims.exp - claims.iat, 900);
    }

    #[test]
    fn tampered_foreign_none_and_expired_tokens_are_rejected() {
        let keys = keys();
        let token = keys
            .issue(UserId::generate(), DeviceRowId::generate(), Role::User)
            .expect("signed");
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();

        // A payload claiming admin, with the old signature.
        let payload = URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64");
        let forged = String::from_utf8(payload)
            .expect("utf8")
            .replace("\"user\"", "\"admin\"");
        parts[1] = URL_SAFE_NO_PAD.encode(forged);
        assert!(matches!(
            keys.verify(&parts.join(".")),
            Err(Error::InvalidToken)
        ));

        // alg=none with no signature.
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let unsigned = format!("{none}.{}.", parts[1]);
        assert!(matches!(keys.verify(&unsigned), Err(Error::InvalidToken)));

        // Signed by someone else.
        let other = AccessTokens::new(
            &SecretString::from("another-secret-another-secret-xx"),
            Duration::from_secs(900),
        )
        .expect("long enough");
        let foreign = other
            .issue(UserId::generate(), DeviceRowId::generate(), Role::User)
            .expect("signed");
        assert!(matches!(keys.verify(&foreign), Err(Error::InvalidToken)));

        // HS384 with our own secret: the algorithm is pinned.
        let claims = keys.verify(&token).expect("valid");
        let hs384 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS384),
            &claims,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("signed");
        assert!(matches!(keys.verify(&hs384), Err(Error::InvalidToken)));

        // Expired long ago.
        let mut old = claims;
        old.iat = 1_000;
        old.exp = 2_000;
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &old,
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .expect("signed");
        assert!(matches!(keys.verify(&expired), Err(Error::TokenExpired)));
        assert!(matches!(keys.verify("garbage"), Err(Error::InvalidToken)));
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_hashed() {
        let (a, hash_a) = new_refresh_token().expect("random");
        let (b, _) = new_refresh_token().expect("random");
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_refresh_token(&a), hash_a);
    }
}
