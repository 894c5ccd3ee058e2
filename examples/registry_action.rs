//! Runs one registry action (push, images, rmi, mirror, gc) from the command line,
//! the way the charm will: for benchmarks and trying the actions before the charm
//! wiring exists. Not shipped in the charm.
//!
//! ```text
//! REGISTRY_NETLOC=127.0.0.1:5000 registry_action push image=python:3.9-slim pull=true
//! ```
//! Environment: REGISTRY_NETLOC (required), REGISTRY_SCHEME (http|https, default
//! http), REGISTRY_CA_FILE, REGISTRY_USER + REGISTRY_PASSWORD, REGISTRY_DELETE and
//! REGISTRY_READ_ONLY (true|false), REGISTRY_ROOT (filesystem storage root),
//! REGISTRY_BINARY, REGISTRY_CONFIG, REGISTRY_HTTP_PROXY, REGISTRY_HTTPS_PROXY.
//! Params are `key=value`; `true`/`false` become booleans. Results print as
//! `key: value`; progress goes to stderr; a failure exits 1 with its message.

use std::process::ExitCode;

use charm::actions::{self, ActionIo, Registry, StorageKind};
use charm::config::Secret;
use charm::registry_client::{Credentials, Scheme};
use serde_json::{Map, Value};

struct Stderr;

impl ActionIo for Stderr {
    fn log(&self, line: &str) {
        eprintln!("{line}");
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn registry() -> Result<Registry, String> {
    let netloc = env("REGISTRY_NETLOC").ok_or("set REGISTRY_NETLOC=host:port")?;
    let port = netloc
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or("REGISTRY_NETLOC needs a port")?;
    let ca_pem = match env("REGISTRY_CA_FILE") {
        Some(f) => Some(std::fs::read_to_string(&f).map_err(|e| format!("{f}: {e}"))?),
        None => None,
    };
    let credentials = match (env("REGISTRY_USER"), env("REGISTRY_PASSWORD")) {
        (Some(username), Some(p)) => Some(Credentials {
            username,
            password: Secret::new(p),
        }),
        _ => None,
    };
    let flag = |n: &str| env(n).is_some_and(|v| v == "true");
    let scheme = match env("REGISTRY_SCHEME").as_deref() {
        Some("https") => Scheme::Https,
        _ => Scheme::Http,
    };
    Ok(Registry {
        application: "docker-registry".into(),
        unit_netloc: netloc.clone(),
        netloc,
        port,
        scheme,
        client_scheme: scheme,
        ca_pem,
        credentials,
        token_realm: None,
        storage_read_only: flag("REGISTRY_READ_ONLY"),
        storage_delete: flag("REGISTRY_DELETE"),
        storage: StorageKind::Filesystem {
            root: env("REGISTRY_ROOT")
                .unwrap_or_else(|| "/srv/registry".into())
                .into(),
        },
        units: 1,
        http_proxy: env("REGISTRY_HTTP_PROXY"),
        https_proxy: env("REGISTRY_HTTPS_PROXY"),
        binary: env("REGISTRY_BINARY")
            .unwrap_or_else(|| "docker-registry".into())
            .into(),
        config_path: env("REGISTRY_CONFIG")
            .unwrap_or_else(|| "/etc/docker/registry/config.yml".into())
            .into(),
        client: None,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((action, rest)) = args.split_first() else {
        eprintln!("usage: registry_action ACTION [key=value ...]");
        return ExitCode::from(2);
    };
    let mut params = Map::new();
    for kv in rest {
        let Some((k, v)) = kv.split_once('=') else {
            eprintln!("expected key=value, got {kv:?}");
            return ExitCode::from(2);
        };
        let v = match v {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            s => Value::String(s.to_string()),
        };
        params.insert(k.to_string(), v);
    }
    let registry = match registry() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let print = |r: &actions::Results| {
        for (k, v) in r.iter() {
            println!("{k}: {v}");
        }
    };
    match actions::run(action, &params, &registry, &Stderr) {
        Ok(r) => {
            print(&r);
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let Some(r) = e.results() {
                print(r);
            }
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
