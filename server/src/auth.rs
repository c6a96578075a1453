//! Per-bot authentication of API callers.
//!
//! A bot is either anonymous ([`Auth::None`]) or requires `Authorization: Bearer <JWT>`
//! ([`Auth::Jwt`]). The algorithm is pinned by the bot's config (HS256 with a shared secret or
//! RS256 with a PEM public key) and never taken from the token's header; `exp` is required,
//! `nbf`, `iss` and `aud` are checked when configured, all with a small leeway for clock skew.
//! The token's `sub` is the user: a thread belongs to the `sub` that created it, and another
//! user is answered 404 as if it did not exist.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

pub enum Auth {
    None,
    Jwt(Box<JwtAuth>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("Auth::None"),
            // Never print keys.
            Auth::Jwt(j) => write!(f, "Auth::Jwt({:?})", j.validation.algorithms),
        }
    }
}

pub struct JwtAuth {
    pub key: DecodingKey,
    pub validation: Validation,
}

impl JwtAuth {
    pub fn new(
        alg: Algorithm,
        key: DecodingKey,
        issuer: Option<String>,
        audience: Option<String>,
        leeway_secs: u64,
    ) -> Self {
        let mut v = Validation::new(alg);
        v.algorithms = vec![alg];
        v.leeway = leeway_secs;
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = issuer {
            v.set_issuer(&[iss]);
        }
        match audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        JwtAuth { key, validation: v }
    }
}

/// Who is calling. `sub` is `None` on anonymous bots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub sub: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("this bot requires a bearer token")]
    Missing,
    #[error("the token has expired")]
    Expired,
    #[error("invalid token: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl Auth {
    /// Checks the `Authorization` header value (if any) against this bot's rules.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal, AuthError> {
        let Auth::Jwt(jwt) = self else {
            return Ok(Principal { sub: None });
        };
        let header = header.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| AuthError::Invalid("expected `Bearer <token>`".into()))?
            .trim();
        use jsonwebtoken::errors::ErrorKind;
        match decode::<Claims>(token, &jwt.key, &jwt.validation) {
            Ok(data) if !data.claims.sub.is_empty() => Ok(Principal {
                sub: Some(data.claims.sub),
            }),
            Ok(_) => Err(AuthError::Invalid("empty sub".into())),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => {
                    AuthError::Invalid("token not valid yet (nbf)".into())
                }
                ErrorKind::InvalidIssuer => AuthError::Invalid("wrong issuer".into()),
                ErrorKind::InvalidAudience => AuthError::Invalid("wrong audience".into()),
                ErrorKind::InvalidAlgorithm => AuthError::Invalid("algorithm not allowed".into()),
                ErrorKind::InvalidSignature => AuthError::Invalid("bad signature".into()),
                ErrorKind::MissingRequiredClaim(c) => {
                    AuthError::Invalid(format!("missing claim `{c}`"))
                }
                _ => AuthError::Invalid("malformed token".into()),
            }),
        }
    }

    pub fn required(&self) -> bool {
        matches!(self, Auth::Jwt(_))
    }
}
