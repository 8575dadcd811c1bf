//! JWKS: parsing a key set (pure), choosing a key for a token (pure), and the
//! cache that loads, reloads on an unknown `kid` (rate-limited) and refreshes
//! in the background (proxy.md §5).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};
use serde::Deserialize;

use crate::config::JwksSource;
use crate::metrics::Metrics;

/// Largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 1 << 20;

/// One usable verification key.
#[derive(Debug, Clone)]
pub struct VerificationKey {
    /// The JWK `kid`, if any.
    pub kid: Option<String>,
    /// The one algorithm this key verifies: RS256, ES256 or EdDSA.
    pub alg: Algorithm,
    /// The key.
    pub key: DecodingKey,
}

/// The usable keys of a JWKS document.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    /// Keys in document order.
    pub keys: Vec<VerificationKey>,
}

/// The key a token should be checked with.
#[derive(Debug)]
pub enum Selection<'a> {
    /// Verify with this key.
    Key(&'a DecodingKey),
    /// The token names a `kid` the set does not have (a reload may help).
    UnknownKid,
    /// No key fits (a `kid` whose key has another type, or no `kid` and not
    /// exactly one fitting key).
    NoFit,
}

impl KeySet {
    /// Chooses the key for a token with header `kid` and `alg`.
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Selection<'_> {
        match kid {
            Some(kid) => {
                let mut named = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if named.peek().is_none() {
                    return Selection::UnknownKid;
                }
                named
                    .find(|k| k.alg == alg)
                    .map_or(Selection::NoFit, |k| Selection::Key(&k.key))
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.alg == alg);
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => Selection::Key(&k.key),
                    _ => Selection::NoFit,
                }
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWKS document. Keys that cannot verify RS256, ES256 or EdDSA
/// signatures (encryption keys, other curves, malformed or short keys) are
/// skipped and reported in the second value; a document with no usable key is
/// an error.
pub fn parse_jwks(bytes: &[u8]) -> Result<(KeySet, Vec<String>), String> {
    let raw: RawSet = serde_json::from_slice(bytes)
        .map_err(|e| format!("not a JWKS document (a JSON object with a \"keys\" array): {e}"))?;
    let mut set = KeySet::default();
    let mut skipped = Vec::new();
    for (i, value) in raw.keys.into_iter().enumerate() {
        match serde_json::from_value::<RawJwk>(value)
            .map_err(|e| e.to_string())
            .and_then(|jwk| convert(&jwk))
        {
            Ok(key) => set.keys.push(key),
            Err(why) => skipped.push(format!("keys[{i}]: {why}")),
        }
    }
    if set.keys.is_empty() {
        return Err(format!(
            "no usable RS256, ES256 or EdDSA signing key{}",
            if skipped.is_empty() {
                String::new()
            } else {
                format!(" ({})", skipped.join("; "))
            }
        ));
    }
    Ok((set, skipped))
}

fn convert(jwk: &RawJwk) -> Result<VerificationKey, String> {
    if let Some(u) = &jwk.use_
        && u != "sig"
    {
        return Err(format!("use {u:?} is not \"sig\""));
    }
    let field = |v: &Option<String>, name: &str| {
        v.as_deref()
            .ok_or_else(|| format!("{} key without \"{name}\"", jwk.kty))
            .map(str::to_owned)
    };
    let (alg, key, accepted_algs): (Algorithm, DecodingKey, &[&str]) =
        match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let key =
                    DecodingKey::from_rsa_components(&field(&jwk.n, "n")?, &field(&jwk.e, "e")?)
                        .map_err(|e| format!("bad RSA components: {e}"))?;
                if let DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() {
                    let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
                    if bits < 2048 {
                        return Err(format!(
                            "RSA modulus of about {bits} bits; at least 2048 required"
                        ));
                    }
                    if e.is_empty() || e.len() > 8 {
                        return Err("bad RSA exponent".to_owned());
                    }
                }
                (Algorithm::RS256, key, &["RS256"])
            }
            ("EC", Some("P-256")) => {
                let key =
                    DecodingKey::from_ec_components(&field(&jwk.x, "x")?, &field(&jwk.y, "y")?)
                        .map_err(|e| format!("bad EC components: {e}"))?;
                if raw_len(&key) != Some(65) {
                    return Err("P-256 x and y must be 32 bytes each".to_owned());
                }
                (Algorithm::ES256, key, &["ES256"])
            }
            ("OKP", Some("Ed25519")) => {
                let key = DecodingKey::from_ed_components(&field(&jwk.x, "x")?)
                    .map_err(|e| format!("bad Ed25519 component: {e}"))?;
                if raw_len(&key) != Some(32) {
                    return Err("Ed25519 x must be 32 bytes".to_owned());
                }
                (Algorithm::EdDSA, key, &["EdDSA", "Ed25519"])
            }
            (kty, crv) => {
                return Err(format!(
                    "unsupported key type {kty:?}{}",
                    crv.map(|c| format!(" curve {c:?}")).unwrap_or_default()
                ));
            }
        };
    if let Some(a) = &jwk.alg
        && !accepted_algs.contains(&a.as_str())
    {
        return Err(format!("alg {a:?} is not supported for a {} key", jwk.kty));
    }
    Ok(VerificationKey {
        kid: jwk.kid.clone(),
        alg,
        key,
    })
}

