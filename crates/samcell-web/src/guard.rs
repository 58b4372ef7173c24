//! Who may drive the server, checked on every request before any route runs, and the headers
//! every answer carries. There is no reference behaviour here (the published SAMCell GUI is a
//! desktop program); these are the rules of `samcell serve`:
//!
//! 1. **Host** (against DNS rebinding): the `Host` header must name the server: `localhost`,
//!    `127.0.0.1`, `[::1]` or the `--host` address, each with the listening port; any IP address
//!    with that port when listening on all interfaces (`0.0.0.0`, `::`; a rebinding attack needs
//!    a DNS name); or an `--allowed-host` entry (`name` with any port, `name:port`). Anything
//!    else: 421.
//! 2. **Origin** (against other web sites): a request that can change something (any method but
//!    GET, HEAD and OPTIONS) whose `Origin` header is present must come from the server's own
//!    origin (`http(s)://` + the `Host` it was sent to); `Origin: null` and foreign origins get
//!    403. No `Origin` (curl, scripts) is fine.
//! 3. **Token** (remote use): when the server has an access token, every `/api/` request must
//!    carry it, as the header `X-Samcell-Token` or as a cookie whose name starts with
//!    `samcell_token` (the page sets one for its image and download links); otherwise 401. The
//!    page and its assets need no token (they hold no data).
//! 4. **Headers** on every answer, refusals included: `X-Frame-Options: DENY`,
//!    `Content-Security-Policy: frame-ancestors 'none'` (no framing, so no click-jacking),
//!    `X-Content-Type-Options: nosniff` and `Cross-Origin-Resource-Policy: same-origin` (other
//!    sites cannot embed the results).
//!
//! JSON bodies must be sent as `Content-Type: application/json` (415 otherwise); the handlers
//! check that with `require_json`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::config::ServeConfig;

/// Header that carries the access token.
pub const TOKEN_HEADER: &str = "x-samcell-token";
/// Prefix of the cookie names that carry the access token (the page appends its port).
pub const TOKEN_COOKIE: &str = "samcell_token";

/// The names a server answers to and its token.
#[derive(Debug)]
pub(crate) struct Guard {
    port: u16,
    /// Accepted with the listening port (lowercase, IPv6 in brackets).
    names: Vec<String>,
    /// Listening on all interfaces: any IP literal with the listening port.
    any_ip: bool,
    /// `--allowed-host`: name and, if given, the only port accepted with it.
    extra: Vec<(String, Option<u16>)>,
    token: Option<String>,
}

impl Guard {
    /// The rules for a server configured by `cfg`, listening on `port`.
    pub fn new(cfg: &ServeConfig, port: u16) -> Self {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let bare = cfg
            .host
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let any_ip = bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_unspecified());
        if !any_ip {
            if let Some((h, _)) = split_authority(&cfg.host) {
                if !names.contains(&h) {
                    names.push(h);
                }
            }
        }
        Self {
            port,
            names,
            any_ip,
            extra: cfg
                .allowed_hosts
                .iter()
                .filter_map(|h| split_authority(h))
                .collect(),
            token: cfg.token.clone(),
        }
    }

    /// Whether a `Host` header value names this server.
    pub fn host_ok(&self, host: &str) -> bool {
        let Some((h, p)) = split_authority(host) else {
            return false;
        };
        let port = p.unwrap_or(80);
        if self
            .extra
            .iter()
            .any(|(n, ep)| *n == h && ep.is_none_or(|ep| ep == port))
        {
            return true;
        }
        port == self.port && (self.names.contains(&h) || (self.any_ip && is_ip_literal(&h)))
    }

    /// Whether a request carries the token (always true without one).
    fn token_ok(&self, headers: &HeaderMap) -> bool {
        let Some(want) = &self.token else {
            return true;
        };
        let header = headers
            .get_all(TOKEN_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| same(v.trim(), want));
        header
            || headers
                .get_all(header::COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(';'))
                .filter_map(|kv| kv.split_once('='))
                .any(|(k, v)| k.trim().starts_with(TOKEN_COOKIE) && same(v.trim(), want))
    }
}

/// Compares without stopping at the first difference (the time taken does not tell an attacker
/// how much of a guess was right).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn is_ip_literal(h: &str) -> bool {
    h.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
}

/// Splits `host[:port]` (a `Host` header, an origin's authority or an `--allowed-host` entry)
/// into the lowercase host name (IPv6 addresses in brackets, no trailing dot) and the port if
/// one is written. `None` when it is not a plausible host name.
pub(crate) fn split_authority(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse::<u16>().ok()?),
        };
        (format!("[{inside}]"), port)
    } else if s.matches(':').count() > 1 {
        // a bare IPv6 address (only in settings: a Host header brackets it)
        s.parse::<std::net::Ipv6Addr>().ok()?;
        (format!("[{s}]"), None)
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.parse::<u16>().ok()?)),
            None => (s.to_string(), None),
        }
    };
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix('.').unwrap_or(&host).to_string();
    let plain = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b));
    (!host.is_empty() && plain).then_some((host, port))
}

