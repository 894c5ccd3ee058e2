//! `host[:port]` network locations, as registries, haproxy and certificates use them.
//!
//! # Format
//!
//! ```text
//! netloc = host [ ":" port ]
//! host   = IPv4 ("10.5.0.12") | "[" IPv6 "]" ("[fd00::12]") | DNS name ("registry.example.com")
//! port   = 1..=65535
//! ```
//!
//! A [`Host`] on its own (an `ingress-address`, a haproxy server address, a SAN) is written
//! without brackets; brackets appear only inside a [`Netloc`], where they separate an IPv6
//! address from its port. The port is optional because the Python charm published
//! port-less netlocs (behind haproxy, B1 in docs/python-charm-bugs.md; `http-host` without
//! a port) and we must read them.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The host part of a netloc: an IP address or a DNS name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address (written bare by `Display`, bracketed inside a [`Netloc`]).
    Ipv6(Ipv6Addr),
    /// A DNS name, as given (not lower-cased).
    Dns(String),
}

impl From<std::net::IpAddr> for Host {
    fn from(ip: std::net::IpAddr) -> Self {
        match ip {
            std::net::IpAddr::V4(v4) => Host::Ipv4(v4),
            std::net::IpAddr::V6(v6) => Host::Ipv6(v6),
        }
    }
}

/// A `host[:port]` location, e.g. `10.5.0.12:5000` or `[fd00::12]:5000`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Netloc {
    /// Where the service is.
    pub host: Host,
    /// Its TCP port; `None` when the netloc relies on the scheme's default port.
    pub port: Option<u16>,
}

/// Why a string is not a valid [`Host`] or [`Netloc`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetlocError {
    /// Nothing was given.
    #[error("empty address: expected host[:port], e.g. 10.5.0.12:5000")]
    Empty,
    /// A URL was given where a netloc was expected.
    #[error("`{input}` has a scheme: a netloc is host[:port]; drop `{scheme}://`")]
    HasScheme {
        /// The whole input.
        input: String,
        /// The scheme found, e.g. `http`.
        scheme: String,
    },
    /// A path, query or fragment follows the host.
    #[error("`{input}` has a path: a netloc is host[:port] with nothing after the port")]
    HasPath {
        /// The whole input.
        input: String,
    },
    /// The port is not a number in 1..=65535.
    #[error("`{input}`: port `{port}` is not a number from 1 to 65535")]
    BadPort {
        /// The whole input.
        input: String,
        /// The text after the last `:`.
        port: String,
    },
    /// An IPv6 address with a port but no brackets is ambiguous.
    #[error("`{input}`: an IPv6 address with a port must be bracketed, e.g. [fd00::1]:5000")]
    UnbracketedIpv6 {
        /// The whole input.
        input: String,
    },
    /// The host is neither an IP address nor a valid DNS name.
    #[error("`{input}`: {problem}")]
    BadHost {
        /// The whole input.
        input: String,
        /// What is wrong with the host.
        problem: String,
    },
}

impl Host {
    /// True for `127.0.0.0/8`, `::1` and `localhost` (where containerd defaults to plain HTTP).
    pub fn is_loopback(&self) -> bool {
        match self {
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
            Host::Dns(name) => name.eq_ignore_ascii_case("localhost"),
        }
    }

    /// The host as it appears inside a URL or netloc (`[fd00::1]` for IPv6).
    pub fn to_uri_host(&self) -> String {
        match self {
            Host::Ipv6(ip) => format!("[{ip}]"),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ipv4(ip) => write!(f, "{ip}"),
            Host::Ipv6(ip) => write!(f, "{ip}"),
            Host::Dns(name) => f.write_str(name),
        }
    }
}

impl FromStr for Host {
    type Err = NetlocError;

    /// Parse a bare host: IPv4, IPv6 (bare or bracketed) or a DNS name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(NetlocError::Empty);
        }
        let inner = s.strip_prefix('[').and_then(|rest| rest.strip_suffix(']'));
        if let Some(inner) = inner {
            return inner
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| bad_host(s, format!("`{inner}` is not an IPv6 address")));
        }
        if let Ok(ip) = s.parse::<Ipv4Addr>() {
            return Ok(Host::Ipv4(ip));
        }
        if s.contains(':') {
            return s
                .parse::<Ipv6Addr>()
                .map(Host::Ipv6)
                .map_err(|_| bad_host(s, format!("`{s}` is not an IPv6 address")));
        }
        check_dns_name(s).map_err(|problem| bad_host(s, problem))?;
        Ok(Host::Dns(s.to_string()))
    }
}

fn bad_host(input: &str, problem: String) -> NetlocError {
    NetlocError::BadHost {
        input: input.to_string(),
        problem,
    }
}

