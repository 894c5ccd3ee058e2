//! Small value types for Juju names and hook-tool arguments, parsed once at the edge.
//!
//! Every type round-trips through its Juju text form (`FromStr` and `Display` agree),
//! and the serde form is that same string, so a type read from a hook tool's JSON output
//! or from `JUJU_*` variables is validated exactly once.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// One relation data bag (unit or application), as Juju stores it: strings to strings.
pub type Databag = BTreeMap<String, String>;

/// Why a Juju name or hook-tool argument could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseError {
    /// Which kind of value was being parsed (e.g. "unit name").
    pub what: &'static str,
    /// The rejected input, verbatim.
    pub input: String,
    /// What is wrong and what a valid value looks like.
    pub reason: String,
}

impl ParseError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        ParseError {
            what,
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

/// A Juju application name such as `docker-registry`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

impl AppName {
    /// The name as Juju spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Juju's rule (names.IsValidApplication): dash-separated lowercase segments, the first
/// starting with a letter and every later one containing a letter, so `app-0` (which
/// would be ambiguous with a unit tag) is rejected.
fn check_app_name(s: &str) -> Result<(), String> {
    const HINT: &str =
        "expected lowercase letters, digits and single dashes, starting with a letter, \
                        each dash-separated part containing a letter (e.g. \"docker-registry\")";
    if s.is_empty() {
        return Err("it is empty; ".to_string() + HINT);
    }
    for (i, seg) in s.split('-').enumerate() {
        let ok_chars = !seg.is_empty()
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let has_letter = seg.bytes().any(|b| b.is_ascii_lowercase());
        let starts_letter = seg.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        if !ok_chars || !has_letter || (i == 0 && !starts_letter) {
            return Err(HINT.to_string());
        }
    }
    Ok(())
}

impl FromStr for AppName {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        check_app_name(s).map_err(|r| ParseError::new("application name", s, r))?;
        Ok(AppName(s.to_string()))
    }
}

impl TryFrom<String> for AppName {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<AppName> for String {
    fn from(a: AppName) -> String {
        a.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Juju unit name such as `docker-registry/0`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UnitName {
    app: AppName,
    number: u32,
}

impl UnitName {
    /// Builds a unit name from its parts.
    pub fn new(app: AppName, number: u32) -> Self {
        UnitName { app, number }
    }

    /// The application this unit belongs to.
    pub fn app(&self) -> &AppName {
        &self.app
    }

    /// The unit number (the part after the `/`).
    pub fn number(&self) -> u32 {
        self.number
    }

    /// `app-0`: the form Juju uses in tags and directory names (`unit-app-0`).
    pub fn dashed(&self) -> String {
        format!("{}-{}", self.app, self.number)
    }

    /// `app_0`: a form usable in identifiers (e.g. haproxy backend names).
    pub fn underscored(&self) -> String {
        format!("{}_{}", self.app.as_str().replace('-', "_"), self.number)
    }
}

impl FromStr for UnitName {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        const WHAT: &str = "unit name";
        let (app, num) = s.split_once('/').ok_or_else(|| {
            ParseError::new(
                WHAT,
                s,
                "expected <application>/<number>, e.g. \"docker-registry/0\"",
            )
        })?;
        let app = app
            .parse::<AppName>()
            .map_err(|e| ParseError::new(WHAT, s, format!("bad application part: {}", e.reason)))?;
        // Juju's rule is (0|[1-9][0-9]*): no sign, no leading zeros.
        let canonical = !num.is_empty()
            && num.bytes().all(|b| b.is_ascii_digit())
            && (num == "0" || !num.starts_with('0'));
        let number = num
            .parse::<u32>()
            .ok()
            .filter(|_| canonical)
            .ok_or_else(|| {
                ParseError::new(
                    WHAT,
                    s,
                    format!(
                        "unit number {num:?} must be a non-negative integer without leading zeros"
                    ),
                )
            })?;
        Ok(UnitName { app, number })
    }
}

impl TryFrom<String> for UnitName {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<UnitName> for String {
    fn from(u: UnitName) -> String {
        u.to_string()
    }
}

impl fmt::Display for UnitName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.app, self.number)
    }
}

/// A relation as the hook tools name it: `endpoint:id`, e.g. `website:7`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RelationId {
    /// The local endpoint name from metadata.yaml (may contain dashes).
    pub endpoint: String,
    /// The model-wide relation number.
    pub id: u32,
}

