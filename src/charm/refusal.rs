//! A config the registry refuses: it exits at start (a wrong swift password, an
//! unreachable pull-through upstream) or its store fails once it runs (a missing s3
//! bucket answers the storage check with a 500). The unit goes back to the last good
//! config.yml and environment, keeps serving, and blocks naming the option(s) and quoting
//! the registry's own error line from its log. The refused config is not tried again until
//! something it is made of changes (or the `start` action asks), so there is no restart
//! loop and no wait at every hook.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde_json::Value;

use crate::config::{is_ignored_option, CharmConfig, Storage};
use crate::juju::Status;
use crate::probe::Scheme;
use crate::render;
use crate::workload::files::FileSpec;
use crate::workload::service::ServiceCall;

use super::builder::{Builder, PlanError};
use super::local::{self, Refused, LAST_GOOD_CONFIG};
use super::ownership::{put, Wanted};
use super::registry;
use super::steps::{Candidate, Contents, Plan, Probe, Refuse, ServiceStep, Step, Wait};
use super::view::View;

/// How the registry refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// It exited instead of answering after a start.
    Exited,
    /// It did not answer within this many seconds of its start (a new config, while the
    /// last good one answered).
    Silent(u64),
    /// It answered, but its storage check failed with this HTTP status.
    Storage(u16),
}

/// The registry refused the config a plan started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// How.
    pub why: Why,
    /// Its own error line, from its log (not yet redacted).
    pub line: Option<String>,
}

/// The longest error line quoted in a status.
const MAX_LINE: usize = 200;

/// The registry's error line in `lines` (its log, oldest first), written since `since`:
/// a Go `panic:` line, or the newest JSON line at level error, fatal or panic (its
/// `err.detail` when it has one: a storage driver's error). A JSON line older than
/// `since` ends the search (it is from an earlier run). With `uri`, only a JSON error line
/// about a request to that path counts (the storage check's own request).
pub fn error_line(lines: &[String], since: SystemTime, uri: Option<&str>) -> Option<String> {
    for raw in lines.iter().rev() {
        let line = raw.trim();
        if uri.is_none() {
            for prefix in ["panic: ", "fatal error: ", "configuration error: "] {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return Some(shorten(rest));
                }
            }
        }
        let entry = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(entry)) => entry,
            _ => match logfmt(line) {
                Some(entry) => entry,
                None => continue,
            },
        };
        let text = |key: &str| entry.get(key).and_then(Value::as_str);
        if let Some(at) = text("time").and_then(parse_time) {
            if at < since {
                return None;
            }
        }
        if !matches!(text("level"), Some("error" | "fatal" | "panic")) {
            continue;
        }
        if let Some(uri) = uri {
            if !text("http.request.uri").is_some_and(|u| u.starts_with(uri)) {
                continue;
            }
        }
        let message = text("err.detail")
            .or(text("error"))
            .or(text("msg"))
            .unwrap_or_default();
        return Some(shorten(message));
    }
    None
}

/// A logrus text-format line (`time="..." level=fatal msg="..."`) as a map, when it has
/// a `level`; values are strings.
fn logfmt(line: &str) -> Option<serde_json::Map<String, Value>> {
    let mut out = serde_json::Map::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        if key.is_empty() || key.contains([' ', '"']) {
            return None;
        }
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let mut value = String::new();
                let mut chars = quoted.char_indices();
                let end = loop {
                    match chars.next()? {
                        (i, '"') => break i,
                        (_, '\\') => value.push(chars.next()?.1),
                        (_, c) => value.push(c),
                    }
                };
                (value, &quoted[end + 1..])
            }
            None => {
                let end = after.find(' ').unwrap_or(after.len());
                (after[..end].to_string(), &after[end..])
            }
        };
        out.insert(key.to_string(), Value::String(value));
        rest = after.trim_start();
    }
    out.contains_key("level").then_some(out)
}

/// The first line of `text`, at most [`MAX_LINE`] characters.
fn shorten(text: &str) -> String {
    let first = text.lines().next().unwrap_or_default().trim();
    match first.chars().count() > MAX_LINE {
        true => format!("{}...", first.chars().take(MAX_LINE).collect::<String>()),
        false => first.to_string(),
    }
}

fn parse_time(text: &str) -> Option<SystemTime> {
    let t =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    Some(SystemTime::from(t))
}