fn raw_len(key: &DecodingKey) -> Option<usize> {
    match key.kind() {
        DecodingKeyKind::SecretOrDer(b) => Some(b.len()),
        DecodingKeyKind::RsaModulusExponent { .. } => None,
    }
}

/// The JWKS cache.
#[derive(Debug)]
pub struct Jwks {
    source: JwksSource,
    client: Option<reqwest::Client>,
    fetch_timeout: Duration,
    min_reload_interval: Duration,
    current: RwLock<Option<Arc<KeySet>>>,
    generation: AtomicU64,
    last_on_demand: tokio::sync::Mutex<Option<Instant>>,
    metrics: Metrics,
}

impl Jwks {
    /// A cache with nothing loaded yet. A URL source gets its own HTTP
    /// client with normal TLS verification (rustls with *ring*, installed as
    /// the process default provider if there is none).
    pub fn new(
        source: JwksSource,
        fetch_timeout: Duration,
        min_reload_interval: Duration,
        metrics: Metrics,
    ) -> Result<Self, reqwest::Error> {
        let client = match &source {
            JwksSource::Url(_) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                Some(
                    reqwest::Client::builder()
                        .connect_timeout(fetch_timeout)
                        .timeout(fetch_timeout)
                        .build()?,
                )
            }
            JwksSource::File(_) => None,
        };
        Ok(Self {
            source,
            client,
            fetch_timeout,
            min_reload_interval,
            current: RwLock::new(None),
            generation: AtomicU64::new(0),
            last_on_demand: tokio::sync::Mutex::new(None),
            metrics,
        })
    }

    /// The key set in use, if any has loaded.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes every time a new set is installed.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether a key set has ever loaded.
    pub fn is_loaded(&self) -> bool {
        self.current().is_some()
    }

    /// Installs a set (used for the synchronous file load at start).
    pub fn install(&self, set: KeySet) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::new(set));
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Reads or fetches the document and parses it.
    pub async fn fetch(&self) -> Result<KeySet, String> {
        let bytes = match &self.source {
            JwksSource::File(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || std::fs::read(&path))
                    .await
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?
            }
            JwksSource::Url(url) => {
                let client = self
                    .client
                    .as_ref()
                    .ok_or("no HTTP client for the JWKS URL")?;
                let fut = fetch_url(client, url);
                tokio::time::timeout(self.fetch_timeout, fut)
                    .await
                    .map_err(|_| format!("no answer within {:?}", self.fetch_timeout))??
            }
        };
        let (set, skipped) = parse_jwks(&bytes)?;
        for s in skipped {
            tracing::warn!(key = %s, "JWKS key skipped");
        }
        Ok(set)
    }
}

async fn fetch_url(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut resp = client
        .get(url)
        .header(http::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| error_chain(&e))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| error_chain(&e))? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_JWKS_BYTES {
            return Err("document larger than 1 MiB".to_owned());
        }
    }
    Ok(body)
}

impl Jwks {
    /// Loads the set again; a failure keeps the previous set. Returns whether
    /// it succeeded.
    pub async fn reload(&self, why: &'static str) -> bool {
        match self.fetch().await {
            Ok(set) => {
                let n = set.keys.len();
                self.install(set);
                self.metrics.jwks_reload("success");
                tracing::info!(reason = why, keys = n, "JWKS loaded");
                true
            }
            Err(error) => {
                self.metrics.jwks_reload("failure");
                tracing::error!(reason = why, error = %error, "JWKS load failed; keeping the previous key set");
                false
            }
        }
    }

