//! Port ranges as open-port / close-port / opened-ports spell them.
use serde::{Deserialize, Serialize};
use std::fmt;

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
    pub fn parse(s: &str) -> Result<PortRange, String> {
        if s.is_empty() {
            return Err("no port or range specified".into());
        }
        let (ports, proto) = match s.split_once('/') {
            Some((p, proto)) => (p, proto.to_ascii_lowercase()),
            None if s.eq_ignore_ascii_case("icmp") => ("", "icmp".to_string()),
            None => (s, "tcp".to_string()),
        };
        if !matches!(proto.as_str(), "tcp" | "udp" | "icmp") {
            return Err(format!(
                "invalid protocol {proto:?}, expected \"tcp\", \"udp\", or \"icmp\""
            ));
        }
        if proto == "icmp" {
            if !ports.is_empty() {
                return Err(format!("invalid port range {s:?}: icmp takes no port"));
            }
            return Ok(PortRange {
                protocol: proto,
                from: 0,
                to: 0,
            });
        }
        let num = |p: &str| {
            p.parse::<u32>()
                .map_err(|e| format!("invalid port {p:?}: {e}"))
        };
        let parts: Vec<&str> = ports.split('-').collect();
        let (from, to) = match parts.as_slice() {
            [p] => (num(p)?, num(p)?),
            [a, b] => (num(a)?, num(b)?),
            _ => return Err(format!("invalid port range {ports:?}")),
        };
        if from > to {
            return Err(format!("invalid port range {from}-{to}/{proto}"));
        }
        if from < 1 || to > 65535 {
            return Err(format!(
                "port range bounds must be between 0 and 65535, got {from}-{to}"
            ));
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

    #[test]
    fn parses_juju_forms() {
        assert_eq!(
            PortRange::parse("80").map(|p| p.to_string()),
            Ok("80/tcp".into())
        );
        assert_eq!(
            PortRange::parse("8000-8100/UDP").map(|p| p.to_string()),
            Ok("8000-8100/udp".into())
        );
        assert_eq!(
            PortRange::parse("icmp").map(|p| p.to_string()),
            Ok("icmp".into())
        );
        assert_eq!(
            PortRange::parse("80/sctp"),
            Err("invalid protocol \"sctp\", expected \"tcp\", \"udp\", or \"icmp\"".into())
        );
        assert_eq!(
            PortRange::parse("90-80/tcp"),
            Err("invalid port range 90-80/tcp".into())
        );
        assert_eq!(
            PortRange::parse("1-2-3"),
            Err("invalid port range \"1-2-3\"".into())
        );
        assert!(PortRange::parse("abc").is_err_and(|e| e.starts_with("invalid port \"abc\"")));
    }
}