/// `line` with every secret of `config` replaced by `<redacted>`.
pub fn redact(line: &str, config: &CharmConfig) -> String {
    let mut out = line.to_string();
    for secret in config.secret_values() {
        out = redact_one(&out, secret);
    }
    out
}

/// Secrets shorter than this are replaced only where they stand alone: replacing every
/// `a` of an access key `a` would garble the line (`s3<redacted>ws`) and tell more
/// about the secret than it hides.
const SHORT_SECRET: usize = 8;

/// `line` with `secret` replaced: everywhere when it is long, else only where neither
/// neighbour is a letter or digit.
fn redact_one(line: &str, secret: &str) -> String {
    if secret.is_empty() {
        return line.to_string();
    }
    if secret.len() >= SHORT_SECRET {
        return line.replace(secret, "<redacted>");
    }
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at]
            .chars()
            .next_back()
            .or_else(|| out.chars().next_back());
        let after = rest[at + secret.len()..].chars().next();
        out.push_str(&rest[..at]);
        if word(before) || word(after) {
            out.push_str(secret);
        } else {
            out.push_str("<redacted>");
        }
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
    out
}

/// The options whose value differs between two `option -> sha256` maps, leaving out
/// those that never change what the registry does (ignored ones, the nagios options).
pub fn changed_options(
    before: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> BTreeSet<String> {
    before
        .keys()
        .chain(now.keys())
        .filter(|k| before.get(*k) != now.get(*k))
        .filter(|k| !is_ignored_option(k) && !k.starts_with("nagios_"))
        .cloned()
        .collect()
}

/// The options to name for the registry's error `line`: the ones the error is about
/// (its driver, the upstream, a port) that changed since the last good config, else the
/// ones it is about, else whatever changed since the last good config.
pub fn blame(line: &str, config: &CharmConfig, changed: Option<&BTreeSet<String>>) -> Vec<String> {
    let about = suspects(line, config);
    let both: Vec<String> = match changed {
        Some(changed) => about
            .iter()
            .filter(|o| changed.contains(**o))
            .map(|o| o.to_string())
            .collect(),
        None => Vec::new(),
    };
    if !both.is_empty() {
        return both;
    }
    if !about.is_empty() {
        return about.into_iter().map(String::from).collect();
    }
    changed
        .map(|c| c.iter().cloned().collect())
        .unwrap_or_default()
}

/// The options an error line is about, by what distribution and its drivers print.
fn suspects(line: &str, config: &CharmConfig) -> Vec<&'static str> {
    let l = line.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| l.contains(w));
    let network = any(&[
        "dial tcp",
        "no such host",
        "connection refused",
        "i/o timeout",
        "no route to host",
        "network is unreachable",
        "x509",
        "tls:",
        "certificate",
    ]);
    let denied = any(&[
        "authorization failed",
        "unauthorized",
        "401",
        "403",
        "access denied",
        "accessdenied",
        "forbidden",
        "invalidaccesskeyid",
        "signaturedoesnotmatch",
    ]);
    match &config.storage {
        Storage::Swift(sw) if l.contains("swift") => {
            return if network {
                vec!["storage-swift-authurl"]
            } else if denied {
                let mut out = vec!["storage-swift-username", "storage-swift-password"];
                if sw.tenant.is_some() {
                    out.push("storage-swift-tenant");
                }
                if sw.domain.is_some() {
                    out.push("storage-swift-domain");
                }
                out
            } else if l.contains("container") {
                vec!["storage-swift-container"]
            } else {
                vec![
                    "storage-swift-authurl",
                    "storage-swift-username",
                    "storage-swift-password",
                    "storage-swift-container",
                ]
            };
        }
        Storage::S3(s3) if l.contains("s3") => {
            return if l.contains("bucket") {
                vec!["storage-s3-bucket"]
            } else if denied {
                vec!["storage-s3-accesskey", "storage-s3-secretkey"]
            } else if l.contains("region") {
                vec!["storage-s3-region"]
            } else if network && s3.region_endpoint.is_some() {
                vec!["storage-s3-regionendpoint"]
            } else {
                vec!["storage-s3-region", "storage-s3-bucket"]
            };
        }
        _ => {}
    }
    if let Some(proxy) = &config.proxy {
        let host = proxy.remote_url.hostname().to_ascii_lowercase();
        if l.contains(&host) || l.contains("remoteurl") || l.contains("proxy") {
            return match denied {
                true => vec!["cache-username", "cache-password"],
                false => vec!["cache-remoteurl"],
            };
        }
    }
    if l.contains("htpasswd") {
        return vec!["auth-basic-user", "auth-basic-password"];
    }
    if l.contains("rootcertbundle") || l.contains("token") {
        return vec!["auth-token-root-certs"];
    }
    Vec::new()
}

