//! The server under test: base URL, optional tokens, HTTP clients, and the
//! loopback guard.

use std::net::IpAddr;
use std::time::Duration;

use thiserror::Error;

/// Why a target URL was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("invalid --url {0:?}: expected http://host:port or https://host:port")]
    Invalid(String),
    #[error(
        "refusing non-loopback target {0:?}: load tests run against 127.0.0.1/::1/localhost unless --allow-remote is given"
    )]
    NotLoopback(String),
}

/// A flow server to load.
#[derive(Debug, Clone)]
pub struct Target {
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080`.
    pub base: String,
    pub ingest_token: Option<String>,
    pub read_token: Option<String>,
}

impl Target {
    /// Validates `url`; non-loopback hosts need `allow_remote`.
    pub fn new(
        url: &str,
        allow_remote: bool,
        ingest_token: Option<String>,
        read_token: Option<String>,
    ) -> Result<Self, TargetError> {
        let parsed = reqwest::Url::parse(url).map_err(|_| TargetError::Invalid(url.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(TargetError::Invalid(url.to_owned()));
        }
        if !allow_remote && !is_loopback(parsed.host_str().unwrap_or("")) {
            return Err(TargetError::NotLoopback(url.to_owned()));
        }
        Ok(Target {
            base: url.trim_end_matches('/').to_owned(),
            ingest_token: ingest_token.filter(|t| !t.is_empty()),
            read_token: read_token.filter(|t| !t.is_empty()),
        })
    }

    pub fn events_url(&self, flow: &str) -> String {
        format!("{}/v1/flows/{flow}/events", self.base)
    }

    pub fn stream_url(&self, flow: &str) -> String {
        format!("{}/v1/flows/{flow}/stream", self.base)
    }

    pub fn flow_url(&self, flow: &str) -> String {
        format!("{}/v1/flows/{flow}", self.base)
    }

    /// A POST of `body` to a flow's events, with the ingest token.
    pub fn post(
        &self,
        client: &reqwest::Client,
        flow: &str,
        body: String,
    ) -> reqwest::RequestBuilder {
        let req = client.post(self.events_url(flow)).body(body);
        match &self.ingest_token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }
}

impl Target {
    /// A DELETE of a flow, with the ingest token.
    pub fn delete(&self, client: &reqwest::Client, flow: &str) -> reqwest::RequestBuilder {
        let req = client.delete(self.flow_url(flow));
        match &self.ingest_token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }
}

/// `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// An HTTP/1.1 client keeping at most `max_idle` idle connections.
pub fn client(max_idle: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .http1_only()
        .tcp_nodelay(true)
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(max_idle)
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_guard() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1/",
            "http://[::1]:8080",
            "https://127.1.2.3",
        ] {
            let t = Target::new(ok, false, None, Some(String::new())).unwrap();
            assert!(!t.base.ends_with('/'));
            assert_eq!(t.read_token, None, "empty token = none");
        }
        assert_eq!(
            Target::new("http://10.0.0.1:8080", false, None, None).unwrap_err(),
            TargetError::NotLoopback("http://10.0.0.1:8080".into())
        );
        assert!(Target::new("http://flow.example", true, None, None).is_ok());
        assert!(matches!(
            Target::new("ftp://127.0.0.1", true, None, None),
            Err(TargetError::Invalid(_))
        ));
        assert!(matches!(
            Target::new("nope", false, None, None),
            Err(TargetError::Invalid(_))
        ));
    }
}