impl RelationId {
    /// Builds a relation id from its parts.
    pub fn new(endpoint: impl Into<String>, id: u32) -> Self {
        RelationId {
            endpoint: endpoint.into(),
            id,
        }
    }
}

fn valid_endpoint(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl FromStr for RelationId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        const WHAT: &str = "relation id";
        let (endpoint, id) = s.rsplit_once(':').ok_or_else(|| {
            ParseError::new(WHAT, s, "expected <endpoint>:<number>, e.g. \"website:7\"")
        })?;
        if !valid_endpoint(endpoint) {
            return Err(ParseError::new(
                WHAT,
                s,
                format!("endpoint {endpoint:?} must start with a lowercase letter and contain only lowercase letters, digits, '-' and '_'"),
            ));
        }
        let id = id
            .parse::<u32>()
            .ok()
            .filter(|_| id.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ParseError::new(
                    WHAT,
                    s,
                    format!("relation number {id:?} is not a non-negative integer"),
                )
            })?;
        Ok(RelationId::new(endpoint, id))
    }
}

impl TryFrom<String> for RelationId {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<RelationId> for String {
    fn from(r: RelationId) -> String {
        r.to_string()
    }
}

impl fmt::Display for RelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.endpoint, self.id)
    }
}

/// A Juju secret's URI. `secret-add` prints `secret://<model uuid>/<id>`; the tools also
/// take `secret:<id>` and the bare id. The id is 20 characters of Juju's base32
/// alphabet (`0-9a-v`). `Display` gives back the form it was read from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretUri {
    /// The model uuid of a `secret://` URI.
    model: Option<String>,
    /// The 20-character id.
    id: String,
}

impl SecretUri {
    /// The 20-character id (what `secret-ids` lists).
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl FromStr for SecretUri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        const WHAT: &str = "secret URI";
        let (model, id) = match s.strip_prefix("secret://") {
            Some(rest) => {
                let (model, id) = rest.split_once('/').ok_or_else(|| {
                    ParseError::new(WHAT, s, "expected secret://<model uuid>/<id>")
                })?;
                let uuid_like =
                    !model.is_empty() && model.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
                if !uuid_like {
                    return Err(ParseError::new(
                        WHAT,
                        s,
                        format!("{model:?} is not a model uuid"),
                    ));
                }
                (Some(model.to_string()), id)
            }
            None => (None, s.strip_prefix("secret:").unwrap_or(s)),
        };
        let valid = id.len() == 20
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b));
        if !valid {
            return Err(ParseError::new(
                WHAT,
                s,
                "the id must be 20 characters of 0-9 and a-v (e.g. secret:cjc0ljh7n7b0s5h4q6b0)",
            ));
        }
        Ok(SecretUri {
            model,
            id: id.to_string(),
        })
    }
}

impl TryFrom<String> for SecretUri {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<SecretUri> for String {
    fn from(u: SecretUri) -> String {
        u.to_string()
    }
}

impl fmt::Display for SecretUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.model {
            Some(m) => write!(f, "secret://{m}/{}", self.id),
            None => write!(f, "secret:{}", self.id),
        }
    }
}

/// The four workload statuses a charm may set with `status-set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusKind {
    /// The charm is doing work (installing, configuring).
    Maintenance,
    /// The operator must act (bad config, missing relation).
    Blocked,
    /// Waiting on something outside the operator's control (a peer, a certificate).
    Waiting,
    /// Ready and serving.
    Active,
}

impl StatusKind {
    /// The word `status-set` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusKind::Maintenance => "maintenance",
            StatusKind::Blocked => "blocked",
            StatusKind::Waiting => "waiting",
            StatusKind::Active => "active",
        }
    }
}

impl FromStr for StatusKind {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "maintenance" => Ok(StatusKind::Maintenance),
            "blocked" => Ok(StatusKind::Blocked),
            "waiting" => Ok(StatusKind::Waiting),
            "active" => Ok(StatusKind::Active),
            _ => Err(ParseError::new(
                "status",
                s,
                "expected one of maintenance, blocked, waiting, active",
            )),
        }
    }
}