/// Whether the registry's error line says another process holds the port it listens on.
/// That is no refusal of its config (nothing in it to roll back: the holder may be a
/// registry still exiting, or any other program), so the config stays and the registry is
/// started again at the next hook.
pub fn port_in_use(line: &str) -> bool {
    line.to_ascii_lowercase().contains("address already in use")
}

/// The status while another process holds the registry's port: its own words and how to
/// find the holder.
pub fn port_in_use_status(line: &str) -> Status {
    Status::blocked(format!(
        "The registry could not listen: {line}; another process holds the port (find it \
         with: ss -ltnp); the registry is started again at the next hook."
    ))
}

/// The blocked status: the options, the registry's own words, and what serves meanwhile.
pub fn status_message(options: &[String], line: &str, serving: bool) -> String {
    let named = match options.is_empty() {
        true => String::new(),
        false => format!(" ({})", options.join(", ")),
    };
    match serving {
        true => format!(
            "The registry refused its config{named}: {line}; the last good config keeps serving."
        ),
        false => format!(
            "The registry refused its config{named}: {line}; nothing to serve until it is fixed."
        ),
    }
}

/// What to quote when the log had no error line.
fn fallback_line(why: Why) -> String {
    match why {
        Why::Exited => "it exited at start without an error line in its log".into(),
        Why::Silent(secs) => format!("it did not answer GET /v2/ within {secs}s of its start"),
        Why::Storage(status) => {
            format!("its storage check (GET /v2/_catalog) answered HTTP {status}")
        }
    }
}

/// The plan after a refusal, made from a fresh read of the machine: config.yml back to
/// the last good one, the registry restarted with it and its environment (or stopped
/// when there is none, so that no service manager restarts a refused config in a loop),
/// the refusal remembered, and the unit blocked.
pub fn rollback(view: &View, refusal: &Refusal) -> Result<Plan, PlanError> {
    let mut p = Builder::new(view.local.clone(), &view.machine.files);
    let Some(binary) = view.machine.binary.clone() else {
        return Ok(p.finish());
    };
    let config = view.model.config.as_ref().ok().map(|(c, _)| c);
    let config_path = Path::new(render::CONFIG_PATH);
    let refused_sha = p.disk.read(config_path)?.map(local::sha256);
    let last_good = match &p.local.last_good {
        Some(good) => match p.disk.read(Path::new(LAST_GOOD_CONFIG))? {
            Some(text) if local::sha256(text) == good.config_sha256 => {
                Some((good.clone(), text.to_vec()))
            }
            _ => None,
        },
        None => None,
    };
    // Only together with the files it names: without them it would not start (a
    // certificate), or would start otherwise than it served (the registry makes up an
    // htpasswd file that is missing).
    let missing = match &last_good {
        Some((good, _)) => missing_files(&p, &good.files)?,
        None => Vec::new(),
    };
    if !missing.is_empty() {
        p.warn(format!(
            "the last good config is not restored: what it names is gone ({})",
            missing.join(", ")
        ));
    }
    let last_good = last_good.filter(|_| missing.is_empty());
    let line = match (&refusal.line, config) {
        (Some(line), Some(c)) => redact(line, c),
        _ => fallback_line(refusal.why),
    };
    let changed = p
        .local
        .last_good
        .as_ref()
        .map(|good| changed_options(&good.options, &view.model.options));
    let options = config
        .map(|c| blame(&line, c, changed.as_ref()))
        .unwrap_or_default();
    let message = status_message(&options, &line, last_good.is_some());
    let refused = Refused {
        running: p.local.running.clone().unwrap_or_default(),
        config_sha256: refused_sha.unwrap_or_default(),
        message: message.clone(),
        options: options.clone(),
        upstream_down: false,
    };
    p.warn(message.clone());
    match last_good {
        Some((good, text)) => {
            let gid = view.machine.account.as_ref().map_or(0, |a| a.gid);
            put(
                &mut p,
                &Wanted {
                    path: config_path.into(),
                    contents: text.clone(),
                    spec: FileSpec::mode(0o640).owned_by((0, gid)),
                },
            )?;
            p.info("restarting the registry with its last good config");
            p.step(Step::Service(ServiceStep {
                call: ServiceCall::Restart,
                binary: binary.clone(),
                env: good.env.clone(),
            }));
            p.local.running = Some(good.running.clone());
            p.local.env = good.env.clone();
            // Watched like any start: what the last good config needs may be gone too.
            // (A record from before ports were kept has port 0: not watched.)
            if good.port != 0 {
                p.probe(Probe {
                    addr: SocketAddr::from(([127, 0, 0, 1], good.port)),
                    scheme: match (good.tls, good.client_certs) {
                        (false, _) => Scheme::Http,
                        (true, false) => Scheme::Https,
                        (true, true) => Scheme::HttpsClientCerts,
                    },
                    wait: Wait::Started,
                    ready: Status::blocked(message.clone()),
                    storage: None,
                    refuse: Refuse::Exit,
                    // The last good config's clientcas may not list this unit's
                    // certificate: the probe counts a refusal for want of one as an answer.
                    client: None,
                });
            }
            p.candidate(Candidate {
                config: Contents(text),
                env: good.env,
                running: good.running,
                binary,
                options: good.options,
                files: good.files,
                port: good.port,
                tls: good.tls,
                client_certs: good.client_certs,
            });
        }
        None => {
            p.step(Step::Service(ServiceStep {
                call: ServiceCall::Stop,
                binary,
                env: Vec::new(),
            }));
            p.local.running = None;
        }
    }
    // The next hook renders again: the file on disk is no longer the refused rendering.
    p.local.rendered_from = None;
    p.local.refused = Some(refused);
    p.status(Status::blocked(message));
    Ok(p.finish())
}