    /// Called when a token names a `kid` the set did not have at generation
    /// `seen`. Reloads at most once per `min_reload_interval`; concurrent
    /// callers wait for one reload instead of starting their own.
    pub async fn reload_for_unknown_kid(&self, seen: u64) {
        let mut last = self.last_on_demand.lock().await;
        if self.generation() != seen {
            return; // someone else installed a newer set meanwhile
        }
        if last.is_some_and(|t| t.elapsed() < self.min_reload_interval) {
            return;
        }
        *last = Some(Instant::now());
        self.reload("unknown kid").await;
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public components of tests/fixtures/rsa-a.pem and ec-a.pem.
    const N2048: &str = "9WJzulhu9tCJlC5oJ_mH1t_mSLM7h_2SZa8xA4KgLXKxnHyIQMmaQIGJTWjkTzqL6XWOUSpDLH1Wh_PHxg5PFzi7HFtPYLd4ktChWbzAn_JdwJ6TCeMSxBwRiho1nlpw-db4f0CBBI3V3a7b45nwckleBiu1gyQuD8dL4ugPYuGQgqZUlOxS4L1ywhPJ39PVwpRS4RzuZQkqIQfvzvft8-hhiR-RuX-0mWPj7hl3ueC_6DAQFn3A5FHGVHxMOmoDRXMf5Q-jFJ9SEX3w2cZaDRcEHL2DAcJ2vQpPSCyLBxGBMuCBTbtxo3PpcVz-_VwZmmxFvaZ7Dby3TYYwsgzbBw";
    const X32: &str = "UgZhXaVyeW3TMufUTnFeeZqvclJSkkjuslVCgRpzMHQ";
    const Y32: &str = "V_9haZVPvwKRn0Di4tSDyPa5IklJNKZexOHE7Ynl2PU";

    fn rsa(kid: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({"kty":"RSA","n":N2048,"e":"AQAB","alg":"RS256","use":"sig"});
        if let Some(k) = kid {
            v["kid"] = k.into();
        }
        v
    }

    fn doc(keys: &[serde_json::Value]) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap()
    }

    #[test]
    fn parses_the_three_key_types() {
        let (set, skipped) = parse_jwks(&doc(&[
            rsa(Some("r")),
            serde_json::json!({"kty":"EC","crv":"P-256","x":X32,"y":Y32,"kid":"e"}),
            serde_json::json!({"kty":"OKP","crv":"Ed25519","x":X32,"kid":"o","alg":"EdDSA"}),
        ]))
        .unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        let algs: Vec<_> = set
            .keys
            .iter()
            .map(|k| (k.kid.clone().unwrap(), k.alg))
            .collect();
        assert_eq!(
            algs,
            vec![
                ("r".to_owned(), Algorithm::RS256),
                ("e".to_owned(), Algorithm::ES256),
                ("o".to_owned(), Algorithm::EdDSA)
            ]
        );
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let (set, skipped) = parse_jwks(&doc(&[
            rsa(Some("ok")),
            serde_json::json!({"kty":"RSA","n":"AQAB","e":"AQAB","kid":"short"}),
            serde_json::json!({"kty":"RSA","n":N2048,"e":"AQAB","use":"enc"}),
            serde_json::json!({"kty":"RSA","n":N2048,"e":"AQAB","alg":"PS256"}),
            serde_json::json!({"kty":"EC","crv":"P-384","x":X32,"y":Y32}),
            serde_json::json!({"kty":"EC","crv":"P-256","x":"AQAB","y":Y32}),
            serde_json::json!({"kty":"OKP","crv":"Ed25519","x":"AQAB"}),
            serde_json::json!({"kty":"OKP","crv":"X25519","x":X32}),
            serde_json::json!({"kty":"oct","k":"c2VjcmV0"}),
            serde_json::json!({"kty":"RSA","e":"AQAB"}),
            serde_json::json!("not an object"),
        ]))
        .unwrap();
        assert_eq!(set.keys.len(), 1);
        assert_eq!(skipped.len(), 10, "{skipped:?}");
    }

    #[test]
    fn documents_without_usable_keys_are_errors() {
        assert!(parse_jwks(b"{}").is_err());
        assert!(parse_jwks(b"[]").is_err());
        assert!(parse_jwks(b"not json").is_err());
        assert!(parse_jwks(&doc(&[])).is_err());
        let err = parse_jwks(&doc(&[serde_json::json!({"kty":"oct","k":"c2VjcmV0"})])).unwrap_err();
        assert!(err.contains("unsupported key type \"oct\""), "{err}");
    }

    #[test]
    fn selection_by_kid_and_alg() {
        let (set, _) = parse_jwks(&doc(&[
            rsa(Some("r1")),
            rsa(Some("r2")),
            serde_json::json!({"kty":"EC","crv":"P-256","x":X32,"y":Y32,"kid":"e1"}),
        ]))
        .unwrap();
        assert!(matches!(
            set.select(Some("r1"), Algorithm::RS256),
            Selection::Key(_)
        ));
        assert!(matches!(
            set.select(Some("e1"), Algorithm::ES256),
            Selection::Key(_)
        ));
        // kid exists but its key type does not fit the token's alg.
        assert!(matches!(
            set.select(Some("e1"), Algorithm::RS256),
            Selection::NoFit
        ));
        assert!(matches!(
            set.select(Some("zz"), Algorithm::RS256),
            Selection::UnknownKid
        ));
        // Without kid: exactly one fitting key, else no fit.
        assert!(matches!(
            set.select(None, Algorithm::ES256),
            Selection::Key(_)
        ));
        assert!(matches!(
            set.select(None, Algorithm::RS256),
            Selection::NoFit
        ));
        assert!(matches!(
            set.select(None, Algorithm::EdDSA),
            Selection::NoFit
        ));
    }
}