/// Accept RFC 1123 host names, plus `_` which real deployments use in labels.
fn check_dns_name(name: &str) -> Result<(), String> {
    if name.len() > 253 {
        return Err("a DNS name is at most 253 characters".into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        return Err(format!("`{name}` is not a valid IPv4 address"));
    }
    for label in labels {
        if label.is_empty() || label.len() > 63 {
            return Err(format!(
                "`{name}` is not a DNS name: each dot-separated label needs 1 to 63 characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "`{name}` is not a DNS name: `{c}` is not allowed (use letters, digits, `-`, `.`)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "`{name}` is not a DNS name: a label cannot start or end with `-`"
            ));
        }
    }
    Ok(())
}

impl Netloc {
    /// A netloc with an explicit port.
    pub fn new(host: Host, port: u16) -> Self {
        Netloc {
            host,
            port: Some(port),
        }
    }

    /// The same host with `port` (used to add the registry port a proxy listens on;
    /// docs/python-charm-bugs.md#b1).
    pub fn with_port(&self, port: u16) -> Self {
        Netloc::new(self.host.clone(), port)
    }
}

impl fmt::Display for Netloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host.to_uri_host())?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

impl FromStr for Netloc {
    type Err = NetlocError;

    /// Parse `host[:port]`; see the module docs for the accepted forms.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(NetlocError::Empty);
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(NetlocError::HasScheme {
                input: s.to_string(),
                scheme: scheme.to_string(),
            });
        }
        if s.contains(['/', '?', '#']) {
            return Err(NetlocError::HasPath {
                input: s.to_string(),
            });
        }
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let Some((v6, after)) = rest.split_once(']') else {
                return Err(bad_host(s, "`[` without a closing `]`".into()));
            };
            let host = format!("[{v6}]");
            match after {
                "" => (host, None),
                _ => match after.strip_prefix(':') {
                    Some(port) => (host, Some(port)),
                    None => return Err(bad_host(s, format!("unexpected `{after}` after `]`"))),
                },
            }
        } else if s.matches(':').count() > 1 {
            // A bare IPv6 address without a port is unambiguous; with one it is not.
            return match s.parse::<Ipv6Addr>() {
                Ok(ip) => Ok(Netloc {
                    host: Host::Ipv6(ip),
                    port: None,
                }),
                Err(_) => Err(NetlocError::UnbracketedIpv6 {
                    input: s.to_string(),
                }),
            };
        } else {
            match s.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (s.to_string(), None),
            }
        };
        let port = port
            .map(|p| parse_port(p).ok_or_else(|| bad_port(s, p)))
            .transpose()?;
        let host = host.parse::<Host>().map_err(|e| match e {
            NetlocError::Empty => bad_host(s, "the host is empty".into()),
            NetlocError::BadHost { problem, .. } => bad_host(s, problem),
            other => other,
        })?;
        Ok(Netloc { host, port })
    }
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|port| *port != 0)
}

fn bad_port(input: &str, port: &str) -> NetlocError {
    NetlocError::BadPort {
        input: input.to_string(),
        port: port.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nl(s: &str) -> Netloc {
        s.parse().unwrap()
    }

    #[test]
    fn parses_and_displays_each_host_kind() {
        for s in [
            "10.5.0.12:5000",
            "[fd00::12]:5000",
            "registry.example.com:443",
            "registry.example.com",
            "10.5.0.12",
            "[fd00::12]",
            "juju-1a2b3c-0:5000",
        ] {
            assert_eq!(nl(s).to_string(), s, "round trip of {s}");
        }
        assert_eq!(
            nl("10.5.0.12:5000"),
            Netloc::new(Host::Ipv4(Ipv4Addr::new(10, 5, 0, 12)), 5000)
        );
        assert_eq!(nl("fd00::12").to_string(), "[fd00::12]");
    }

    #[test]
    fn with_port_adds_the_port() {
        assert_eq!(
            nl("10.5.0.99").with_port(5000).to_string(),
            "10.5.0.99:5000"
        );
    }

    #[test]
    fn rejects_with_clear_errors() {
        let cases = [
            ("", "empty address"),
            ("http://10.0.0.1:5000", "drop `http://`"),
            ("10.0.0.1:5000/v2", "has a path"),
            ("10.0.0.1:0", "port `0`"),
            ("10.0.0.1:70000", "port `70000`"),
            ("10.0.0.1:", "port ``"),
            ("10.0.0.1:+5", "port `+5`"),
            ("fd00::1:5000x", "must be bracketed"),
            ("[fd00::1", "without a closing"),
            ("[nope]:5000", "not an IPv6 address"),
            ("10.0.0.300:5000", "not a valid IPv4"),
            ("bad host:5000", "` ` is not allowed"),
            ("-x.example:5000", "cannot start or end"),
            ("a..b:5000", "1 to 63"),
            (":5000", "host is empty"),
        ];
        for (input, needle) in cases {
            let err = input.parse::<Netloc>().unwrap_err().to_string();
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn host_accepts_bare_and_bracketed_ipv6() {
        assert_eq!("fd00::1".parse::<Host>().unwrap().to_string(), "fd00::1");
        assert_eq!(
            "[fd00::1]".parse::<Host>().unwrap().to_uri_host(),
            "[fd00::1]"
        );
        assert!("127.0.0.1".parse::<Host>().unwrap().is_loopback());
        assert!("LOCALHOST".parse::<Host>().unwrap().is_loopback());
        assert!(!"10.0.0.1".parse::<Host>().unwrap().is_loopback());
    }
}