/// Those of `files` that are not on disk.
fn missing_files(p: &Builder, files: &[PathBuf]) -> Result<Vec<String>, PlanError> {
    let mut out = Vec::new();
    for path in files {
        if !p.disk.exists(path)? {
            out.push(path.display().to_string());
        }
    }
    Ok(out)
}

/// The last good config was refused as well (what it needs is gone too): the registry is
/// stopped, and the refusal remembered covers the config.yml now on disk, so no later
/// hook starts either config until something changes or the `start` action asks.
pub fn give_up(view: &View, refusal: &Refusal) -> Result<Plan, PlanError> {
    let mut p = Builder::new(view.local.clone(), &view.machine.files);
    let Some(binary) = view.machine.binary.clone() else {
        return Ok(p.finish());
    };
    let config = view.model.config.as_ref().ok().map(|(c, _)| c);
    let line = match (&refusal.line, config) {
        (Some(line), Some(c)) => redact(line, c),
        _ => fallback_line(refusal.why),
    };
    let options = config.map(|c| blame(&line, c, None)).unwrap_or_default();
    let message = status_message(&options, &line, false);
    let on_disk = p
        .disk
        .read(Path::new(render::CONFIG_PATH))?
        .map(local::sha256);
    p.warn(message.clone());
    p.step(Step::Service(ServiceStep {
        call: ServiceCall::Stop,
        binary,
        env: Vec::new(),
    }));
    let refused = p.local.refused.get_or_insert_with(Refused::default);
    refused.config_sha256 = on_disk.unwrap_or_default();
    refused.message = message.clone();
    p.local.running = None;
    p.local.last_good = None;
    p.local.rendered_from = None;
    p.status(Status::blocked(message));
    Ok(p.finish())
}