impl fmt::Display for StatusKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workload status: kind plus a human message (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Status {
    /// The status word.
    pub kind: StatusKind,
    /// The message shown next to it in `juju status`.
    pub message: String,
}

impl Status {
    /// A status of the given kind.
    pub fn new(kind: StatusKind, message: impl Into<String>) -> Self {
        Status {
            kind,
            message: message.into(),
        }
    }
    /// `active` with a message.
    pub fn active(message: impl Into<String>) -> Self {
        Status::new(StatusKind::Active, message)
    }
    /// `blocked` with a message.
    pub fn blocked(message: impl Into<String>) -> Self {
        Status::new(StatusKind::Blocked, message)
    }
    /// `waiting` with a message.
    pub fn waiting(message: impl Into<String>) -> Self {
        Status::new(StatusKind::Waiting, message)
    }
    /// `maintenance` with a message.
    pub fn maintenance(message: impl Into<String>) -> Self {
        Status::new(StatusKind::Maintenance, message)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}: {}", self.kind, self.message)
        }
    }
}

/// A transport protocol for `open-port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// TCP (Juju's default).
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// The lowercase word Juju uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl FromStr for Protocol {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(ParseError::new(
                "protocol",
                s,
                "expected \"tcp\" or \"udp\"",
            )),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One port with its protocol, e.g. `5000/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Port {
    /// The port number (1..=65535).
    pub number: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl Port {
    /// A TCP port.
    pub fn tcp(number: u16) -> Self {
        Port {
            number,
            protocol: Protocol::Tcp,
        }
    }
    /// A UDP port.
    pub fn udp(number: u16) -> Self {
        Port {
            number,
            protocol: Protocol::Udp,
        }
    }
}

/// Splits `80`, `80/udp`, `8000-8100/tcp` into (from, to, protocol); tcp is the default.
fn parse_ports(what: &'static str, s: &str) -> Result<(u16, u16, Protocol), ParseError> {
    let (range, proto) = match s.split_once('/') {
        Some((r, p)) => (
            r,
            p.parse::<Protocol>()
                .map_err(|e| ParseError::new(what, s, e.reason))?,
        ),
        None => (s, Protocol::Tcp),
    };
    let num = |p: &str| -> Result<u16, ParseError> {
        p.parse::<u16>()
            .ok()
            .filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                ParseError::new(what, s, format!("port {p:?} must be a number in 1..=65535"))
            })
    };
    let (from, to) = match range.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(range)?;
            (n, n)
        }
    };
    if from > to {
        return Err(ParseError::new(
            what,
            s,
            format!("range start {from} is above its end {to}"),
        ));
    }
    Ok((from, to, proto))
}

impl FromStr for Port {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (from, to, protocol) = parse_ports("port", s)?;
        if from != to {
            return Err(ParseError::new(
                "port",
                s,
                "expected one port such as \"5000/tcp\", not a range",
            ));
        }
        Ok(Port {
            number: from,
            protocol,
        })
    }
}

impl TryFrom<String> for Port {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<Port> for String {
    fn from(p: Port) -> String {
        p.to_string()
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.protocol)
    }
}

/// A port range as `opened-ports` reports it, e.g. `8000-8100/udp` or `5000/tcp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PortRange {
    /// First port (inclusive).
    pub from: u16,
    /// Last port (inclusive).
    pub to: u16,
    /// The protocol.
    pub protocol: Protocol,
}

impl PortRange {
    /// Whether `port` lies in this range.
    pub fn contains(&self, port: Port) -> bool {
        self.protocol == port.protocol && (self.from..=self.to).contains(&port.number)
    }
}

impl From<Port> for PortRange {
    fn from(p: Port) -> Self {
        PortRange {
            from: p.number,
            to: p.number,
            protocol: p.protocol,
        }
    }
}

impl FromStr for PortRange {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let (from, to, protocol) = parse_ports("port range", s)?;
        Ok(PortRange { from, to, protocol })
    }
}

impl TryFrom<String> for PortRange {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        s.parse()
    }
}

impl From<PortRange> for String {
    fn from(p: PortRange) -> String {
        p.to_string()
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}/{}", self.from, self.protocol)
        } else {
            write!(f, "{}-{}/{}", self.from, self.to, self.protocol)
        }
    }
}

/// A `juju-log --log-level` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// TRACE.
    Trace,
    /// DEBUG.
    Debug,
    /// INFO.
    Info,
    /// WARNING.
    Warning,
    /// ERROR.
    Error,
    /// CRITICAL.
    Critical,
}

impl LogLevel {
    /// The word `juju-log --log-level` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warning => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Critical => "CRITICAL",
        }
    }
}