/// Whether an `Origin` header value is the origin of a page loaded from `host` (the request's
/// `Host` header, already accepted).
fn same_origin(origin: &str, host: &str) -> bool {
    let (scheme_port, rest) = if let Some(r) = origin.strip_prefix("http://") {
        (80, r)
    } else if let Some(r) = origin.strip_prefix("https://") {
        (443, r)
    } else {
        return false; // "null", other schemes
    };
    let (Some((oh, op)), Some((hh, hp))) = (split_authority(rest), split_authority(host)) else {
        return false;
    };
    oh == hh && hp.is_none_or(|hp| op.unwrap_or(scheme_port) == hp)
}

fn state_changing(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The middleware: refuses what the rules refuse, then adds the headers to every answer.
pub(crate) async fn check(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let mut r = match refusal(&g, &req) {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    };
    let h = r.headers_mut();
    for (name, value) in [
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

fn refusal(g: &Guard, req: &Request) -> Option<ApiError> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let Some(host) = host.filter(|h| g.host_ok(h)) else {
        let shown = req
            .headers()
            .get(header::HOST)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_else(|| "(none)".into());
        tracing::warn!("refused a request for host {shown:?} (not this server's name)");
        return Some(ApiError(
            421,
            format!(
                "this server does not answer to the host name {shown:?}: open it as \
                 http://127.0.0.1:{}/ (or by its --host address), or start it with \
                 --allowed-host NAME to accept another name",
                g.port
            ),
        ));
    };
    if state_changing(req.method()) {
        if let Some(origin) = req.headers().get(header::ORIGIN) {
            let o = String::from_utf8_lossy(origin.as_bytes());
            if !same_origin(&o, &host) {
                tracing::warn!(
                    "refused a {} {} sent by a page of {o:?} (another web site)",
                    req.method(),
                    req.uri().path()
                );
                return Some(ApiError(
                    403,
                    format!(
                        "refused: this request was sent by a page of {o:?}, not by SAMCell's own \
                         page; only the page served by this server may change its jobs"
                    ),
                ));
            }
        }
    }
    if req.uri().path().starts_with("/api/") && !g.token_ok(req.headers()) {
        return Some(ApiError(
            401,
            "this server needs its access token: open the address it printed at start \
             (…/#token=…), or send the header X-Samcell-Token"
                .into(),
        ));
    }
    None
}

/// 415 unless the request says its body is JSON (`application/json`, parameters allowed).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        let got = if ct.is_empty() { "none" } else { ct };
        Err(ApiError(
            415,
            format!("send the body as JSON with Content-Type: application/json (got {got})"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(host: &str, allowed: &[&str]) -> Guard {
        let cfg = ServeConfig {
            host: host.into(),
            allowed_hosts: allowed.iter().map(|s| s.to_string()).collect(),
            ..ServeConfig::default()
        };
        Guard::new(&cfg, 8080)
    }

    #[test]
    fn hosts() {
        let g = guard("127.0.0.1", &["lab.example.org", "proxy:443"]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST.:8080",
            "[::1]:8080",
            "lab.example.org",
            "lab.example.org:9999",
            "proxy:443",
        ] {
            assert!(g.host_ok(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "localhost",
            "proxy:8080",
            "proxy",
            "192.168.1.5:8080",
            "",
            "127.0.0.1:8080/x",
            "[::1",
        ] {
            assert!(!g.host_ok(bad), "{bad}");
        }
        let any = guard("0.0.0.0", &[]);
        assert!(any.host_ok("192.168.1.5:8080") && any.host_ok("[fe80::1]:8080"));
        assert!(!any.host_ok("rebind.evil.example:8080"));
        let named = guard("lab-server", &[]);
        assert!(named.host_ok("lab-server:8080") && !named.host_ok("10.0.0.1:8080"));
        let v6 = guard("::1", &[]);
        assert!(v6.host_ok("[::1]:8080"));
    }

    #[test]
    fn origins() {
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same_origin("https://lab.example.org", "lab.example.org"));
        assert!(same_origin("http://example", "example:80"));
        for bad in [
            "null",
            "http://evil.example",
            "http://127.0.0.1:8081",
            "http://127.0.0.1.evil.example:8080",
            "file://",
            "",
        ] {
            assert!(!same_origin(bad, "127.0.0.1:8080"), "{bad}");
        }
    }

    #[test]
    fn tokens() {
        let cfg = ServeConfig {
            token: Some("0123456789abcdef0123".into()),
            ..ServeConfig::default()
        };
        let g = Guard::new(&cfg, 8080);
        let mut h = HeaderMap::new();
        assert!(!g.token_ok(&h));
        h.insert(
            TOKEN_HEADER,
            HeaderValue::from_static("0123456789abcdef0123"),
        );
        assert!(g.token_ok(&h));
        let mut c = HeaderMap::new();
        c.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; samcell_token_8080=0123456789abcdef0123"),
        );
        assert!(g.token_ok(&c));
        c.insert(
            header::COOKIE,
            HeaderValue::from_static("samcell_token_8080=0123456789abcdef0124"),
        );
        assert!(!g.token_ok(&c));
    }
}
