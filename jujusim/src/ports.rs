//! Port ranges as open-port / close-port / opened-ports spell them.
use serde::{Deserialize, Serialize};
use std::fmt;

/// A port or range open-port and close-port refuse, in Juju's words.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    /// Nothing given.
    #[error("no port or range specified")]
    Empty,
    /// Not tcp, udp or icmp.
    #[error("invalid protocol {0:?}, expected \"tcp\", \"udp\", or \"icmp\"")]
    Protocol(String),
    /// `80/icmp`.
    #[error("invalid port range {0:?}: icmp takes no port")]
    IcmpPort(String),
    /// A port that is not a number.
    #[error("invalid port {port:?}")]
    Port {
        /// As typed.
        port: String,
        /// Why it does not parse.
        source: std::num::ParseIntError,
    },
    /// More than one dash.
    #[error("invalid port range {0:?}")]
    Shape(String),
    /// `90-80/tcp`.
    #[error("invalid port range {from}-{to}/{protocol}")]
    Reversed {
        /// First port.
        from: u32,
        /// Last port.
        to: u32,
        /// Protocol.
        protocol: String,
    },
    /// Outside 1..=65535.
    #[error("port range bounds must be between 0 and 65535, got {from}-{to}")]
    Bounds {
        /// First port.
        from: u32,
        /// Last port.
        to: u32,
    },
}

/// A protocol and port range; ICMP has no ports (from = to = 0).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    /// tcp, udp or icmp (sort order: by protocol, then port, like Juju).
    pub protocol: String,
    /// First port.
    pub from: u32,
    /// Last port.
    pub to: u32,
}

impl PortRange {
    /// Parse `80`, `80/tcp`, `8000-8100/udp`, `icmp` (Juju's messages on error).
    pub fn parse(s: &str) -> Result<PortRange, PortError> {
        if s.is_empty() {
            return Err(PortError::Empty);
        }
        let (ports, proto) = match s.split_once('/') {
            Some((p, proto)) => (p, proto.to_ascii_lowercase()),
            None if s.eq_ignore_ascii_case("icmp") => ("", "icmp".to_string()),
            None => (s, "tcp".to_string()),
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "icmp") {
            return Err(PortError::Protocol(proto));
        }
        if proto == "icmp" {
            if !ports.is_empty() {
                return Err(PortError::IcmpPort(s.into()));
            }
            return Ok(PortRange {
                protocol: proto,
                from: 0,
                to: 0,
            });
        }
        let num = |p: &str| {
            p.parse::<u32>().map_err(|source| PortError::Port {
                port: p.into(),
                source,
            })
        };
        let parts: Vec<&str> = ports.split('-').collect();
        let (from, to) = match parts.as_slice() {
            [p] => (num(p)?, num(p)?),
            [a, b] => (num(a)?, num(b)?),
            _ => return Err(PortError::Shape(ports.into())),
        };
        if from > to {
            return Err(PortError::Reversed {
                from,
                to,
                protocol: proto,
            });
        }
        if from < 1 || to > 65535 {
            return Err(PortError::Bounds { from, to });
        }
        Ok(PortRange {
            protocol: proto,
            from,
            to,
        })
    }

    /// Whether two ranges overlap.
    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.protocol == other.protocol && self.from <= other.to && other.from <= self.to
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.protocol == "icmp" {
            write!(f, "icmp")
        } else if self.from == self.to {
            write!(f, "{}/{}", self.from, self.protocol)
        } else {
            write!(f, "{}-{}/{}", self.from, self.to, self.protocol)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::chain;

    fn parsed(s: &str) -> Result<String, String> {
        PortRange::parse(s)
            .map(|p| p.to_string())
            .map_err(|e| chain(&e))
    }

    #[test]
    fn parses_juju_forms() {
        assert_eq!(parsed("80"), Ok("80/tcp".into()));
        assert_eq!(parsed("8000-8100/UDP"), Ok("8000-8100/udp".into()));
        assert_eq!(parsed("icmp"), Ok("icmp".into()));
        assert_eq!(
            parsed("80/sctp"),
            Err("invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"".into())
        );
        assert_eq!(
            parsed("90-80/tcp"),
            Err("invalid port range 90-80/tcp".into())
        );
        assert_eq!(parsed("1-2-3"), Err("invalid port range \"1-2-3\"".into()));
        assert_eq!(
            parsed("abc"),
            Err("invalid port \"abc\": invalid digit found in string".into())
        );
        assert_eq!(
            parsed("0-70000"),
            Err("port range bounds must be between 0 and 65535, got 0-70000".into())
        );
    }
}