impl From<tracing::Level> for LogLevel {
    fn from(l: tracing::Level) -> Self {
        match l {
            tracing::Level::TRACE => LogLevel::Trace,
            tracing::Level::DEBUG => LogLevel::Debug,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::WARN => LogLevel::Warning,
            tracing::Level::ERROR => LogLevel::Error,
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_uris_in_the_three_forms_juju_takes() {
        let id = "cjc0ljh7n7b0s5h4q6b0";
        let full = format!("secret://6f1c7c4e-0000-4000-8000-000000000001/{id}");
        for form in [full.as_str(), &format!("secret:{id}"), id] {
            let u: SecretUri = form.parse().unwrap();
            assert_eq!(u.id(), id, "{form}");
        }
        assert_eq!(full.parse::<SecretUri>().unwrap().to_string(), full);
        assert_eq!(
            id.parse::<SecretUri>().unwrap().to_string(),
            format!("secret:{id}")
        );
        for bad in [
            "",
            "secret:short",
            "cjc0ljh7n7b0s5h4q6bz",
            "secret://not a uuid/cjc0ljh7n7b0s5h4q6b0",
            "secret://6f1c7c4e",
            "CJC0LJH7N7B0S5H4Q6B0",
        ] {
            assert!(bad.parse::<SecretUri>().is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_name_parts_and_forms() {
        let u: UnitName = "docker-registry/12".parse().unwrap();
        assert_eq!(u.app().as_str(), "docker-registry");
        assert_eq!(u.number(), 12);
        assert_eq!(u.dashed(), "docker-registry-12");
        assert_eq!(u.underscored(), "docker_registry_12");
        assert_eq!(u.to_string(), "docker-registry/12");
    }

    #[test]
    fn unit_name_rejects_garbage_with_reason() {
        for bad in [
            "app", "app/", "/0", "app/01", "app/-1", "app/x", "App/0", "app-0/1", "app//0",
            "app/0/1",
        ] {
            let e = bad.parse::<UnitName>().unwrap_err();
            assert_eq!(e.input, bad);
            assert!(e.to_string().contains("unit name"), "{e}");
        }
    }

    #[test]
    fn app_name_rules() {
        for good in [
            "a",
            "docker-registry",
            "app2",
            "a-b2c",
            "nrpe-external-master",
        ] {
            assert!(good.parse::<AppName>().is_ok(), "{good}");
        }
        for bad in ["", "2app", "app-0", "app-", "-app", "a--b", "App", "a_b"] {
            assert!(bad.parse::<AppName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn relation_id_round_trip() {
        let r: RelationId = "cert-provider:7".parse().unwrap();
        assert_eq!(r, RelationId::new("cert-provider", 7));
        assert_eq!(r.to_string(), "cert-provider:7");
        for bad in ["7", "db:", ":7", "db:x", "db:-1", "db:+1", "Db:1"] {
            assert!(bad.parse::<RelationId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_display_and_parse() {
        assert_eq!(Port::tcp(5000).to_string(), "5000/tcp");
        assert_eq!("53/UDP".parse::<Port>().unwrap(), Port::udp(53));
        assert_eq!("80".parse::<Port>().unwrap(), Port::tcp(80));
        let r: PortRange = "8000-8100/udp".parse().unwrap();
        assert_eq!(r.to_string(), "8000-8100/udp");
        assert!(r.contains(Port::udp(8050)));
        assert!(!r.contains(Port::tcp(8050)));
        assert_eq!(PortRange::from(Port::tcp(80)).to_string(), "80/tcp");
        for bad in [
            "0/tcp",
            "70000/tcp",
            "90-80/tcp",
            "80/sctp",
            "icmp",
            "1-2-3",
        ] {
            assert!(bad.parse::<PortRange>().is_err(), "{bad}");
        }
        assert!("80-81/tcp".parse::<Port>().is_err());
    }

    #[test]
    fn status_display() {
        assert_eq!(
            Status::blocked("need cert").to_string(),
            "blocked: need cert"
        );
        assert_eq!(Status::active("").to_string(), "active");
        assert_eq!(
            "waiting".parse::<StatusKind>().unwrap(),
            StatusKind::Waiting
        );
        assert!("error".parse::<StatusKind>().is_err());
    }

    #[test]
    fn serde_uses_text_forms() {
        let u: UnitName = serde_json::from_str("\"app/3\"").unwrap();
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"app/3\"");
        assert!(serde_json::from_str::<UnitName>("\"app\"").is_err());
        let s = serde_json::to_string(&Status::waiting("x")).unwrap();
        assert_eq!(s, r#"{"kind":"waiting","message":"x"}"#);
    }
}
