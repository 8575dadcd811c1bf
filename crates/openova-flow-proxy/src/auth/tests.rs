//! The verification matrix of proxy.md §5 and Acceptance 3–8, on the
//! checked-in test keys (tests/fixtures).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, get_current_timestamp};
use serde_json::{Value, json};

use super::jwks::Jwks;
use super::*;
use crate::config::JwksSource;
use crate::metrics::Metrics;

const SECRET: &[u8] = b"development-secret-of-some-length";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .unwrap()
}

fn public_jwk(name: &str) -> Value {
    let all: Value = serde_json::from_slice(&fixture("jwks-public-keys.json")).unwrap();
    all[name].clone()
}

fn encoding_key(name: &str) -> (EncodingKey, Algorithm) {
    let pem = fixture(&format!("{name}.pem"));
    if name.starts_with("rsa") {
        (EncodingKey::from_rsa_pem(&pem).unwrap(), Algorithm::RS256)
    } else if name.starts_with("ec") {
        (EncodingKey::from_ec_pem(&pem).unwrap(), Algorithm::ES256)
    } else {
        (EncodingKey::from_ed_pem(&pem).unwrap(), Algorithm::EdDSA)
    }
}

/// Signs `claims` with fixture key `key_name`, header `kid` = `kid`.
fn sign(key_name: &str, kid: Option<&str>, claims: &Value) -> String {
    let (key, alg) = encoding_key(key_name);
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn sign_hs(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn now() -> i64 {
    i64::try_from(get_current_timestamp()).unwrap()
}

fn claims() -> Value {
    json!({"sub":"alice","exp": now() + 300, "deployments":["d1"]})
}

struct Fixture {
    auth: Authenticator,
    metrics: Metrics,
    jwks_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn write_jwks(path: &Path, names: &[&str]) {
    let keys: Vec<Value> = names.iter().map(|n| public_jwk(n)).collect();
    std::fs::write(path, serde_json::to_vec(&json!({ "keys": keys })).unwrap()).unwrap();
}

async fn fixture_with(names: &[&str], secret: Option<&[u8]>, rules: ClaimRules) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let jwks_path = dir.path().join("jwks.json");
    write_jwks(&jwks_path, names);
    let metrics = Metrics::default();
    let jwks = if names.is_empty() {
        None
    } else {
        let j = Jwks::new(
            JwksSource::File(jwks_path.clone()),
            Duration::from_secs(5),
            Duration::from_secs(60),
            metrics.clone(),
        )
        .unwrap();
        assert!(j.reload("start").await);
        Some(Arc::new(j))
    };
    Fixture {
        auth: Authenticator::new(secret, jwks, rules),
        metrics,
        jwks_path,
        _dir: dir,
    }
}

fn rules() -> ClaimRules {
    ClaimRules {
        leeway: Duration::from_secs(30),
        issuer: None,
        audience: None,
    }
}

async fn standard() -> Fixture {
    fixture_with(&["rsa-a", "ec-a", "ed-a"], Some(SECRET), rules()).await
}

fn invalid() -> Unauthenticated {
    Unauthenticated {
        reason: AuthFailure::Invalid,
        presented: true,
    }
}

#[tokio::test]
async fn acceptance_8_every_algorithm_with_its_key_source() {
    let f = standard().await;
    for (key, kid) in [("rsa-a", "rsa-a"), ("ec-a", "ec-a"), ("ed-a", "ed-a")] {
        let c = f
            .auth
            .verify(&sign(key, Some(kid), &claims()))
            .await
            .unwrap();
        assert_eq!(c.sub(), Some("alice"), "{key}");
    }
    let c = f.auth.verify(&sign_hs(SECRET, &claims())).await.unwrap();
    assert_eq!(c.sub(), Some("alice"));
}

#[tokio::test]
async fn acceptance_3_bad_tokens_are_invalid() {
    let f = standard().await;
    let good = sign("rsa-a", Some("rsa-a"), &claims());
    // Bad signature: payload swapped for another one.
    let mut parts: Vec<&str> = good.split('.').collect();
    let other = sign(
        "rsa-a",
        Some("rsa-a"),
        &json!({"sub":"mallory","exp":now()+300,"deployments":["*"]}),
    );
    let other_payload = other.split('.').nth(1).unwrap().to_owned();
    parts[1] = &other_payload;
    let tampered = parts.join(".");
    // alg none.
    let b64 = |v: &Value| {
        use std::fmt::Write as _;
        let bytes = serde_json::to_vec(v).unwrap();
        // base64url without padding, by hand (no extra dependency).
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                let _ = out.write_char(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            }
        }
        out
    };
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg":"none","typ":"JWT"})),
        b64(&claims())
    );
    let cases = [
        ("tampered payload", tampered),
        (
            "signed by a key not in the JWKS, same kid",
            sign("rsa-other", Some("rsa-a"), &claims()),
        ),
        (
            "EC key not in the JWKS, same kid",
            sign("ec-other", Some("ec-a"), &claims()),
        ),
        (
            "Ed25519 key not in the JWKS, same kid",
            sign("ed-other", Some("ed-a"), &claims()),
        ),
        ("alg none", none),
        (
            "HS256 with another secret",
            sign_hs(b"another-secret", &claims()),
        ),
        ("not a JWT", "abc".to_owned()),
        ("two parts", "a.b".to_owned()),
        ("four parts", format!("{good}.x")),
        ("empty", String::new()),
        (
            "kid of an EC key on an RS256 token",
            sign("rsa-a", Some("ec-a"), &claims()),
        ),
    ];
    for (what, token) in cases {
        assert_eq!(
            f.auth.verify(&token).await.unwrap_err(),
            invalid(),
            "{what}"
        );
    }
}

