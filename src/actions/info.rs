//! `info`: where and how clients reach this registry, checked, and the exact commands to
//! go on with: the netloc and scheme, the CA (PEM and SHA-256 fingerprint), auth and a
//! login check against the registry itself (what `docker login` on the unit did for the
//! Python charm: there is no Docker here), the storage, then `docker login`,
//! `juju config kubernetes-control-plane image-registry=`, a containerd `hosts.toml` and
//! `skopeo copy` with the right TLS flags. Passwords are never printed: each command
//! prompts for it.
//!
//! # Results
//! ```text
//! auth: basic (user admin)
//! ca: -----BEGIN CERTIFICATE----- ...
//! ca-sha256: 3F:0A:...
//! login: Login Succeeded (user admin, GET https://10.1.0.5:5000/v2/)
//! netloc: 10.1.0.5:5000
//! next.containerd-hosts-toml / docker-login / image-registry / push / skopeo-copy / trust-ca
//! scheme: https
//! storage: filesystem /srv/registry (read-write, deletes disabled)
//! url: https://10.1.0.5:5000
//! ```

use super::target::connect_dest;
use super::{ActionError, Registry, Results, StorageKind};
use crate::registry_client::Scheme;

const ACTION: &str = "info";

/// What the registry answered to the login check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Login {
    /// `GET /v2/` accepted the configured credentials (or needs none).
    Succeeded,
    /// Token auth: the charm holds no credentials to check.
    NotChecked,
    /// The registry refused them, or could not be asked.
    Failed(String),
}

/// Runs the check and gathers everything; a failed check fails the action after the
/// results are set (the rest is still true and useful).
pub(crate) async fn run(registry: &Registry) -> Result<Results, ActionError> {
    let login = match &registry.token_realm {
        Some(_) => Login::NotChecked,
        None => match connect_dest(registry, ACTION).await {
            Ok(client) => match client.login().await {
                Ok(()) => Login::Succeeded,
                Err(e) => Login::Failed(e.to_string()),
            },
            Err(e) => Login::Failed(e.to_string()),
        },
    };
    let results = results(registry, &login);
    match login {
        Login::Failed(why) => Err(ActionError::Incomplete {
            action: ACTION.into(),
            message: format!("the login check failed: {why}"),
            results,
        }),
        _ => Ok(results),
    }
}

/// The results for `registry` and the outcome of the login check (pure).
pub(crate) fn results(registry: &Registry, login: &Login) -> Results {
    let netloc = registry.netloc.as_str();
    let scheme = registry.client_scheme.as_str();
    let https = registry.client_scheme == Scheme::Https;
    let user = registry.credentials.as_ref().map(|c| c.username.as_str());
    let mut r = Results::default();
    r.set("netloc", netloc);
    r.set("scheme", scheme);
    r.set("url", format!("{scheme}://{netloc}"));
    let ca = registry.ca_pem.as_deref().filter(|_| https);
    match ca {
        Some(pem) => {
            r.set("ca", pem.trim_end());
            let prints = crate::tls::sha256_fingerprints(pem);
            r.set("ca-sha256", prints.join(" "));
        }
        None if https => r.set(
            "ca",
            "none given to the charm: clients must already trust the issuer of the \
             registry's certificate",
        ),
        None => {}
    }
    r.set(
        "auth",
        match (user, &registry.token_realm) {
            (Some(u), _) => format!("basic (user {u})"),
            (None, Some(realm)) => format!("token (realm {realm})"),
            (None, None) => "none (anyone who reaches the registry can pull and push)".into(),
        },
    );
    let checked_at = format!(
        "GET {}://{}/v2/",
        registry.scheme.as_str(),
        registry.unit_netloc
    );
    r.set(
        "login",
        match (login, user) {
            (Login::Succeeded, Some(u)) => format!("Login Succeeded (user {u}, {checked_at})"),
            (Login::Succeeded, None) => {
                format!("Login Succeeded (no credentials needed, {checked_at})")
            }
            (Login::NotChecked, _) => {
                "not checked: token auth, the charm holds no credentials (clients get tokens \
                 from the realm)"
                    .into()
            }
            (Login::Failed(why), _) => format!("FAILED: {why}"),
        },
    );
    r.set("storage", storage(registry));
    let certs_dir = |base: &str| format!("{base}/{netloc}");
    if ca.is_some() {
        r.set(
            "next.trust-ca",
            format!(
                "save `ca` above as ca.crt in {} (docker), {} (containerd) and {} (skopeo)",
                certs_dir("/etc/docker/certs.d"),
                certs_dir("/etc/containerd/certs.d"),
                certs_dir("./certs.d"),
            ),
        );
    }
    let login_user = match (user, &registry.token_realm) {
        (Some(u), _) => Some(u.to_string()),
        (None, Some(_)) => Some("<user>".to_string()),
        (None, None) => None,
    };
    r.set(
        "next.docker-login",
        match (&login_user, https) {
            (Some(u), true) => format!("docker login {netloc} --username {u}"),
            (Some(u), false) => format!(
                "docker login {netloc} --username {u}   (plain http: list {netloc} in \
                 \"insecure-registries\" of /etc/docker/daemon.json first)"
            ),
            (None, _) => "none needed: the registry has no auth".into(),
        },
    );
    r.set(
        "next.image-registry",
        format!("juju config kubernetes-control-plane image-registry={netloc}"),
    );
    r.set(
        "next.containerd-hosts-toml",
        hosts_toml(netloc, scheme, ca.is_some()),
    );
    let mut skopeo = vec!["skopeo copy".to_string()];
    skopeo.push(match (https, ca.is_some()) {
        (true, true) => format!("--dest-cert-dir {}", certs_dir("./certs.d")),
        (true, false) => String::new(),
        (false, _) => "--dest-tls-verify=false".into(),
    });
    if let Some(u) = &login_user {
        skopeo.push(format!("--dest-creds {u}"));
    }
    skopeo.push(format!("docker://SOURCE docker://{netloc}/NAME:TAG"));
    skopeo.retain(|s| !s.is_empty());
    r.set("next.skopeo-copy", skopeo.join(" "));
    r.set(
        "next.push",
        format!(
            "juju run {}/leader push image=SOURCE tag={netloc}/NAME:TAG",
            registry.application
        ),
    );
    r
}

