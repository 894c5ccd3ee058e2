//! Image references: `[host[:port]/]path[:tag][@sha256:digest]`.
//!
//! # Format
//! ```text
//! python:3.9-slim                      -> docker.io/library/python:3.9-slim
//! rocks.canonical.com/cdk/pause:3.9    -> host rocks.canonical.com, path cdk/pause
//! localhost:5000/test/hello@sha256:... -> host localhost:5000, by digest
//! [::1]:5000/test/hello:v1             -> IPv6 host
//! ```
//! The first path component is a host when it contains `.` or `:`, is `localhost`, is
//! an IPv6 literal in brackets, or has uppercase letters (the same rule as docker and
//! containerd). A reference without a host names Docker Hub (`docker.io`), where a
//! one-component path gets the `library/` prefix. Without tag or digest the tag is
//! `latest`.

use std::fmt;

use super::digest::Digest;

/// The registry host of Docker Hub as references name it.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's API is served from.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
const MAX_NAME: usize = 255;
const MAX_TAG: usize = 128;

/// A parsed image reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    written_path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// A string that is not a valid image reference; names the input and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid image reference {input:?}: {problem} \
     (expected [host[:port]/]path[:tag][@sha256:<digest>], e.g. docker.io/library/python:3.9-slim)"
)]
pub struct ReferenceError {
    /// The rejected input.
    pub input: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Reference {
    /// Parses a reference; one without a host names Docker Hub.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let (host, rest) = split_host(input);
        match host {
            Some(host) => Reference::parse_in(host, rest).map_err(|e| e.for_input(input)),
            None => {
                let mut r =
                    Reference::parse_in(DOCKER_HUB, rest).map_err(|e| e.for_input(input))?;
                if !r.repository.contains('/') {
                    r.repository = format!("library/{}", r.repository);
                }
                Ok(r)
            }
        }
    }

    /// Parses `path[:tag][@digest]` as a repository of `registry` (no Docker Hub
    /// normalisation: used for paths inside a known registry).
    pub fn parse_in(registry: &str, input: &str) -> Result<Reference, ReferenceError> {
        let err = |problem: String| ReferenceError {
            input: input.to_string(),
            problem,
        };
        if input.is_empty() {
            return Err(err("it is empty".into()));
        }
        if let Some(c) = input.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(format!("it contains {c:?}")));
        }
        let registry = normalise_host(registry).map_err(err)?;
        let (name_tag, digest) = match input.rsplit_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d).map_err(|e| err(e.to_string()))?)),
            None => (input, None),
        };
        let (path, tag) = match name_tag.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p, Some(t)),
            _ => (name_tag, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(err)?;
        }
        check_path(path).map_err(err)?;
        Ok(Reference {
            registry,
            repository: path.to_string(),
            written_path: path.to_string(),
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// The registry host (and port), normalised: `docker.io` for Docker Hub.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host to send API requests to (`registry-1.docker.io` for Docker Hub).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The repository path in its registry (`library/python` for `python`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The path as the user wrote it, without host (`python` for `python:3.9-slim`,
    /// `library/python` for `docker.io/library/python`).
    pub fn written_path(&self) -> &str {
        &self.written_path
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if one was given.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry for: the digest if given, else the tag, else `latest`.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// `:tag`, `@digest`, both, or `:latest` when neither was given.
    pub fn suffix(&self) -> String {
        let mut s = String::new();
        match (&self.tag, &self.digest) {
            (None, None) => s.push_str(":latest"),
            (tag, digest) => {
                if let Some(t) = tag {
                    s.push(':');
                    s.push_str(t);
                }
                if let Some(d) = digest {
                    s.push('@');
                    s.push_str(&d.to_string());
                }
            }
        }
        s
    }

    /// The same reference in another registry and repository, keeping tag and digest.
    pub fn with_location(&self, registry: &str, repository: &str) -> Reference {
        Reference {
            registry: registry.to_string(),
            repository: repository.to_string(),
            written_path: repository.to_string(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
        }
    }
}

impl ReferenceError {
    fn for_input(mut self, input: &str) -> ReferenceError {
        self.input = input.to_string();
        self
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.registry, self.repository, self.suffix())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

/// Splits a leading registry host off `input`, if its first component is one.
pub fn split_host(input: &str) -> (Option<&str>, &str) {
    let Some((first, rest)) = input.split_once('/') else {
        return (None, input);
    };
    let is_host = first.starts_with('[')
        || first.contains('.')
        || first.contains(':')
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase());
    if is_host {
        (Some(first), rest)
    } else {
        (None, input)
    }
}

/// Validates `host[:port]` or `[ipv6][:port]`; `index.docker.io` becomes `docker.io`.
/// The name keeps its case: an uppercase first component is what makes it a host.
pub fn normalise_host(host: &str) -> Result<String, String> {
    let (name, port) = if let Some(inner) = host.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("host {host:?} opens '[' without a closing ']'"))?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("host {host:?}: {addr:?} is not an IPv6 address"));
        }
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("host {host:?}: unexpected {p:?} after ']'"))?,
            ),
        };
        (format!("[{addr}]"), port)
    } else {
        let (name, port) = match host.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (host, None),
        };
        if name.is_empty() {
            return Err(format!("host {host:?} has no name"));
        }
        for label in name.split('.') {
            let ok = !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(format!(
                    "host {host:?} is not a valid name (letters, digits, '-' and '.')"
                ));
            }
        }
        (name.to_string(), port)
    };
    let name = if name == "index.docker.io" {
        DOCKER_HUB.to_string()
    } else {
        name
    };
    match port {
        None => Ok(name),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && !p.starts_with('+') => Ok(format!("{name}:{n}")),
            _ => Err(format!(
                "port {p:?} of host {host:?} is not a number 1-65535"
            )),
        },
    }
}