#[tokio::test]
async fn unsupported_algorithms_are_rejected() {
    let f = standard().await;
    let (key, _) = encoding_key("rsa-a");
    for alg in [Algorithm::RS384, Algorithm::RS512, Algorithm::PS256] {
        let mut h = Header::new(alg);
        h.kid = Some("rsa-a".into());
        let token = jsonwebtoken::encode(&h, &claims(), &key).unwrap();
        assert_eq!(
            f.auth.verify(&token).await.unwrap_err(),
            invalid(),
            "{alg:?}"
        );
    }
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &claims(),
        &EncodingKey::from_secret(SECRET),
    )
    .unwrap();
    assert_eq!(f.auth.verify(&hs512).await.unwrap_err(), invalid());
}

#[tokio::test]
async fn no_algorithm_confusion() {
    // Only a JWKS: an HS256 token is refused, whatever it was signed with —
    // including the RSA public key's bytes used as an HMAC secret.
    let only_jwks = fixture_with(&["rsa-a"], None, rules()).await;
    assert_eq!(
        only_jwks
            .auth
            .verify(&sign_hs(SECRET, &claims()))
            .await
            .unwrap_err(),
        invalid()
    );
    let n = public_jwk("rsa-a")["n"].as_str().unwrap().to_owned();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("rsa-a".into());
    let confused =
        jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(n.as_bytes())).unwrap();
    assert_eq!(
        only_jwks.auth.verify(&confused).await.unwrap_err(),
        invalid()
    );
    // Only a secret: asymmetric tokens are refused.
    let only_secret = fixture_with(&[], Some(SECRET), rules()).await;
    assert_eq!(
        only_secret
            .auth
            .verify(&sign("rsa-a", Some("rsa-a"), &claims()))
            .await
            .unwrap_err(),
        invalid()
    );
    assert!(
        only_secret
            .auth
            .verify(&sign_hs(SECRET, &claims()))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn acceptance_4_time_claims_with_30s_leeway() {
    let f = standard().await;
    // HS256: signing is instant, so "31 s" stays 31 s by the time it is checked
    // (asymmetric signing in an unoptimised build can take most of a second).
    let t = |c: Value| sign_hs(SECRET, &c);
    assert!(
        f.auth
            .verify(&sign("ec-a", Some("ec-a"), &json!({"exp": now() - 10})))
            .await
            .is_ok()
    );
    assert!(f.auth.verify(&t(json!({"exp": now() - 10}))).await.is_ok());
    assert_eq!(
        f.auth
            .verify(&t(json!({"exp": now() - 31})))
            .await
            .unwrap_err(),
        Unauthenticated {
            reason: AuthFailure::Expired,
            presented: true
        }
    );
    // Whole seconds: start early in a second so "31 s ahead" is still 31 s
    // ahead when checked, however busy the machine is.
    let sub = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    if sub > 100 {
        tokio::time::sleep(Duration::from_millis(u64::from(1005 - sub))).await;
    }
    assert_eq!(
        f.auth
            .verify(&t(json!({"exp": now() + 300, "nbf": now() + 31})))
            .await
            .unwrap_err(),
        invalid()
    );
    assert!(
        f.auth
            .verify(&t(json!({"exp": now() + 300, "nbf": now() + 10})))
            .await
            .is_ok()
    );
    assert_eq!(
        f.auth
            .verify(&t(json!({"sub": "no-exp"})))
            .await
            .unwrap_err(),
        invalid()
    );
    assert_eq!(
        f.auth
            .verify(&t(json!({"exp": "tomorrow"})))
            .await
            .unwrap_err(),
        invalid()
    );
    // The same rules apply to HS256.
    assert!(
        f.auth
            .verify(&sign_hs(SECRET, &json!({"exp": now() - 31})))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn acceptance_5_issuer_and_audience_when_configured() {
    let f = fixture_with(
        &["rsa-a"],
        None,
        ClaimRules {
            leeway: Duration::from_secs(30),
            issuer: Some("https://idp.example".into()),
            audience: Some("console".into()),
        },
    )
    .await;
    let t = |extra: Value| {
        let mut c = claims();
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign("rsa-a", Some("rsa-a"), &c)
    };
    assert!(
        f.auth
            .verify(&t(json!({"iss":"https://idp.example","aud":"console"})))
            .await
            .is_ok()
    );
    assert!(
        f.auth
            .verify(&t(
                json!({"iss":"https://idp.example","aud":["other","console"]})
            ))
            .await
            .is_ok()
    );
    for (what, extra) in [
        (
            "wrong iss",
            json!({"iss":"https://evil.example","aud":"console"}),
        ),
        ("missing iss", json!({"aud":"console"})),
        (
            "aud array without the audience",
            json!({"iss":"https://idp.example","aud":["other","x"]}),
        ),
        (
            "wrong aud",
            json!({"iss":"https://idp.example","aud":"other"}),
        ),
        ("missing aud", json!({"iss":"https://idp.example"})),
        ("iss not a string", json!({"iss":42,"aud":"console"})),
    ] {
        assert_eq!(
            f.auth.verify(&t(extra)).await.unwrap_err(),
            invalid(),
            "{what}"
        );
    }
    // Without configuration, iss and aud are not checked.
    let open = standard().await;
    assert!(
        open.auth
            .verify(&t(json!({"iss":"anyone","aud":["whoever"]})))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn key_choice_without_kid() {
    let one = fixture_with(&["rsa-a", "ec-a"], None, rules()).await;
    assert!(
        one.auth
            .verify(&sign("rsa-a", None, &claims()))
            .await
            .is_ok()
    );
    assert!(
        one.auth
            .verify(&sign("ec-a", None, &claims()))
            .await
            .is_ok()
    );
    let two = fixture_with(&["rsa-a", "rsa-b"], None, rules()).await;
    assert_eq!(
        two.auth
            .verify(&sign("rsa-a", None, &claims()))
            .await
            .unwrap_err(),
        invalid()
    );
}

#[tokio::test]
async fn unknown_kid_reloads_once_per_interval() {
    let f = fixture_with(&["rsa-a"], None, rules()).await;
    assert_eq!(f.metrics.jwks_reloads("success"), 1);
    let b = sign("rsa-b", Some("rsa-b"), &claims());
    // Not yet published: one reload, still unknown → 401.
    assert_eq!(f.auth.verify(&b).await.unwrap_err(), invalid());
    assert_eq!(f.metrics.jwks_reloads("success"), 2);
    // Published now, but the next reload is rate-limited: 401 without I/O.
    write_jwks(&f.jwks_path, &["rsa-a", "rsa-b"]);
    assert_eq!(f.auth.verify(&b).await.unwrap_err(), invalid());
    assert_eq!(f.metrics.jwks_reloads("success"), 2);
    // Known kids keep working without reloads.
    assert!(
        f.auth
            .verify(&sign("rsa-a", Some("rsa-a"), &claims()))
            .await
            .is_ok()
    );
    assert_eq!(
        f.metrics.jwks_reloads("success") + f.metrics.jwks_reloads("failure"),
        2
    );
}

#[tokio::test]
async fn rotation_with_a_short_interval_and_failed_reload_keeps_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    write_jwks(&path, &["rsa-a"]);
    let metrics = Metrics::default();
    let jwks = Arc::new(
        Jwks::new(
            JwksSource::File(path.clone()),
            Duration::from_secs(5),
            Duration::ZERO,
            metrics.clone(),
        )
        .unwrap(),
    );
    assert!(jwks.reload("start").await);
    let auth = Authenticator::new(None, Some(jwks.clone()), rules());
    write_jwks(&path, &["rsa-a", "rsa-b"]);
    assert!(
        auth.verify(&sign("rsa-b", Some("rsa-b"), &claims()))
            .await
            .is_ok()
    );
    assert_eq!(metrics.jwks_reloads("success"), 2);
    // A broken document: the reload fails, the previous keys stay.
    std::fs::write(&path, b"{broken").unwrap();
    assert!(!jwks.reload("test").await);
    assert_eq!(metrics.jwks_reloads("failure"), 1);
    assert!(
        auth.verify(&sign("rsa-b", Some("rsa-b"), &claims()))
            .await
            .is_ok()
    );
}

fn c(v: Value) -> Claims {
    Claims(v.as_object().unwrap().clone())
}

#[test]
fn acceptance_6_deployments_claim() {
    assert!(may_read(
        &c(json!({"deployments":["d1","d2"]})),
        "deployments",
        "d2"
    ));
    assert!(may_read(
        &c(json!({"deployments":"d1"})),
        "deployments",
        "d1"
    ));
    assert!(may_read(
        &c(json!({"deployments":["*"]})),
        "deployments",
        "anything"
    ));
    assert!(may_read(
        &c(json!({"deployments":"*"})),
        "deployments",
        "anything"
    ));
    assert!(!may_read(
        &c(json!({"deployments":["d1"]})),
        "deployments",
        "d2"
    ));
    assert!(!may_read(
        &c(json!({"deployments":[]})),
        "deployments",
        "d1"
    ));
    assert!(!may_read(
        &c(json!({"deployments":[1, null, {"d1":true}]})),
        "deployments",
        "d1"
    ));
    assert!(!may_read(
        &c(json!({"deployments":{"d1":true}})),
        "deployments",
        "d1"
    ));
    assert!(!may_read(&c(json!({})), "deployments", "d1"));
    assert!(!may_read(
        &c(json!({"deployments":["D1"]})),
        "deployments",
        "d1"
    ));
    // A custom claim name is honoured, and only it.
    assert!(may_read(
        &c(json!({"tenant_deployments":["d1"]})),
        "tenant_deployments",
        "d1"
    ));
    assert!(!may_read(
        &c(json!({"deployments":["d1"]})),
        "tenant_deployments",
        "d1"
    ));
    // Claims are top-level only.
    assert!(!may_read(
        &c(json!({"realm":{"deployments":["d1"]}})),
        "deployments",
        "d1"
    ));
}

#[test]
fn acceptance_7_write_permission() {
    assert!(may_write(&c(json!({"scope":"openid flow:write"}))));
    assert!(may_write(&c(json!({"scope":"flow:write"}))));
    assert!(may_write(&c(json!({"roles":["viewer","flow:write"]}))));
    assert!(!may_write(&c(json!({"scope":"openid flow:read"}))));
    assert!(!may_write(&c(json!({"scope":"openidflow:write"}))));
    assert!(!may_write(&c(json!({"scope":"flow:writer"}))));
    assert!(!may_write(&c(json!({"scope":["flow:write"]}))));
    assert!(!may_write(&c(json!({"roles":"flow:write"}))));
    assert!(!may_write(&c(
        json!({"realm_access":{"roles":["flow:write"]}})
    )));
    assert!(!may_write(&c(json!({}))));
}