fn storage(registry: &Registry) -> String {
    let mode = if registry.storage_read_only {
        "read-only"
    } else {
        "read-write"
    };
    let deletes = if registry.storage_delete {
        "deletes enabled"
    } else {
        "deletes disabled"
    };
    match &registry.storage {
        StorageKind::Filesystem { root } => {
            format!("filesystem {} ({mode}, {deletes})", root.display())
        }
        StorageKind::Shared { driver } => format!("{driver} ({mode}, {deletes})"),
    }
}

/// containerd's registry host config for this registry (`/etc/containerd/certs.d/...`).
fn hosts_toml(netloc: &str, scheme: &str, ca: bool) -> String {
    let mut lines = vec![
        format!("# /etc/containerd/certs.d/{netloc}/hosts.toml"),
        format!("server = \"{scheme}://{netloc}\""),
        String::new(),
        format!("[host.\"{scheme}://{netloc}\"]"),
        "  capabilities = [\"pull\", \"resolve\"]".to_string(),
    ];
    if ca {
        lines.push(format!(
            "  ca = \"/etc/containerd/certs.d/{netloc}/ca.crt\""
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::registry_client::Credentials;

    fn registry(scheme: Scheme, ca: Option<&str>, user: Option<&str>) -> Registry {
        Registry {
            application: "docker-registry".into(),
            netloc: "10.1.0.5:5000".into(),
            unit_netloc: "10.1.0.5:5000".into(),
            port: 5000,
            scheme,
            client_scheme: scheme,
            ca_pem: ca.map(str::to_string),
            credentials: user.map(|u| Credentials {
                username: u.into(),
                password: Secret::new("s3cret-pw"),
            }),
            token_realm: None,
            storage_read_only: false,
            storage_delete: true,
            storage: StorageKind::Filesystem {
                root: "/srv/registry".into(),
            },
            units: 1,
            http_proxy: None,
            https_proxy: None,
            binary: "docker-registry".into(),
            config_path: "/etc/docker/registry/config.yml".into(),
            client: None,
        }
    }

    #[test]
    fn plain_http_without_auth() {
        let r = results(&registry(Scheme::Http, None, None), &Login::Succeeded);
        assert_eq!(r.get("url"), Some("http://10.1.0.5:5000"));
        assert_eq!(r.get("ca"), None);
        assert!(r
            .get("login")
            .unwrap()
            .starts_with("Login Succeeded (no credentials"));
        assert_eq!(
            r.get("next.skopeo-copy"),
            Some("skopeo copy --dest-tls-verify=false docker://SOURCE docker://10.1.0.5:5000/NAME:TAG")
        );
        assert_eq!(
            r.get("next.containerd-hosts-toml"),
            Some(
                "# /etc/containerd/certs.d/10.1.0.5:5000/hosts.toml\n\
                 server = \"http://10.1.0.5:5000\"\n\n\
                 [host.\"http://10.1.0.5:5000\"]\n  capabilities = [\"pull\", \"resolve\"]"
            )
        );
        assert_eq!(
            r.get("storage"),
            Some("filesystem /srv/registry (read-write, deletes enabled)")
        );
    }

    #[test]
    fn https_with_a_ca_and_basic_auth_never_shows_the_password() {
        let ca = "-----BEGIN CERTIFICATE-----\nnot parsed here\n-----END CERTIFICATE-----\n";
        let r = results(
            &registry(Scheme::Https, Some(ca), Some("admin")),
            &Login::Succeeded,
        );
        assert_eq!(r.get("ca"), Some(ca.trim_end()));
        assert_eq!(
            r.get("login"),
            Some("Login Succeeded (user admin, GET https://10.1.0.5:5000/v2/)")
        );
        assert_eq!(
            r.get("next.skopeo-copy"),
            Some(
                "skopeo copy --dest-cert-dir ./certs.d/10.1.0.5:5000 --dest-creds admin \
                 docker://SOURCE docker://10.1.0.5:5000/NAME:TAG"
            )
        );
        assert!(r
            .get("next.containerd-hosts-toml")
            .unwrap()
            .ends_with("  ca = \"/etc/containerd/certs.d/10.1.0.5:5000/ca.crt\""));
        for (k, v) in r.iter() {
            assert!(!v.contains("s3cret"), "{k} shows the password: {v}");
        }
        let failed = results(
            &registry(Scheme::Https, Some(ca), Some("admin")),
            &Login::Failed("401".into()),
        );
        assert_eq!(failed.get("login"), Some("FAILED: 401"));
    }
}