fn check_tag(tag: &str) -> Result<(), String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-';
    if tag.is_empty() {
        return Err("the tag after ':' is empty".into());
    }
    if tag.len() > MAX_TAG {
        return Err(format!("the tag is longer than {MAX_TAG} characters"));
    }
    if tag.starts_with(['.', '-']) || !tag.chars().all(valid_char) {
        return Err(format!(
            "tag {tag:?} may only hold letters, digits, '_', '.' and '-', and not start with '.' or '-'"
        ));
    }
    Ok(())
}

fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the repository path is empty".into());
    }
    if path.len() > MAX_NAME {
        return Err(format!(
            "the repository path is longer than {MAX_NAME} characters"
        ));
    }
    for component in path.split('/') {
        if !valid_component(component) {
            let hint = if component.chars().any(|c| c.is_ascii_uppercase()) {
                " (repository names must be lowercase)"
            } else {
                ""
            };
            return Err(format!(
                "path component {component:?} is not lowercase letters and digits \
                 separated by '.', '_', '__' or '-'{hint}"
            ));
        }
    }
    Ok(())
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn docker_hub_normalisation() {
        let r = p("python:3.9-slim");
        assert_eq!(r.to_string(), "docker.io/library/python:3.9-slim");
        assert_eq!(r.written_path(), "python");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(
            p("bitnami/redis").to_string(),
            "docker.io/bitnami/redis:latest"
        );
        assert_eq!(p("index.docker.io/library/x:1").registry(), "docker.io");
    }

    #[test]
    fn hosts_ports_and_digests() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = p(&format!("localhost:5000/test/hello:v1@{d}"));
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.repository(), "test/hello");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.manifest_ref(), d);
        let r = p("[::1]:5000/test/hello:v1");
        assert_eq!(r.registry(), "[::1]:5000");
        assert_eq!(r.to_string(), "[::1]:5000/test/hello:v1");
        assert_eq!(p("Registry.Test/a").registry(), "Registry.Test");
        assert_eq!(
            p("rocks.canonical.com/cdk/pause:3.9").written_path(),
            "cdk/pause"
        );
    }

    #[test]
    fn bad_references_name_the_input() {
        for bad in [
            "",
            "Python",
            "a b",
            "x:",
            "x@sha256:zz",
            "host:99999/x",
            "[::1/x",
            "a//b",
            "-a",
            "x:.tag",
        ] {
            let e = Reference::parse(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
