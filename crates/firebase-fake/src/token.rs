//! The fake Google OAuth2 token endpoint (`POST /token`, JWT bearer grant) and the test
//! service account whose key signs the assertions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::incoming::Incoming;
use crate::reply::Reply;
use crate::state::{Config, State};

/// The private half of the fake service account's RSA 2048 key (PKCS#8 PEM).
///
/// A TEST-ONLY key, generated for this crate and committed on purpose: it is never a secret
/// and must never be trusted by anything but this fake.
pub const TEST_PRIVATE_KEY_PEM: &str = include_str!("test_private_key.pem");
/// The public half of [`TEST_PRIVATE_KEY_PEM`] (SubjectPublicKeyInfo PEM); the token
/// endpoint verifies assertions with it. Test-only, like the private key.
pub const TEST_PUBLIC_KEY_PEM: &str = include_str!("test_public_key.pem");
/// The fake service account's `client_email`, the `iss` an assertion must carry.
pub const CLIENT_EMAIL: &str = "firebase-adminsdk-fake@fake-project.iam.gserviceaccount.com";
/// The fake service account's `private_key_id`; an assertion's `kid`, if any, must equal it.
pub const PRIVATE_KEY_ID: &str = "f4ke0000000000000000000000000000000000id";
/// The fake service account's `project_id`.
pub const PROJECT_ID: &str = "fake-project";
/// The scope for Realtime Database access.
pub const DATABASE_SCOPE: &str = "https://www.googleapis.com/auth/firebase.database";
/// The scope for the account's e-mail address, also required by the database.
pub const USERINFO_EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";
/// The `grant_type` of the JWT bearer flow.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of issued access tokens, as `expires_in` reports it.
pub const TOKEN_LIFETIME_SECS: u64 = 3599;
/// How far an assertion's `iat` may be from the fake's clock.
const MAX_SKEW_SECS: i64 = 300;
/// The longest assertion lifetime (`exp - iat`) Google accepts.
const MAX_ASSERTION_SECS: i64 = 3600;

/// The service-account key file (JSON text) for a fake whose token endpoint is `token_uri`.
pub(crate) fn service_account_json(token_uri: &str) -> String {
    let key = json!({
        "type": "service_account",
        "project_id": PROJECT_ID,
        "private_key_id": PRIVATE_KEY_ID,
        "private_key": TEST_PRIVATE_KEY_PEM,
        "client_email": CLIENT_EMAIL,
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/firebase-adminsdk-fake%40fake-project.iam.gserviceaccount.com",
        "universe_domain": "googleapis.com",
    });
    serde_json::to_string_pretty(&key).unwrap_or_else(|_| key.to_string())
}

/// Answers a token request: checks the grant and the assertion, issues a token.
pub(crate) fn handle(state: &mut State, config: &Config, request: &Incoming) -> Reply {
    match exchange(state, config, request) {
        Ok(reply) | Err(reply) => reply,
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "error": error, "error_description": description }),
        false,
    )
}

fn exchange(state: &mut State, config: &Config, request: &Incoming) -> Result<Reply, Reply> {
    if request.method != "POST" {
        return Err(oauth_error(
            405,
            "invalid_request",
            "The token endpoint takes POST.",
        ));
    }
    let form_type = request.header("content-type").is_some_and(|t| {
        t.trim_start()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form_type {
        return Err(oauth_error(
            400,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded.",
        ));
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        Some(JWT_BEARER_GRANT) => {}
        Some(other) => {
            return Err(oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            ));
        }
        None => {
            return Err(oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: grant_type",
            ));
        }
    }
    let Some(assertion) = field("assertion") else {
        return Err(oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        ));
    };
    verify(assertion, &config.token_uri, unix_now())
        .map_err(|description| oauth_error(400, "invalid_grant", &description))?;
    state.tokens_issued += 1;
    let token = state.new_token(Duration::from_secs(TOKEN_LIFETIME_SECS));
    Ok(Reply::json(
        200,
        &json!({ "access_token": token, "expires_in": TOKEN_LIFETIME_SECS, "token_type": "Bearer" }),
        false,
    ))
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// The claims the endpoint looks at; all optional so a missing one gets a clear error.
#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Value>,
    scope: Option<String>,
    iat: Option<Value>,
    exp: Option<Value>,
}