/// A hook whose config is the one the registry refused: nothing of it is applied; the
/// last good config keeps serving (started again if it died) and the unit stays blocked.
pub fn still_refused(view: &View, binary: &Path, refused: &Refused) -> Result<Plan, PlanError> {
    let mut p = Builder::new(view.local.clone(), &view.machine.files);
    p.local.refused = Some(refused.clone());
    if let Ok((config, _)) = &view.model.config {
        super::ignored::warn_once(&mut p, config);
    }
    super::secret::share(&mut p, &view.event, &view.model, &view.fresh)?;
    registry::keep_serving(&mut p, view, binary, None)?;
    p.status(Status::blocked(refused.message.clone()));
    Ok(p.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::charm::fixtures::config;
    use serde_json::json;
    use std::time::Duration;

    fn lines(text: &[&str]) -> Vec<String> {
        text.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn the_panic_line_of_the_latest_run() {
        let log = lines(&[
            r#"{"level":"error","msg":"an old run's error","time":"2020-01-01T00:00:00Z"}"#,
            r#"{"level":"info","msg":"redis not configured","time":"2030-01-01T00:00:00Z"}"#,
            "panic: swift authentication failed: Authorization Failed",
            "",
            "goroutine 1 [running]:",
            "github.com/docker/distribution/registry/handlers.NewApp({0x11a4b98?, 0xc0004b6870?}, 0xc0002fca80)",
        ]);
        let since = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            error_line(&log, since, None).as_deref(),
            Some("swift authentication failed: Authorization Failed")
        );
        // Only an earlier run's lines: nothing to quote.
        assert_eq!(error_line(&log[..1], since, None), None);
    }

    #[test]
    fn the_storage_checks_own_error_line_with_its_driver_detail() {
        let log = lines(&[
            r#"{"err.detail":"unrelated","http.request.uri":"/v2/x/manifests/y","level":"error","msg":"response completed with error","time":"2030-01-01T00:00:00Z"}"#,
            r#"{"err.code":"unknown","err.detail":"s3aws: NoSuchBucket: The specified bucket does not exist\n\tstatus code: 404, request id: , host id: ","http.request.uri":"/v2/_catalog?n=1","level":"error","msg":"response completed with error","time":"2030-01-01T00:00:01+02:00"}"#,
            r#"{"level":"info","msg":"response completed","time":"2030-01-01T00:00:02Z"}"#,
        ]);
        let since = SystemTime::UNIX_EPOCH;
        assert_eq!(
            error_line(&log, since, Some("/v2/_catalog")).as_deref(),
            Some("s3aws: NoSuchBucket: The specified bucket does not exist")
        );
        assert_eq!(
            error_line(&log[..1], since, Some("/v2/_catalog")),
            None,
            "another request's error is not the store's answer"
        );
    }

    #[test]
    fn the_text_format_too() {
        let log = lines(&[
            r#"time="2030-01-01T00:00:00Z" level=info msg="redis not configured" go.version=go1.19.8"#,
            r#"time="2030-01-01T00:00:01Z" level=fatal msg="listen tcp 127.0.0.1:5000: bind: address \"already\" in use""#,
        ]);
        assert_eq!(
            error_line(&log, SystemTime::UNIX_EPOCH, None).as_deref(),
            Some(r#"listen tcp 127.0.0.1:5000: bind: address "already" in use"#)
        );
        assert_eq!(logfmt("not a log line"), None);
        assert_eq!(logfmt(r#"level="unterminated"#), None);
    }

    #[test]
    fn long_lines_are_cut() {
        let long = format!("panic: {}", "x".repeat(500));
        let line = error_line(&[long], SystemTime::UNIX_EPOCH, None).unwrap();
        assert_eq!(line.chars().count(), MAX_LINE + 3);
    }

    fn swift(extra: serde_json::Value) -> CharmConfig {
        let mut c = json!({"storage-swift-authurl": "http://10.1.0.9:8080/auth/v1.0",
                           "storage-swift-username": "test:tester",
                           "storage-swift-password": "hunter2"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        config(c)
    }

    #[test]
    fn blame_names_the_options_the_error_is_about() {
        let c = swift(json!({}));
        assert_eq!(
            blame(
                "swift authentication failed: Authorization Failed",
                &c,
                None
            ),
            ["storage-swift-username", "storage-swift-password"]
        );
        // Of those, what changed since the last good config.
        let changed = BTreeSet::from(["storage-swift-password".to_string()]);
        assert_eq!(
            blame(
                "swift authentication failed: Authorization Failed",
                &c,
                Some(&changed)
            ),
            ["storage-swift-password"]
        );
        assert_eq!(
            blame(
                r#"swift authentication failed: Get "http://10.1.0.9:8080/auth/v1.0": dial tcp 10.1.0.9:8080: connect: connection refused"#,
                &c,
                None
            ),
            ["storage-swift-authurl"]
        );
        let s3 = config(
            json!({"storage-s3-region": "us-east-1", "storage-s3-bucket": "b",
                               "storage-s3-regionendpoint": "http://10.1.0.9:8080"}),
        );
        assert_eq!(
            blame(
                "s3aws: NoSuchBucket: The specified bucket does not exist",
                &s3,
                None
            ),
            ["storage-s3-bucket"]
        );
        assert_eq!(
            blame("s3aws: SignatureDoesNotMatch: ...", &s3, None),
            ["storage-s3-accesskey", "storage-s3-secretkey"]
        );
        let cache = config(json!({"cache-remoteurl": "http://10.1.0.12:5000"}));
        assert_eq!(
            blame(
                r#"Get "http://10.1.0.12:5000/v2/": dial tcp 10.1.0.12:5000: connect: no route to host"#,
                &cache,
                None
            ),
            ["cache-remoteurl"]
        );
        let port = config(json!({"registry-port": 443}));
        // Nothing recognisable: what changed, else nothing.
        let changed = BTreeSet::from(["log-level".to_string()]);
        assert_eq!(blame("something new", &port, Some(&changed)), ["log-level"]);
        assert!(blame("something new", &port, None).is_empty());
    }

    #[test]
    fn a_port_held_by_another_process_is_no_refusal() {
        for line in [
            "listen tcp :5000: bind: address already in use",
            r#"listen tcp 127.0.0.1:5001: bind: Address already in use"#,
        ] {
            assert!(port_in_use(line), "{line}");
        }
        for line in [
            "swift authentication failed: Authorization Failed",
            "open /etc/docker/registry/registry.crt: no such file or directory",
            r#"Get "http://10.1.0.12:5000/v2/": dial tcp 10.1.0.12:5000: connect: connection refused"#,
        ] {
            assert!(!port_in_use(line), "{line}");
        }
        let status = port_in_use_status("listen tcp :443: bind: address already in use");
        assert_eq!(status.kind, crate::juju::StatusKind::Blocked);
        assert!(
            status.message.contains("listen tcp :443"),
            "{}",
            status.message
        );
        assert!(!status.message.contains("refused its config"));
    }

    #[test]
    fn changed_options_leave_out_what_never_reaches_the_registry() {
        let before = BTreeMap::from([
            ("log-level".to_string(), "a".to_string()),
            ("registry-image".to_string(), "a".to_string()),
            ("nagios_context".to_string(), "a".to_string()),
        ]);
        let now = BTreeMap::from([
            ("log-level".to_string(), "b".to_string()),
            ("registry-image".to_string(), "b".to_string()),
            ("nagios_context".to_string(), "b".to_string()),
            ("cache-remoteurl".to_string(), "c".to_string()),
        ]);
        assert_eq!(
            changed_options(&before, &now),
            BTreeSet::from(["cache-remoteurl".to_string(), "log-level".to_string()])
        );
    }

    #[test]
    fn secrets_are_redacted_from_quoted_lines() {
        let c = swift(json!({}));
        assert_eq!(
            redact("auth with hunter2 failed", &c),
            "auth with <redacted> failed"
        );
        let p = config(json!({"registry-https-proxy": "http://u:pw-123@proxy:3128"}));
        assert_eq!(
            redact("proxyconnect tcp: http://u:pw-123@proxy:3128 refused", &p),
            "proxyconnect tcp: http://<redacted>@proxy:3128 refused"
        );
    }

    #[test]
    fn a_short_secret_is_redacted_only_where_it_stands_alone() {
        let c = config(json!({
            "storage-s3-accesskey": "a",
            "storage-s3-secretkey": "pw",
            "storage-s3-bucket": "b",
            "storage-s3-region": "r",
        }));
        assert_eq!(
            redact("s3aws: InvalidAccessKeyId: key a failed", &c),
            "s3aws: InvalidAccessKeyId: key <redacted> failed"
        );
        assert_eq!(redact("pw:a;apw", &c), "<redacted>:<redacted>;apw");
    }

    #[test]
    fn messages_name_options_and_what_serves() {
        assert_eq!(
            status_message(&["storage-s3-bucket".into()], "s3aws: NoSuchBucket", true),
            "The registry refused its config (storage-s3-bucket): s3aws: NoSuchBucket; the \
             last good config keeps serving."
        );
        assert_eq!(
            status_message(&[], "boom", false),
            "The registry refused its config: boom; nothing to serve until it is fixed."
        );
    }
}
