//! Bearer-token checks (server.md §5): SHA-256 digests compared in constant
//! time against every configured entry.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use crate::config::Tokens;

/// The digests of one token list (ingest or read).
#[derive(Clone)]
pub struct TokenSet {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenSet(<{} redacted>)", self.digests.len())
    }
}

impl TokenSet {
    pub fn new(tokens: &Tokens) -> Self {
        TokenSet {
            digests: tokens
                .expose()
                .iter()
                .map(|t| Sha256::digest(t.as_bytes()).into())
                .collect(),
        }
    }

    /// `true` if `presented` equals any configured token. Every entry is
    /// compared, in constant time, whatever matches.
    pub fn matches(&self, presented: &str) -> bool {
        let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut ok = Choice::from(0);
        for c in &self.digests {
            ok |= c.ct_eq(&d);
        }
        ok.into()
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme
/// case-insensitive).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_and_mismatch() {
        let set = TokenSet::new(&Tokens::parse(Some("a,b")).unwrap());
        assert!(set.matches("a"));
        assert!(set.matches("b"));
        assert!(!set.matches("c"));
        assert!(!set.matches(""));
        assert_eq!(format!("{set:?}"), "TokenSet(<2 redacted>)");
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer a"), Some("a"));
        assert_eq!(bearer_token("bearer b"), Some("b"));
        assert_eq!(bearer_token("BEARER  c "), Some("c"));
        assert_eq!(bearer_token("Basic a"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearer "), None);
    }
}