/// Checks an assertion the way Google does (signature, issuer, audience, scopes, lifetime).
fn verify(assertion: &str, token_uri: &str, now: i64) -> Result<(), String> {
    const BAD_SIGNATURE: &str = "Invalid JWT Signature.";
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| "Invalid JWT: the assertion is not a JWT.".to_owned())?;
    if header.alg != Algorithm::RS256 {
        return Err(BAD_SIGNATURE.to_owned());
    }
    if header
        .kid
        .as_deref()
        .is_some_and(|kid| kid != PRIVATE_KEY_ID)
    {
        return Err(BAD_SIGNATURE.to_owned());
    }
    let key = DecodingKey::from_rsa_pem(TEST_PUBLIC_KEY_PEM.as_bytes())
        .map_err(|e| format!("firebase-fake cannot load its test public key: {e}"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => BAD_SIGNATURE.to_owned(),
            _ => format!("Invalid JWT: {e}"),
        })?
        .claims;
    if claims.iss.as_deref() != Some(CLIENT_EMAIL) {
        return Err("Invalid grant: account not found".to_owned());
    }
    let audience_ok = match &claims.aud {
        Some(Value::String(aud)) => aud == token_uri,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(token_uri)),
        _ => false,
    };
    if !audience_ok {
        return Err(format!(
            "Invalid JWT: Failed audience check. The right audience is {token_uri}"
        ));
    }
    let scopes: Vec<&str> = claims
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    for needed in [DATABASE_SCOPE, USERINFO_EMAIL_SCOPE] {
        if !scopes.contains(&needed) {
            return Err(format!("Invalid JWT: the scope claim lacks {needed}"));
        }
    }
    let seconds = |v: &Option<Value>| v.as_ref().and_then(Value::as_f64);
    let timing_ok = match (seconds(&claims.iat), seconds(&claims.exp)) {
        #[allow(clippy::cast_possible_truncation)]
        (Some(iat), Some(exp)) => {
            let (iat, exp) = (iat as i64, exp as i64);
            exp > iat
                && exp - iat <= MAX_ASSERTION_SECS
                && (iat - now).abs() <= MAX_SKEW_SECS
                && exp > now
        }
        _ => false,
    };
    if !timing_ok {
        return Err("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    const URI: &str = "http://127.0.0.1:1/token";

    fn sign(claims: &Value, alg: Algorithm) -> String {
        let key = match alg {
            Algorithm::HS256 => EncodingKey::from_secret(b"not the key"),
            _ => EncodingKey::from_rsa_pem(TEST_PRIVATE_KEY_PEM.as_bytes())
                .unwrap_or_else(|_| EncodingKey::from_secret(b"")),
        };
        jsonwebtoken::encode(&Header::new(alg), claims, &key).unwrap_or_default()
    }

    fn claims(now: i64) -> Value {
        json!({"iss": CLIENT_EMAIL, "aud": URI, "scope": format!("{DATABASE_SCOPE} {USERINFO_EMAIL_SCOPE}"), "iat": now, "exp": now + 3600})
    }

    #[test]
    fn good_assertions_pass_and_bad_ones_say_why() {
        let now = 1_800_000_000;
        assert_eq!(
            verify(&sign(&claims(now), Algorithm::RS256), URI, now),
            Ok(())
        );
        let mut c = claims(now);
        c["exp"] = json!(now + 3601);
        assert!(verify(&sign(&c, Algorithm::RS256), URI, now).is_err());
        assert!(verify(&sign(&claims(now - 600), Algorithm::RS256), URI, now).is_err());
        let mut c = claims(now);
        c["scope"] = json!(DATABASE_SCOPE);
        assert!(verify(&sign(&c, Algorithm::RS256), URI, now).is_err());
        let mut c = claims(now);
        c["aud"] = json!("https://oauth2.googleapis.com/token");
        assert!(verify(&sign(&c, Algorithm::RS256), URI, now).is_err());
        let mut c = claims(now);
        c["iss"] = json!("someone@else");
        assert!(verify(&sign(&c, Algorithm::RS256), URI, now).is_err());
        assert_eq!(
            verify(&sign(&claims(now), Algorithm::HS256), URI, now),
            Err("Invalid JWT Signature.".to_owned())
        );
        assert!(verify("not.a.jwt", URI, now).is_err());
    }
}
