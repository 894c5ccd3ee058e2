//! End to end: the charm on jujusim machines with the real docker-registry
//! (the charm starts it), skopeo as the client, certificates from openssl, and the easyrsa
//! test charm as a CA. Test images are built offline with umoci; skopeo and curl run inside
//! the model network (`jujusim netexec`), the only place the registry is reachable.
//!
//! jujusim runs hooks until the model is idle before a command returns, so the status a
//! test reads right after a command is final: a `Ready` status means the charm's own probe
//! got an answer from the registry, and the tests assert it at once instead of polling.
mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::clients::{self, build_image, ingress, Image, Tls};
use support::jujusim::{related_data, testcharm, Model, Output};
use support::pki::Pki;

const APP: &str = "docker-registry";
const UNIT0: &str = "docker-registry/0";
const CONFIG_YML: &str = "/etc/docker/registry/config.yml";
const CERT: &str = "/etc/docker/registry/registry.crt";
const KEY: &str = "/etc/docker/registry/registry.key";
const CA: &str = "/etc/docker/registry/ca.crt";
const PID_FILE: &str = "/run/docker-registry-charm/registry.pid";

/// A deployed registry in its own model.
struct Registry {
    m: Model,
    /// `network-get website --ingress-address` of docker-registry/0.
    addr: String,
}

impl Registry {
    /// Deploys the charm (one unit) and checks it is `Ready at <ingress>:5000 (http).`.
    fn deploy() -> Registry {
        let m = Model::new();
        let charm = m.registry_charm();
        m.ok(&["deploy", &charm.display().to_string(), APP]);
        let addr = ingress(&m, UNIT0);
        let r = Registry { m, addr };
        r.expect_status(
            UNIT0,
            "active",
            &format!("Ready at {}:5000 (http).", r.addr),
        );
        r
    }

    /// Fails unless `unit`'s workload status is exactly (`current`, `message`).
    fn expect_status(&self, unit: &str, current: &str, message: &str) {
        self.m.expect_status(unit, current, message);
    }

    /// (current, message) of `unit`'s workload status.
    fn status(&self, unit: &str) -> (String, String) {
        self.m.workload_status(unit)
    }

    /// The registry process identity from the charm's pid file (pid and start time).
    fn pid(&self, unit: &str) -> String {
        let out = self.m.exec(unit, &format!("cat {PID_FILE}"));
        let id: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.starts_with("pid=") || l.starts_with("start_time="))
            .collect();
        self.m
            .check(id.len() == 2, "pid file without pid/start_time", &out);
        // The recorded process must really be alive (a zombie would pass `kill -0`).
        let pid = id[0].trim_start_matches("pid=");
        let state = self.proc_state(unit, pid);
        self.m.check(
            !state.is_empty() && state != "Z" && state != "X",
            &format!("the registry pid {pid} is not alive (state {state:?})"),
            &out,
        );
        id.join(" ")
    }

    /// The state letter of `pid` on `unit` from /proc (empty when the pid is gone).
    fn proc_state(&self, unit: &str, pid: &str) -> String {
        let script = format!("sed -n 's/.*) \\(.\\).*/\\1/p' /proc/{pid}/stat 2>/dev/null || true");
        self.m.exec(unit, &script).text().to_string()
    }

    /// SIGKILLs the registry behind the charm's back and waits until it has really died
    /// (signal delivery is asynchronous), so the next hook must notice a dead process.
    fn kill_registry(&self, unit: &str) {
        let id = self.pid(unit);
        let pid = id
            .split_whitespace()
            .next()
            .and_then(|p| p.strip_prefix("pid="))
            .unwrap_or_default()
            .to_string();
        self.m.exec(unit, &format!("kill -KILL {pid}"));
        self.m.eventually(
            &format!("registry pid {pid} to die"),
            std::time::Duration::from_secs(5),
            || {
                let state = self.proc_state(unit, &pid);
                if state.is_empty() || state == "Z" || state == "X" {
                    Ok(())
                } else {
                    Err(self.m.exec(unit, &format!("cat /proc/{pid}/status")))
                }
            },
        );
    }

    /// `http(s)://<addr>:<port>/v2/<path>`.
    fn url(&self, tls: Tls, port: u16, path: &str) -> String {
        let scheme = match tls {
            Tls::Off => "http",
            Tls::Ca(_) => "https",
        };
        format!("{scheme}://{}:{port}/v2/{path}", self.addr)
    }

    /// The HTTP status code of `GET url` (curl inside the model network).
    fn http_code(&self, url: &str, tls: Tls, creds: Option<&str>) -> String {
        clients::http_code(&self.m, url, tls, creds)
    }

    /// Fails unless `GET url` answers `code`.
    fn expect_code(&self, url: &str, tls: Tls, creds: Option<&str>, code: &str) {
        let got = self.http_code(url, tls, creds);
        if got != code {
            let who = creds
                .map(|c| c.split(':').next().unwrap_or(""))
                .unwrap_or("no creds");
            self.m.fail(
                &format!("GET {url} ({who}): expected {code}, got {got}"),
                &self.m.run(&["status"]),
            );
        }
    }

    /// `skopeo ARGS` inside the model network, with no stored credentials (never panics).
    fn skopeo(&self, args: &[&str]) -> Output {
        clients::skopeo(&self.m, args)
    }

    /// `<addr>:<port>`.
    fn netloc(&self, port: u16) -> String {
        format!("{}:{port}", self.addr)
    }

    /// `docker://<addr>:<port>/e2e/<name>:<tag>`.
    fn reference(&self, port: u16, img: &Image) -> String {
        img.reference(&self.netloc(port))
    }

    /// skopeo copy of `img` into the registry.
    fn push(&self, port: u16, img: &Image, tls: Tls, creds: Option<&str>) -> Output {
        clients::push(&self.m, &self.netloc(port), img, tls, creds)
    }

    /// Pushes `img`, requiring success.
    fn push_ok(&self, port: u16, img: &Image, tls: Tls, creds: Option<&str>) {
        clients::push_ok(&self.m, &self.netloc(port), img, tls, creds);
    }

    /// Pulls `img` back into a fresh OCI layout and checks its manifest digest.
    fn pull_and_compare(&self, port: u16, img: &Image, tls: Tls, creds: Option<&str>) {
        clients::pull_and_compare(&self.m, &self.netloc(port), img, tls, creds);
    }

    /// Fails unless the registry still has `img` with its digest (skopeo inspect).
    fn expect_image(&self, port: u16, img: &Image, tls: Tls, creds: Option<&str>) {
        let reference = self.reference(port, img);
        let mut args = vec!["inspect"];
        let cert_dir;
        match tls {
            Tls::Off => args.push("--tls-verify=false"),
            Tls::Ca(d) => {
                cert_dir = d.display().to_string();
                args.extend(["--cert-dir", &cert_dir]);
            }
        }
        if let Some(c) = creds {
            args.extend(["--creds", c]);
        }
        args.push(&reference);
        let out = self.skopeo(&args);
        if !out.success() {
            self.m
                .fail(&format!("{} is gone from the registry", img.name), &out);
        }
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| self.m.fail(&format!("skopeo inspect: {e}"), &out));
        self.m.check(
            v["Digest"] == img.digest.as_str(),
            &format!("registry has {} at another digest", img.name),
            &out,
        );
    }

    /// `jujusim config docker-registry ARGS`.
    /// Sets the three `tls-*-blob` options from `pki` (its CA and `server` cert) and waits
    /// for `Ready at <addr>:5000 (https).`.
    fn serve_tls_blobs(&self, pki: &Pki) {
        self.config(&[
            &format!("tls-ca-blob={}", pki.blob("ca.crt")),
            &format!("tls-cert-blob={}", pki.blob("server.crt")),
            &format!("tls-key-blob={}", pki.blob("server.key")),
        ]);
        self.expect_status(
            UNIT0,
            "active",
            &format!("Ready at {}:5000 (https).", self.addr),
        );
    }

    fn config(&self, args: &[&str]) -> Output {
        let mut argv = vec!["config", APP];
        argv.extend_from_slice(args);
        self.m.ok(&argv)
    }

    /// `GET https://<addr>:5000/v2/` trusting `dir`'s `ca.crt`, presenting its
    /// `client.cert`/`client.key` when `client`: curl's HTTP code, `000` when the
    /// registry refused the TLS handshake.
    fn code_with_client_cert(&self, dir: &Path, client: bool, creds: Option<&str>) -> String {
        let path = |f: &str| dir.join(f).display().to_string();
        let (ca, cert, key) = (path("ca.crt"), path("client.cert"), path("client.key"));
        let url = self.url(Tls::Ca(dir), 5000, "");
        let mut args = vec!["netexec", "--", "curl", "-s", "--max-time", "5"];
        args.extend(["-o", "/dev/null", "-w", "%{http_code}", "--cacert", &ca]);
        if client {
            args.extend(["--cert", &cert, "--key", &key]);
        }
        if let Some(c) = creds {
            args.extend(["-u", c]);
        }
        args.push(&url);
        self.m.run(&args).stdout.trim().to_string()
    }

    /// Fails unless the registry refuses a client without a certificate and serves one
    /// with the certificate in `dir`.
    fn expect_client_certificates_demanded(&self, dir: &Path, creds: Option<&str>) {
        let without = self.code_with_client_cert(dir, false, creds);
        let with = self.code_with_client_cert(dir, true, creds);
        self.m.check(
            without == "000" && with == "200",
            &format!(
                "client certificates: without one got {without} (want 000: refused), with \
                 one got {with} (want 200)"
            ),
            &self.m.exec(UNIT0, &format!("cat {CONFIG_YML}")),
        );
    }

    /// `stat -c FORMAT PATH` on `unit`.
    fn stat(&self, unit: &str, format: &str, path: &str) -> String {
        self.m
            .exec(unit, &format!("stat -c '{format}' {path}"))
            .text()
            .to_string()
    }

    /// Whether `path` exists on `unit`.
    fn exists(&self, unit: &str, path: &str) -> bool {
        self.m
            .run(&["exec", unit, "--", "test", "-e", path])
            .success()
    }
}

#[test]
fn deploy_is_ready_over_http_and_round_trips_an_image() {
    let r = Registry::deploy();
    r.expect_code(&r.url(Tls::Off, 5000, ""), Tls::Off, None, "200");

    let img = build_image(&r.m, "roundtrip");
    r.push_ok(5000, &img, Tls::Off, None);
    r.expect_image(5000, &img, Tls::Off, None);
    r.pull_and_compare(5000, &img, Tls::Off, None);
}

/// registry-port below 1024 (443 worked with the Python charm, whose container port was
/// published by root): the registry runs as its own user, so it needs CAP_NET_BIND_SERVICE
/// and nothing more.
#[test]
fn a_privileged_registry_port_serves() {
    let r = Registry::deploy();
    r.config(&["registry-port=443"]);
    r.expect_status(UNIT0, "active", &format!("Ready at {}:443 (http).", r.addr));
    r.expect_code(&r.url(Tls::Off, 443, ""), Tls::Off, None, "200");
    let pid = r.pid(UNIT0);
    let pid = pid.split_whitespace().next().unwrap_or_default();
    let pid = pid.trim_start_matches("pid=");
    let caps = r.m.exec(
        UNIT0,
        &format!("grep -E '^Cap(Eff|Prm|Amb)' /proc/{pid}/status"),
    );
    for line in caps.text().lines() {
        assert!(
            line.ends_with("0000000000000400"),
            "only CAP_NET_BIND_SERVICE: {line}"
        );
    }
}

#[test]
fn basic_auth_guards_the_registry_and_a_password_change_does_not_restart_it() {
    let r = Registry::deploy();
    let v2 = r.url(Tls::Off, 5000, "");
    r.config(&["auth-basic-user=admin", "auth-basic-password=first-Secret1"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (http).", r.addr),
    );
    r.expect_code(&v2, Tls::Off, None, "401");
    r.expect_code(&v2, Tls::Off, Some("admin:first-Secret1"), "200");
    r.expect_code(&v2, Tls::Off, Some("admin:wrong"), "401");

    let img = build_image(&r.m, "auth");
    let out = r.push(5000, &img, Tls::Off, None);
    r.m.check(
        !out.success() && out.stderr.contains("authentication required"),
        "a push without credentials was not refused for lack of authentication",
        &out,
    );
    r.push_ok(5000, &img, Tls::Off, Some("admin:first-Secret1"));
    r.pull_and_compare(5000, &img, Tls::Off, Some("admin:first-Secret1"));

    // A new password only rewrites htpasswd, which the registry re-reads by itself.
    let before = r.pid(UNIT0);
    r.config(&["auth-basic-password=second-Secret2"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (http).", r.addr),
    );
    r.expect_code(&v2, Tls::Off, Some("admin:first-Secret1"), "401");
    r.expect_code(&v2, Tls::Off, Some("admin:second-Secret2"), "200");
    r.expect_image(5000, &img, Tls::Off, Some("admin:second-Secret2"));
    let after = r.pid(UNIT0);
    r.m.check(
        before == after,
        &format!("a password change restarted the registry: {before} -> {after}"),
        &r.m.run(&["debug-log", "--replay"]),
    );
    let out = r.skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        "admin:first-Secret1",
        &r.reference(5000, &img),
    ]);
    r.m.check(!out.success(), "the old password still reads images", &out);
}

#[test]
fn tls_blobs_serve_https_and_clearing_them_falls_back_to_http() {
    let r = Registry::deploy();
    let pki = Pki::new(&r.m, "blobs");
    pki.issue(&r.m, "server", &r.addr);
    let certs = pki.certs();
    let https = Tls::Ca(&certs);

    // A client related before TLS: its data must follow the switch to https.
    r.m.ok(&["deploy", &testcharm("containerd")]);
    r.m.ok(&["integrate", APP, "containerd:docker-registry"]);

    r.serve_tls_blobs(&pki);
    r.expect_code(&r.url(https, 5000, ""), https, None, "200");
    // Plain HTTP to the TLS port: Go answers 400 "Client sent an HTTP request to an HTTPS server".
    r.expect_code(&r.url(Tls::Off, 5000, ""), Tls::Off, None, "400");
    let img = build_image(&r.m, "tls");
    r.push_ok(5000, &img, https, None);
    r.pull_and_compare(5000, &img, https, None);

    let key = r.stat(UNIT0, "%a %U", KEY);
    r.m.check(
        key == "600 docker-registry",
        &format!("key file is {key:?}, not 600 docker-registry"),
        &r.m.exec(UNIT0, "ls -la /etc/docker/registry"),
    );
    let served = r.m.exec(UNIT0, &format!("cat {CERT}"));
    let want = std::fs::read_to_string(pki.dir.join("server.crt")).unwrap_or_default();
    r.m.check(
        served.stdout.trim() == want.trim(),
        "the served certificate is not the configured one",
        &served,
    );

    // The runtime got https and the CA, and can pull with exactly what it was given.
    let show = r.m.run(&["show-unit", "containerd/0", "--format", "json"]);
    let data = related_data(&r.m.show_unit("containerd/0"), "docker-registry", UNIT0);
    let url = data["registry_url"].as_str().unwrap_or_default();
    r.m.check(
        url.contains(&format!("https://{}:5000", r.addr))
            && data["tls_ca"]
                .as_str()
                .unwrap_or_default()
                .contains("BEGIN CERTIFICATE"),
        &format!("client relation data does not say https with a CA: {data}"),
        &show,
    );
    let image = format!("{}:5000/e2e/tls:v1", r.addr);
    let pulled =
        r.m.ok(&["run", "containerd/0", "pull", &format!("image={image}")]);
    r.m.check(
        pulled.stdout.contains("pulled"),
        "the related runtime could not pull over https",
        &pulled,
    );

    // Clearing the blobs: plain http again, and the charm's files are gone; the status
    // says what the related runtime now misses (B6).
    r.config(&["--reset", "tls-ca-blob,tls-cert-blob,tls-key-blob"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!(
            "Ready at {}:5000 (http). Container runtimes pull over HTTPS only: juju config \
             docker-registry tls-auto=true, or relate a CA.",
            r.addr
        ),
    );
    r.expect_code(&r.url(Tls::Off, 5000, ""), Tls::Off, None, "200");
    for path in [CERT, KEY, CA] {
        r.m.check(
            !r.exists(UNIT0, path),
            &format!("{path} is still there after the blobs were cleared"),
            &r.m.exec(UNIT0, "ls -la /etc/docker/registry"),
        );
    }
    let cfg = r.m.exec(UNIT0, &format!("cat {CONFIG_YML}"));
    r.m.check(
        !cfg.stdout.contains("tls:"),
        "config.yml still has tls",
        &cfg,
    );
    r.expect_image(5000, &img, Tls::Off, None);
    let show = r.m.run(&["show-unit", "containerd/0", "--format", "json"]);
    let data = related_data(&r.m.show_unit("containerd/0"), "docker-registry", UNIT0);
    r.m.check(
        data["registry_url"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("http://{}:5000", r.addr)),
        &format!("client relation data did not go back to http: {data}"),
        &show,
    );
}

#[test]
fn easyrsa_relation_serves_https_and_removing_it_falls_back_to_http() {
    let r = Registry::deploy();
    r.m.ok(&["deploy", &testcharm("easyrsa")]);
    r.m.ok(&["integrate", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );

    // The served certificate is signed by easyrsa's CA and names the unit address.
    let text =
        r.m.exec(UNIT0, &format!("openssl x509 -in {CERT} -noout -text"));
    r.m.check(
        text.stdout.contains(&format!("IP Address:{}", r.addr))
            && text.stdout.contains("Issuer: CN = easyrsa-sim CA"),
        "the certificate is not easyrsa's for the unit address",
        &text,
    );
    let ca = r.m.exec("easyrsa/0", "cat /var/lib/easyrsa-sim/ca.crt");
    let certs = r.m.scratch().join("easyrsa-certs");
    std::fs::create_dir_all(&certs).expect("creating the CA dir");
    std::fs::write(certs.join("ca.crt"), &ca.stdout).expect("writing the CA");
    let https = Tls::Ca(&certs);
    // Over the wire: verified against easyrsa's CA, host name = the unit's IP.
    let s_client = r.m.netexec(&[
        "sh",
        "-c",
        &format!(
            "openssl s_client -connect {a}:5000 -CAfile {ca} -verify_ip {a} -verify_return_error </dev/null 2>&1",
            a = r.addr,
            ca = certs.join("ca.crt").display()
        ),
    ]);
    r.m.check(
        s_client.stdout.contains("Verify return code: 0 (ok)"),
        "openssl s_client did not verify the registry against easyrsa's CA",
        &s_client,
    );
    r.expect_code(&r.url(https, 5000, ""), https, None, "200");
    let img = build_image(&r.m, "easyrsa");
    r.push_ok(5000, &img, https, None);
    r.pull_and_compare(5000, &img, https, None);

    // A new name clients use (http-host) gets into a re-issued certificate
    // (docs/python-charm-bugs.md#b32).
    r.config(&["http-host=https://registry.e2e.test:5000/"]);
    r.expect_status(UNIT0, "active", "Ready at registry.e2e.test:5000 (https).");
    let sans = r.m.exec(
        UNIT0,
        &format!("openssl x509 -in {CERT} -noout -ext subjectAltName"),
    );
    r.m.check(
        sans.stdout.contains("DNS:registry.e2e.test")
            && sans.stdout.contains(&format!("IP Address:{}", r.addr)),
        "the certificate was not re-issued for http-host",
        &sans,
    );
    let by_name = r.m.netexec(&[
        "curl",
        "-sS",
        "--max-time",
        "5",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--cacert",
        &certs.join("ca.crt").display().to_string(),
        "--resolve",
        &format!("registry.e2e.test:5000:{}", r.addr),
        "https://registry.e2e.test:5000/v2/",
    ]);
    r.m.check(
        by_name.text() == "200",
        "https by the http-host name failed",
        &by_name,
    );
    r.config(&["--reset", "http-host"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );

    // Removing the CA: plain http again, and no hook failed on the way.
    r.m.ok(&["remove-relation", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (http).", r.addr),
    );
    r.expect_code(&r.url(Tls::Off, 5000, ""), Tls::Off, None, "200");
    r.expect_image(5000, &img, Tls::Off, None);
    let log = r.m.debug_log();
    r.m.check(
        !log.contains("hook failed") && !log.contains(") failed: exit status"),
        "a hook failed while the relation went away",
        &r.m.run(&["status"]),
    );
    for path in [CERT, KEY] {
        r.m.check(
            !r.exists(UNIT0, path),
            &format!("{path} is still there after the CA went away"),
            &r.m.exec(UNIT0, "ls -la /etc/docker/registry"),
        );
    }

    // Issue 17 item 10: the CA related again. https again, verified against the same CA,
    // with the image pushed before still there: nothing was lost on the way.
    r.m.ok(&["integrate", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    r.expect_code(&r.url(https, 5000, ""), https, None, "200");
    r.expect_image(5000, &img, https, None);
    r.pull_and_compare(5000, &img, https, None);
}

#[test]
fn invalid_values_block_naming_the_option_and_keep_the_last_good_config_serving() {
    let r = Registry::deploy();
    let img = build_image(&r.m, "keep");
    r.push_ok(5000, &img, Tls::Off, None);
    let pid = r.pid(UNIT0);
    let v2 = r.url(Tls::Off, 5000, "");

    let pki = Pki::new(&r.m, "bad");
    pki.issue(&r.m, "server", &r.addr);
    pki.issue(&r.m, "other", &r.addr);
    let ca = format!("tls-ca-blob={}", pki.blob("ca.crt"));
    let cert = format!("tls-cert-blob={}", pki.blob("server.crt"));
    let other_key = format!("tls-key-blob={}", pki.blob("other.key"));

    // (settings, the option the message must name)
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["registry-port=0"], "registry-port"),
        (vec!["registry-port=70000"], "registry-port"),
        (vec!["storage-cache=bogus"], "storage-cache"),
        (vec![&cert], "tls-key-blob"),
        (vec!["tls-cert-blob=not-base64!!"], "tls-cert-blob"),
        (vec![&ca, &cert, &other_key], "tls-key-blob"),
    ];
    let all = "registry-port,storage-cache,tls-ca-blob,tls-cert-blob,tls-key-blob";
    for (settings, option) in &cases {
        r.config(settings);
        let (current, message) = r.status(UNIT0);
        let shown: Vec<String> = settings
            .iter()
            .map(|s| s.chars().take(40).collect())
            .collect();
        if current != "blocked"
            || !message.starts_with("Invalid charm config: ")
            || !message.contains(option)
        {
            r.m.fail(
                &format!("{shown:?}: expected blocked naming {option}, got {current} {message:?}"),
                &r.m.run(&["status"]),
            );
        }
        // The last good config keeps serving: same process, same port, same images.
        r.expect_code(&v2, Tls::Off, None, "200");
        r.expect_image(5000, &img, Tls::Off, None);
        let now = r.pid(UNIT0);
        r.m.check(
            now == pid,
            &format!("{shown:?} restarted the registry: {pid} -> {now}"),
            &r.m.run(&["debug-log", "--replay"]),
        );
        r.config(&["--reset", all]);
        r.expect_status(
            UNIT0,
            "active",
            &format!("Ready at {}:5000 (http).", r.addr),
        );
        let now = r.pid(UNIT0);
        r.m.check(
            now == pid,
            &format!("going back to the same good config after {shown:?} restarted the registry"),
            &r.m.run(&["debug-log", "--replay"]),
        );
    }

    // A valid change after all that is applied: a new port, the same data.
    r.config(&["registry-port=5001"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5001 (http).", r.addr),
    );
    r.expect_code(&r.url(Tls::Off, 5001, ""), Tls::Off, None, "200");
    r.expect_image(5001, &img, Tls::Off, None);
    let ports = r.m.unit_status(UNIT0)["open-ports"].clone();
    r.m.check(
        ports == serde_json::json!(["5001/tcp"]),
        &format!("open ports did not follow registry-port: {ports}"),
        &r.m.run(&["status"]),
    );
}

#[test]
fn update_status_twenty_times_neither_restarts_nor_rewrites() {
    let r = Registry::deploy();
    let pid = r.pid(UNIT0);
    let mtime = r.stat(UNIT0, "%y", CONFIG_YML);
    let ready = format!("Ready at {}:5000 (http).", r.addr);
    for i in 0..20 {
        r.m.ok(&["update-status", UNIT0]);
        r.expect_status(UNIT0, "active", &ready);
        let now = r.pid(UNIT0);
        r.m.check(
            now == pid,
            &format!(
                "update-status #{} restarted the registry: {pid} -> {now}",
                i + 1
            ),
            &r.m.run(&["debug-log", "--replay"]),
        );
    }
    let after = r.stat(UNIT0, "%y", CONFIG_YML);
    r.m.check(
        after == mtime,
        &format!("config.yml was rewritten: mtime {mtime} -> {after}"),
        &r.m.run(&["debug-log", "--replay"]),
    );
    let hooks =
        r.m.debug_log()
            .matches("ran \"update-status\" hook")
            .count();
    r.m.check(
        hooks >= 20,
        &format!("only {hooks} update-status hooks ran"),
        &r.m.run(&["debug-log", "--replay"]),
    );
}

#[test]
fn two_units_are_ready_at_their_own_addresses_and_share_the_http_secret() {
    let r = Registry::deploy();
    r.m.ok(&["add-unit", APP]);
    let unit1 = "docker-registry/1";
    let addr1 = ingress(&r.m, unit1);
    r.m.check(
        addr1 != r.addr,
        &format!("both units have the address {addr1}"),
        &r.m.run(&["status"]),
    );
    // Filesystem storage on two units: both say what that means (B30), still active.
    let advice = "Filesystem storage on 2 units: an image pushed to one is not on the \
                  others; use s3 or swift storage to share them.";
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (http). {advice}", r.addr),
    );
    r.expect_status(
        unit1,
        "active",
        &format!("Ready at {addr1}:5000 (http). {advice}"),
    );
    r.expect_code(&r.url(Tls::Off, 5000, ""), Tls::Off, None, "200");
    r.expect_code(&format!("http://{addr1}:5000/v2/"), Tls::Off, None, "200");

    let secret = |unit: &str| {
        let mode = r.stat(unit, "%a %U %G", CONFIG_YML);
        r.m.check(
            mode == "640 root docker-registry",
            &format!("{unit}: config.yml is {mode:?}"),
            &r.m.run(&["status"]),
        );
        let out = r.m.exec(unit, &format!("cat {CONFIG_YML}"));
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with("secret:"))
            .map(|l| l.trim().to_string());
        line.unwrap_or_else(|| r.m.fail(&format!("{unit}: no http secret"), &out))
    };
    let (s0, s1) = (secret(UNIT0), secret(unit1));
    r.m.check(
        s0 == s1 && s0.len() > "secret: \"\"".len(),
        "the units render different (or empty) http secrets",
        &r.m.run(&["status"]),
    );
}

/// The revealed content of the Juju secret `registry-shared`, and its id.
fn shared_secret_content(m: &Model) -> (String, serde_json::Map<String, Value>) {
    let (id, entry) = m.shared_secret();
    let content = entry["content"].as_object().cloned().unwrap_or_default();
    (id, content)
}

/// `juju show-unit` of every unit, as text (what anyone with read access sees).
fn show_units(m: &Model, units: &[&str]) -> String {
    let mut args = vec!["show-unit"];
    args.extend_from_slice(units);
    m.ok(&args).stdout
}

/// Issue 17 item 8 on a live model, with the real registry and skopeo as the client. Two
/// units with tls-auto: the CA key is in the Juju secret, never in what `show-unit`
/// shows. With the key gone from the secret, the leader makes no new CA: it is blocked
/// and keeps serving. Handed back through the peer bag (docs/troubleshooting.md), the
/// exact key moves into the secret; the rollback command of docs/migration.md puts every
/// value back in the peer bag, as an earlier revision kept them, and a refresh moves them
/// back. Throughout: the same CA and certificates, no restart, and a client trusting the
/// CA it was given first pulls from both units.
#[test]
fn tls_auto_ca_key_leaves_relation_data_and_clients_keep_trusting_the_ca() {
    let r = Registry::deploy();
    r.m.ok(&["add-unit", APP]);
    r.m.ok(&["config", APP, "tls-auto=true"]);
    let unit1 = "docker-registry/1";
    let units = [(UNIT0, r.addr.clone()), (unit1, ingress(&r.m, unit1))];
    let names = [UNIT0, unit1];
    let https = |unit: &str, addr: &str| {
        let (current, message) = r.status(unit);
        r.m.check(
            current == "active" && message.starts_with(&format!("Ready at {addr}:5000 (https).")),
            &format!("{unit}: {current} {message:?}"),
            &r.m.run(&["status"]),
        );
    };
    for (unit, addr) in &units {
        https(unit, addr);
    }
    // The CA a client was given, and an image on each unit (filesystem storage).
    let ca = r.m.exec(UNIT0, &format!("cat {CA}")).stdout;
    let trusted = r.m.scratch().join("trusted-ca");
    std::fs::create_dir_all(&trusted).unwrap();
    std::fs::write(trusted.join("ca.crt"), &ca).unwrap();
    let img = build_image(&r.m, "ca-key-move");
    for (_, addr) in &units {
        clients::push_ok(&r.m, &format!("{addr}:5000"), &img, Tls::Ca(&trusted), None);
    }
    let shown = show_units(&r.m, &names);
    r.m.check(
        shown.contains("tls-auto-ca") && !shown.contains("PRIVATE KEY"),
        "show-unit shows the CA certificate and no private key",
        &r.m.run(&["show-unit", UNIT0]),
    );
    let (id, content) = shared_secret_content(&r.m);
    let text = |k: &str| {
        content
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (key, http) = (text("tls-auto-ca-key"), text("http-secret"));
    r.m.check(
        key.contains("PRIVATE KEY") && !http.is_empty(),
        "the secret holds the http secret and the CA key",
        &r.m.run(&["secrets"]),
    );
    let before: Vec<(String, String)> = names
        .iter()
        .map(|u| (r.pid(u), r.m.exec(u, &format!("cat {CERT}")).stdout))
        .collect();
    // Every unit serves what it served, unrestarted, to a client trusting the first CA.
    let unchanged = |why: &str| {
        for (i, (unit, addr)) in units.iter().enumerate() {
            r.m.check(
                r.m.exec(unit, &format!("cat {CA}")).stdout == ca
                    && r.m.exec(unit, &format!("cat {CERT}")).stdout == before[i].1,
                &format!("{why}: {unit} serves another CA or certificate"),
                &r.m.run(&["debug-log", "--replay"]),
            );
            let pid = r.pid(unit);
            r.m.check(
                pid == before[i].0,
                &format!("{why}: {unit} restarted: {} -> {pid}", before[i].0),
                &r.m.run(&["debug-log", "--replay"]),
            );
            clients::pull_and_compare(&r.m, &format!("{addr}:5000"), &img, Tls::Ca(&trusted), None);
        }
    };
    // The key in the secret, as it was, and no secret value in relation data.
    let in_the_secret = |why: &str| {
        let shown = show_units(&r.m, &names);
        r.m.check(
            !shown.contains("PRIVATE KEY") && !shown.contains("http-secret"),
            &format!("{why}: a secret value is in relation data"),
            &r.m.run(&["show-unit", UNIT0]),
        );
        let (_, content) = shared_secret_content(&r.m);
        r.m.check(
            content.get("tls-auto-ca-key").and_then(Value::as_str) == Some(key.as_str())
                && content.get("http-secret").and_then(Value::as_str) == Some(http.as_str()),
            &format!("{why}: the secret does not hold the same key and http secret"),
            &r.m.run(&["debug-log", "--replay"]),
        );
        for (unit, addr) in &units {
            https(unit, addr);
        }
    };

    // The key lost from the secret: no new CA, the leader blocked, the same certificates.
    let dir = r.m.scratch().join("values");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("http"), &http).unwrap();
    r.m.exec(
        UNIT0,
        &format!(
            "secret-set {id} http-secret#file={}",
            dir.join("http").display()
        ),
    );
    r.m.ok(&["run", UNIT0, "start"]);
    r.expect_status(
        UNIT0,
        "blocked",
        "The tls-auto CA's key is in neither the Juju secret registry-shared nor the peer \
         relation: no new CA is made, as clients trust this one.",
    );
    r.m.check(
        show_units(&r.m, &[UNIT0]).contains(ca.trim_end().lines().nth(1).unwrap_or("-")),
        "the CA certificate in the peer bag is the first one",
        &r.m.run(&["show-unit", UNIT0]),
    );
    unchanged("the key lost");

    // docs/troubleshooting.md: the key handed back through the peer bag, then `start`.
    std::fs::write(dir.join("tls-auto-ca.key"), &key).unwrap();
    r.m.exec(
        "docker-registry/leader",
        &format!(
            r#"umask 077; f=$(mktemp)
               {{ echo "tls-auto-ca-key: |"; sed "s/^/  /" {key}; }} > "$f"
               relation-set -r "$(relation-ids peer)" --app --file "$f"; rm -f "$f" {key}"#,
            key = dir.join("tls-auto-ca.key").display()
        ),
    );
    r.m.ok(&["run", UNIT0, "start"]);
    in_the_secret("the key handed back");
    unchanged("the key handed back");

    // docs/migration.md, rolling back past the move: every value of the secret back in the
    // peer bag, where an earlier revision kept them; refreshing forward moves them back.
    r.m.exec(
        "docker-registry/leader",
        r#"umask 077; f=$(mktemp)
           secret-get --label registry-shared --format=json > "$f"
           relation-set -r "$(relation-ids peer)" --app --file "$f"; rm -f "$f""#,
    );
    refresh(&r);
    in_the_secret("after the refresh");
    unchanged("after the refresh");
    let log = r.m.debug_log();
    r.m.check(
        log.matches("moving the tls-auto CA key from the peer relation into the Juju secret")
            .count()
            == 2
            && log.contains("moving the registry HTTP secret from the peer relation"),
        "each value moved from the peer bag (the key twice, the http secret once)",
        &r.m.run(&["debug-log", "--replay"]),
    );
}

#[test]
fn a_crashed_registry_is_restarted_by_update_status_and_by_a_blocked_hook() {
    let r = Registry::deploy();
    let img = build_image(&r.m, "crash");
    r.push_ok(5000, &img, Tls::Off, None);
    let ready = format!("Ready at {}:5000 (http).", r.addr);

    // Killed behind the charm's back: the next update-status notices and starts it again.
    let before = r.pid(UNIT0);
    r.kill_registry(UNIT0);
    r.m.ok(&["update-status", UNIT0]);
    r.expect_status(UNIT0, "active", &ready);
    let after = r.pid(UNIT0);
    r.m.check(
        after != before,
        "update-status did not start a new registry",
        &r.m.run(&["debug-log", "--replay"]),
    );
    r.expect_code(&r.url(Tls::Off, 5000, ""), Tls::Off, None, "200");
    r.expect_image(5000, &img, Tls::Off, None);

    // Killed, then a bad value arrives: blocked, yet the last good config serves again.
    r.kill_registry(UNIT0);
    r.config(&["storage-cache=bogus"]);
    let (current, message) = r.status(UNIT0);
    r.m.check(
        current == "blocked" && message.contains("storage-cache"),
        &format!("expected blocked naming storage-cache, got {current} {message:?}"),
        &r.m.run(&["status"]),
    );
    let revived = r.pid(UNIT0);
    r.m.check(
        revived != after,
        "the blocked hook did not start the registry again",
        &r.m.run(&["debug-log", "--replay"]),
    );
    r.expect_code(&r.url(Tls::Off, 5000, ""), Tls::Off, None, "200");
    r.expect_image(5000, &img, Tls::Off, None);
    r.config(&["--reset", "storage-cache"]);
    r.expect_status(UNIT0, "active", &ready);
    r.m.check(
        r.pid(UNIT0) == revived,
        "fixing the config restarted a registry already running that config",
        &r.m.run(&["debug-log", "--replay"]),
    );
}

/// Issue 16: a registry that dies is started again within seconds by its supervisor, with
/// no hook run; the `stop` action's stop is not undone.
#[test]
fn a_killed_registry_serves_again_within_seconds_without_a_hook_and_stop_keeps_it_down() {
    let r = Registry::deploy();
    let img = build_image(&r.m, "revived");
    r.push_ok(5000, &img, Tls::Off, None);
    let hooks_ran = || r.m.debug_log().matches(" hook").count();
    let hooks_before = hooks_ran();

    let before = r.pid(UNIT0);
    let t0 = std::time::Instant::now();
    r.kill_registry(UNIT0);
    let url = r.url(Tls::Off, 5000, "");
    // curl's answer, `000` when nothing answers (curl then exits non-zero).
    let code = || {
        let w = "%{http_code}";
        let argv = [
            "netexec",
            "--",
            "curl",
            "-s",
            "-m",
            "1",
            "-o",
            "/dev/null",
            "-w",
            w,
            &url,
        ];
        r.m.run(&argv)
    };
    r.m.eventually(
        "the registry to answer again",
        std::time::Duration::from_secs(10),
        || {
            Some(code())
                .filter(|out| out.text() == "200")
                .ok_or_else(code)
        },
    );
    eprintln!("TIMING SIGKILL to 200 again on jujusim: {:?}", t0.elapsed());
    // The watcher records the new registry right after starting it; under load that
    // write can land after the registry answers.
    r.m.eventually(
        "the pid file to name the new registry",
        std::time::Duration::from_secs(5),
        || {
            let id = r.m.exec(UNIT0, &format!("cat {PID_FILE}"));
            let old_pid = before.split_whitespace().next().unwrap_or("?");
            if id.stdout.lines().any(|l| l == old_pid) {
                Err(id)
            } else {
                Ok(())
            }
        },
    );
    r.pid(UNIT0);
    r.m.check(
        hooks_ran() == hooks_before,
        "a hook ran while the registry was revived",
        &r.m.run(&["debug-log", "--replay"]),
    );
    r.expect_image(5000, &img, Tls::Off, None);

    // `stop`: down, and nothing is left on the machine that could start it again.
    r.m.ok(&["run", UNIT0, "stop"]);
    let (current, _) = r.status(UNIT0);
    r.m.check(
        current == "blocked",
        "not blocked after stop",
        &r.m.run(&["status"]),
    );
    // Processes of this machine (its network namespace; /proc shows the whole host).
    let left = r.m.exec(
        UNIT0,
        r#"me=$(readlink /proc/self/ns/net)
           for p in /proc/[0-9]*; do
             [ "$(readlink $p/ns/net 2>/dev/null)" = "$me" ] && [ "${p#/proc/}" != $$ ] || continue
             c=$(tr '\0' ' ' < $p/cmdline 2>/dev/null)
             case "$c" in *"docker-registry serve"*|*"dispatch supervise"*) echo "${p#/proc/} $c";; esac
           done"#,
    );
    r.m.check(
        left.text().is_empty(),
        "a registry or its supervisor survived the stop action",
        &left,
    );
    let after = code();
    r.m.check(
        after.text() == "000",
        "something answers after stop",
        &after,
    );
    r.m.ok(&["run", UNIT0, "start"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (http).", r.addr),
    );
    r.expect_image(5000, &img, Tls::Off, None);
}

#[test]
fn tls_blobs_take_precedence_over_the_cert_provider_and_clearing_them_returns_to_it() {
    let r = Registry::deploy();
    r.m.ok(&["deploy", &testcharm("easyrsa")]);
    r.m.ok(&["integrate", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    let issuer = |want: &str| {
        let out =
            r.m.exec(UNIT0, &format!("openssl x509 -in {CERT} -noout -issuer"));
        r.m.check(
            out.text() == format!("issuer=CN = {want}"),
            &format!("the served certificate is not from {want}"),
            &out,
        );
    };
    issuer("easyrsa-sim CA");

    let pki = Pki::new(&r.m, "over");
    pki.issue(&r.m, "server", &r.addr);
    r.serve_tls_blobs(&pki);
    issuer("e2e over CA");
    let certs = pki.certs();
    r.expect_code(
        &r.url(Tls::Ca(&certs), 5000, ""),
        Tls::Ca(&certs),
        None,
        "200",
    );

    r.config(&["--reset", "tls-ca-blob,tls-cert-blob,tls-key-blob"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    issuer("easyrsa-sim CA");
    let ca = r.m.exec(UNIT0, &format!("cat {CA}"));
    let easyrsa_ca = r.m.exec("easyrsa/0", "cat /var/lib/easyrsa-sim/ca.crt");
    r.m.check(
        ca.stdout.trim() == easyrsa_ca.stdout.trim(),
        "ca.crt is not easyrsa's CA again",
        &ca,
    );
}

/// docs/python-charm-bugs.md#b22 on real files: an operator's CA, certificate and key at
/// the default tls-*-paths are set aside while easyrsa's are served, and after
/// remove-relation they are back byte for byte with their modes and owners, and served again.
#[test]
fn operator_tls_files_are_set_aside_for_easyrsa_and_come_back_after_it() {
    const DISPLACED: &str = "/var/lib/docker-registry-charm/displaced";
    let r = Registry::deploy();
    let pki = Pki::new(&r.m, "operator");
    pki.issue(&r.m, "server", &r.addr);
    for (file, path, owner, mode) in [
        ("ca.crt", CA, "root:root", "644"),
        ("server.crt", CERT, "root:root", "644"),
        ("server.key", KEY, "root:docker-registry", "640"),
    ] {
        r.m.exec(
            UNIT0,
            &format!(
                "echo {} | base64 -d > {path} && chown {owner} {path} && chmod {mode} {path}",
                pki.blob(file)
            ),
        );
    }
    let files = || {
        r.m.exec(
            UNIT0,
            &format!("sha256sum {CA} {CERT} {KEY}; stat -c '%n %a %U %G' {CA} {CERT} {KEY}"),
        )
        .stdout
    };
    let placed = files();
    // What the registry serves on the wire: the issuer of its certificate.
    let served_issuer = || {
        r.m.netexec(&[
            "sh",
            "-c",
            &format!(
                "openssl s_client -connect {}:5000 </dev/null 2>/dev/null | openssl x509 -noout -issuer",
                r.addr
            ),
        ])
        .text()
        .to_string()
    };
    let operator_certs = pki.certs();
    let operator = Tls::Ca(&operator_certs);

    r.m.ok(&["update-status", UNIT0]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    r.expect_code(&r.url(operator, 5000, ""), operator, None, "200");

    r.m.ok(&["deploy", &testcharm("easyrsa")]);
    r.m.ok(&["integrate", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    let issuer = served_issuer();
    r.m.check(
        issuer == "issuer=CN = easyrsa-sim CA",
        &format!("https does not serve easyrsa's certificate: {issuer:?}"),
        &r.m.exec(UNIT0, "ls -la /etc/docker/registry"),
    );
    // The originals are kept aside: the same three contents, modes and owners.
    let kept = r.m.exec(
        UNIT0,
        &format!(
            "cd {DISPLACED} && sha256sum * | cut -d' ' -f1 | sort; stat -c '%a %U %G' * | sort"
        ),
    );
    let sorted = |lines: Vec<String>| {
        let mut v = lines;
        v.sort();
        v
    };
    let want_sums = sorted(
        placed
            .lines()
            .take(3)
            .map(|l| l.split(' ').next().unwrap_or_default().to_string())
            .collect(),
    );
    let want_meta = sorted(
        placed
            .lines()
            .skip(3)
            .map(|l| {
                l.split_once(' ')
                    .map(|(_, m)| m.to_string())
                    .unwrap_or_default()
            })
            .collect(),
    );
    let kept_lines: Vec<String> = kept.stdout.lines().map(String::from).collect();
    let (kept_sums, kept_meta) = kept_lines.split_at(kept_lines.len().min(3));
    r.m.check(
        kept_sums == want_sums.as_slice() && kept_meta == want_meta.as_slice(),
        &format!("the set-aside copies differ from the originals ({want_meta:?})"),
        &kept,
    );
    r.m.check(
        files() != placed,
        "the operator's files were not replaced by easyrsa's",
        &r.m.exec(UNIT0, "ls -la /etc/docker/registry"),
    );

    // Given back and used in the same hook: one restart, never a moment of plain http.
    let restarts = || r.m.debug_log().matches("restarting the registry").count();
    let before = restarts();
    r.m.ok(&["remove-relation", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    r.m.check(
        restarts() == before + 1,
        "remove-relation did not restart the registry exactly once",
        &r.m.run(&["debug-log", "--replay"]),
    );
    let back = files();
    r.m.check(
        back == placed,
        &format!("the operator's files are not back as they were:\n{placed}\nnow:\n{back}"),
        &r.m.exec(UNIT0, "ls -la /etc/docker/registry"),
    );
    let issuer = served_issuer();
    r.m.check(
        issuer == "issuer=CN = e2e operator CA",
        &format!("https does not serve the operator's certificate again: {issuer:?}"),
        &r.m.run(&["status"]),
    );
    r.expect_code(&r.url(operator, 5000, ""), operator, None, "200");
    let left = r.m.exec(UNIT0, &format!("ls -A {DISPLACED}"));
    r.m.check(left.text().is_empty(), "copies left behind", &left);
}

const NRPE0: &str = "nrpe/0";
const NRPE_CHECK: &str = "/etc/nagios/nrpe.d/check_docker_registry.cfg";
const NRPE_EXPORT: &str =
    "/var/lib/nagios/export/service__e2e-registry-host_check_docker_registry.cfg";

impl Registry {
    /// The command line NRPE would run for the registry check on `unit`.
    fn nrpe_command(&self, unit: &str) -> String {
        let out = self.m.exec(unit, &format!("cat {NRPE_CHECK}"));
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("command[check_docker_registry]="))
            .map(String::from)
            .unwrap_or_else(|| self.m.fail("no NRPE command line in the check file", &out))
    }

    /// Runs `command` on `unit` the way NRPE does (`/bin/sh -c`), returning the output.
    fn run_check(&self, unit: &str, command: &str) -> Output {
        self.m.run(&["exec", unit, "--", "sh", "-c", command])
    }

    /// Fails unless the rendered check passes (exit 0, `HTTP OK`) against the registry.
    fn expect_check_ok(&self, unit: &str, command: &str) {
        let out = self.run_check(unit, command);
        self.m.check(
            out.code == Some(0) && out.stdout.starts_with("HTTP OK"),
            &format!("the NRPE check is not OK: {command}"),
            &out,
        );
    }

    /// Fails unless the nrpe subordinate, running the registry's check itself, reports
    /// it OK: in its `run-checks` action and in its workload status.
    fn expect_subordinate_check_ok(&self) {
        let out = self.m.ok(&["run", NRPE0, "run-checks", "--format", "json"]);
        let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            self.m
                .fail(&format!("run-checks output is not JSON: {e}"), &out)
        });
        let check = &v[NRPE0]["results"]["checks"]["check-docker-registry"];
        self.m.check(
            check["code"] == "0"
                && check["output"]
                    .as_str()
                    .is_some_and(|o| o.starts_with("HTTP OK")),
            "nrpe/0 ran check_docker_registry and it was not OK",
            &out,
        );
        self.m.ok(&["update-status", NRPE0]);
        self.expect_status(NRPE0, "active", "OK: check_docker_registry");
    }

    /// What nrpe/0 recorded: one `timestamp checks-sha256` line per announcement.
    fn nrpe_received(&self) -> Vec<String> {
        let out = self.m.exec(
            "nrpe/0",
            "cat /var/lib/nrpe-sim/received 2>/dev/null || true",
        );
        out.stdout.lines().map(String::from).collect()
    }
}

/// docs/python-charm-bugs.md#b7 end to end: related to the nrpe test charm, a real
/// subordinate on the unit's machine (docs/juju.md#subordinates), the unit writes the
/// registry check and the Nagios export under the name nrpe sent; the rendered command,
/// run with the real check_http on the unit's machine by the test and by the subordinate
/// itself, is OK over http and, after TLS is turned on, over https (where the Python
/// charm's plain check goes CRITICAL). No-op hooks announce nothing new; removing the
/// relation removes the files and the subordinate.
#[test]
fn nrpe_check_passes_over_http_and_tls_and_goes_with_the_relation() {
    let r = Registry::deploy();
    r.m.ok(&[
        "deploy",
        &testcharm("nrpe"),
        "--config",
        "nagios_context=e2e",
        "--config",
        "nagios_hostname=e2e-registry-host",
    ]);
    r.m.ok(&["integrate", APP, "nrpe"]);
    // A real subordinate: nrpe/0 lives on docker-registry/0's machine.
    let st = r.m.status_json();
    r.m.check(
        st["applications"][APP]["units"][UNIT0]["subordinates"][NRPE0].is_object()
            && st["machines"].as_object().map(|m| m.len()) == Some(1),
        "nrpe/0 is not a subordinate on docker-registry/0's machine",
        &r.m.run(&["status"]),
    );

    let plain = r.nrpe_command(UNIT0);
    r.m.check(
        plain.contains("-p 5000") && !plain.contains(" -S"),
        &format!("plain check expected, got {plain}"),
        &r.m.run(&["status"]),
    );
    r.expect_check_ok(UNIT0, &plain);
    // The subordinate read the check file on its machine and ran it itself.
    r.expect_subordinate_check_ok();
    let export = r.m.exec(UNIT0, &format!("cat {NRPE_EXPORT}"));
    r.m.check(
        export
            .stdout
            .contains("host_name                       e2e-registry-host")
            && export.stdout.contains("check_nrpe!check_docker_registry"),
        "the Nagios export does not name nrpe's host and the check",
        &export,
    );
    let mode = r.stat(UNIT0, "%a %U", NRPE_CHECK);
    r.m.check(
        mode == "644 root",
        &format!("check file is {mode}"),
        &export,
    );

    // nrpe/0 heard of the check: once when it had named its host before the registry
    // joined it; twice when the registry joined first and announced under its default
    // host name, then under nrpe's (an order Juju allows; JUJUSIM_SEED=2 runs it). The
    // last announcement is the check in the registry's bag; no-op hooks announce nothing.
    let first = r.nrpe_received();
    let bag = related_data(&r.m.show_unit("nrpe/0"), "nrpe-external-master", UNIT0);
    let sha = bag["checks-sha256"]
        .as_str()
        .unwrap_or("no checks-sha256")
        .to_string();
    r.m.check(
        (1..=2).contains(&first.len()) && first.last().is_some_and(|l| l.ends_with(&sha)),
        &format!("nrpe/0 should have heard of check {sha} last, once or twice; got {first:?}"),
        &r.m.run(&["show-unit", "nrpe/0"]),
    );
    for _ in 0..3 {
        r.m.ok(&["update-status", UNIT0]);
    }
    r.config(&["log-level=info"]);
    let after_noop = r.nrpe_received();
    r.m.check(
        after_noop == first,
        &format!("no-op hooks re-announced: {after_noop:?}"),
        &r.m.run(&["debug-log", "--replay"]),
    );

    // TLS on: the check gains -S and passes; the plain one fails like the Python charm's.
    let pki = Pki::new(&r.m, "nrpe");
    pki.issue(&r.m, "server", &r.addr);
    r.serve_tls_blobs(&pki);
    let tls = r.nrpe_command(UNIT0);
    r.m.check(
        tls == format!("{plain} -S"),
        &format!("TLS check expected, got {tls}"),
        &r.m.run(&["status"]),
    );
    r.expect_check_ok(UNIT0, &tls);
    r.expect_subordinate_check_ok();
    let anchor_like = r.run_check(UNIT0, &plain);
    r.m.check(
        anchor_like.code == Some(2),
        "a plain check against the TLS registry should be CRITICAL (exit 2)",
        &anchor_like,
    );
    let announced = r.nrpe_received();
    r.m.check(
        announced.len() == first.len() + 1 && announced.last() != first.last(),
        &format!("the TLS check was not announced once: {announced:?}"),
        &r.m.run(&["show-unit", "nrpe/0"]),
    );

    // The relation goes: so do the check files.
    r.m.ok(&["remove-relation", APP, "nrpe"]);
    for path in [NRPE_CHECK, NRPE_EXPORT] {
        r.m.check(
            !r.exists(UNIT0, path),
            &format!("{path} left behind after remove-relation"),
            &r.m.exec(UNIT0, "ls -la /etc/nagios/nrpe.d /var/lib/nagios/export"),
        );
    }
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    let st = r.m.status_json();
    r.m.check(
        st["applications"][APP]["units"][UNIT0]["subordinates"].is_null(),
        "nrpe/0 outlived its only relation to docker-registry/0",
        &r.m.run(&["status"]),
    );
}

// ---- switching from the Python charm ------------------------------------------------------

/// Machine-private (jujusim overlays /var/lib) state of the stand-in Docker: its CLI, one pid
/// file per "container", and the argv of every CLI call.
const FAKE_DOCKER: &str = "/var/lib/e2e-docker";

/// A Docker CLI stand-in (there is no Docker engine here): a "container" is a process whose
/// pid is in `$D/containers/<name>.pid`. It answers the three commands the charm uses the
/// way Docker does (`stop` returns once every thread of it is gone, its ports free), and
/// records each call as `[arg][arg]...`.
const FAKE_DOCKER_CLI: &str = r#"#!/bin/sh
D=/var/lib/e2e-docker
printf '[%s]' "$@" >> "$D/argv"; echo >> "$D/argv"
for name in "$@"; do :; done
pidf="$D/containers/$name.pid"
alive() { # any thread left (a Go leader shows Z while its other threads, port held, exit)
  [ -f "$pidf" ] || return 1
  for t in /proc/"$(cat "$pidf")"/task/*/stat; do
    s=$(sed -n 's/.*) \(.\).*/\1/p' "$t" 2>/dev/null)
    [ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ] && return 0
  done
  return 1
}
missing() { echo "Error response from daemon: No such container: $name" >&2; exit 1; }
case "$1 $2" in
  "container inspect")
    [ -f "$pidf" ] || missing
    if alive; then echo "/$name running"; else echo "/$name exited"; fi ;;
  "container stop")
    [ -f "$pidf" ] || missing
    if alive; then
      kill "$(cat "$pidf")"
      i=0; while alive && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    fi
    if alive; then echo "Error response from daemon: cannot stop container: $name" >&2; exit 1; fi
    echo "$name" ;;
  "container rm")
    [ -f "$pidf" ] || missing
    if alive; then echo "Error response from daemon: container $name is running" >&2; exit 1; fi
    rm -f "$pidf"; echo "$name" ;;
  *) echo "fake docker: unsupported: $*" >&2; exit 125 ;;
esac
"#;

/// The Python charm as far as a switch is concerned, leaving exactly its files
/// (docs/migration.md): on install it installs "docker" (the stand-in CLI) and runs the
/// registry "container" `registry` — a real registry as root, serving /srv/registry on
/// port 5000 like the container's bind mount. Every hook renders config.yml as that charm
/// does (PyYAML block style, 0600; `clientcas` whenever a CA file exists, B23), writes
/// htpasswd with `htpasswd -Bbc`, the `tls-*-blob` files with the umask's mode (B37),
/// easyrsa's answer (key 0600) and its certs.d links, and restarts the container. (The
/// system CA it installed under /usr/local/share is left out: jujusim machines share /usr
/// with the host.)
const PYTHON_CHARM_DISPATCH: &str = r#"#!/bin/bash
set -euo pipefail
D=/var/lib/e2e-docker
REG=/etc/docker/registry
HOOK="${JUJU_DISPATCH_PATH##*/}"
NAME="${JUJU_UNIT_NAME/\//_}"
IP="$(unit-get private-address)"
CA="$(config-get tls-ca-path)"
CERT="$(config-get tls-cert-path)"
KEY="$(config-get tls-key-path)"

blob() { # <option> <path>: _write_tls_blobs_to_files (write_bytes, the umask's mode)
  local b; b="$(config-get "$1")"
  if [[ -n "$b" ]]; then printf '%s' "$b" | base64 -d > "$2"; fi
}

request_cert() { # the legacy request: CN and SANs from the private address
  local rid
  for rid in $(relation-ids cert-provider); do
    relation-set -r "$rid" "unit_name=$NAME" "common_name=$IP" \
      "sans=[\"$IP\", \"$IP\", \"$(hostname)\"]" "certificate_name=$NAME"
  done
}

write_certs() { # easyrsa's answer to the files, key 0600; certs.d links for the local docker
  local rid unit ca cert key
  for rid in $(relation-ids cert-provider); do
    for unit in $(relation-list -r "$rid"); do
      ca="$(relation-get -r "$rid" ca "$unit")"
      cert="$(relation-get -r "$rid" "$NAME.server.cert" "$unit")"
      key="$(relation-get -r "$rid" "$NAME.server.key" "$unit")"
      if [[ -z "$cert" || -z "$key" ]]; then continue; fi
      printf '%s' "$ca" > "$CA"
      printf '%s' "$cert" > "$CERT"
      (umask 077; printf '%s' "$key" > "$KEY")
      mkdir -p "/etc/docker/certs.d/$IP:5000"
      ln -sfn "$CERT" "/etc/docker/certs.d/$IP:5000/client.cert"
      ln -sfn "$KEY" "/etc/docker/certs.d/$IP:5000/client.key"
    done
  done
}

render() { # configure_registry: yaml.safe_dump, keys sorted
  local user pass auth tls=""
  user="$(config-get auth-basic-user)"; pass="$(config-get auth-basic-password)"
  auth="auth: {}"
  if [[ -n "$user" && -n "$pass" ]]; then
    htpasswd -Bbc "$REG/htpasswd" "$user" "$pass" 2>/dev/null
    auth="auth:
  htpasswd:
    path: $REG/htpasswd
    realm: docker-registry"
  fi
  if [[ -f "$CERT" && -f "$KEY" ]]; then
    tls="
  tls:
    certificate: $CERT"
    if [[ -f "$CA" ]]; then tls="$tls
    clientcas:
    - $CA"; fi
    tls="$tls
    key: $KEY"
    echo '{"insecure-registries": []}' > /etc/docker/daemon.json
  else
    echo "{\"insecure-registries\": [\"$IP:5000\"]}" > /etc/docker/daemon.json
  fi
  cat > "$REG/config.yml" <<YML
$auth
http:
  addr: 0.0.0.0:5000
  headers:
    X-Content-Type-Options:
    - nosniff
  relativeurls: true$tls
storage:
  filesystem:
    rootdirectory: /srv/registry
version: '0.1'
YML
  chmod 0600 "$REG/config.yml"
}

restart() { # docker container stop/rm, then run
  local pid
  pid="$(cat "$D/containers/registry.pid" 2>/dev/null || true)"
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  for _ in $(seq 50); do if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then sleep 0.1; fi; done
  setsid /usr/bin/docker-registry serve "$REG/config.yml" \
    </dev/null >>/var/log/python-charm-registry.log 2>&1 &
  echo $! > "$D/containers/registry.pid"
  # Started means listening (the test pushes next): port 5000 (0x1388) in LISTEN (0A).
  local i=0
  until grep -Eqs '^ *[0-9]+: [0-9A-F]+:1388 [0-9A-F]+:0000 0A ' /proc/net/tcp /proc/net/tcp6; do
    [[ $i -lt 300 ]] || { echo "the registry is not listening on :5000 after 30 s" >&2; exit 1; }
    sleep 0.1; i=$((i + 1))
  done
  local scheme=http
  if [[ -f "$CERT" && -f "$KEY" ]]; then scheme=https; fi
  status-set active "Python charm stand-in: registry container started ($scheme)"
}

case "$HOOK" in
  install)
    mkdir -p "$D/bin" "$D/containers" "$REG" /srv/registry /etc/docker
    install -m 0755 "$CHARM_DIR/fake-docker" "$D/bin/docker"
    render; restart
    open-port 5000/tcp
    ;;
  config-changed)
    blob tls-ca-blob "$CA"; blob tls-cert-blob "$CERT"; blob tls-key-blob "$KEY"
    render; restart
    ;;
  cert-provider-relation-joined) request_cert ;;
  cert-provider-relation-changed) request_cert; write_certs; render; restart ;;
esac
"#;

/// The stand-in Python charm: our metadata and config (same app, same options), its own
/// dispatch and the fake Docker CLI.
fn python_charm(m: &Model) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = m.scratch().join("python-docker-registry");
    std::fs::create_dir_all(&dir).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for file in ["metadata.yaml", "config.yaml", "actions.yaml"] {
        std::fs::copy(root.join(file), dir.join(file)).unwrap();
    }
    // Charmed Kubernetes runs it on jammy, one of the bases this charm lists.
    std::fs::write(
        dir.join("manifest.yaml"),
        "bases:\n- name: ubuntu\n  channel: \"22.04\"\n",
    )
    .unwrap();
    for (file, text) in [
        ("dispatch", PYTHON_CHARM_DISPATCH),
        ("fake-docker", FAKE_DOCKER_CLI),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// The Python-charm stand-in deployed with `config` (`key=value`), the stand-in Docker
/// CLI first on the PATH hooks get (on a real unit docker.io puts it in /usr/bin).
fn python_unit(config: &[&str]) -> Registry {
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let m = Model::new().with_env("PATH", &format!("{FAKE_DOCKER}/bin:{path}"));
    let python = python_charm(&m).display().to_string();
    let mut args = vec!["deploy", python.as_str(), APP];
    for c in config {
        args.extend(["--config", c]);
    }
    m.ok(&args);
    let addr = ingress(&m, UNIT0);
    Registry { m, addr }
}

/// `jujusim refresh docker-registry --path <this charm>`.
fn refresh(r: &Registry) {
    let charm = r.m.registry_charm();
    r.m.ok(&["refresh", APP, "--path", &charm.display().to_string()]);
}

/// How many files the charm set aside (none when it took the Python charm's as its own).
fn set_aside(r: &Registry) -> String {
    r.m.exec(
        UNIT0,
        "ls -A /var/lib/docker-registry-charm/displaced 2>/dev/null | wc -l",
    )
    .text()
    .to_string()
}

/// `juju refresh` from the Python charm stops and
/// removes its registry container (no `--volumes`) before our registry starts, so the
/// Ready status is our registry's answer, and every image pushed before is still served.
///
/// Hooks find `docker` on PATH; here the stand-in CLI's machine-private directory goes
/// first on the PATH jujusim gives hooks (on a real unit docker.io puts it in /usr/bin).
/// Nothing is written outside the model: /var/lib is private to each machine.
#[test]
fn refresh_from_the_python_charm_replaces_its_container_and_keeps_the_images() {
    let r = python_unit(&[]);
    r.expect_status(
        UNIT0,
        "active",
        "Python charm stand-in: registry container started (http)",
    );
    let old_pid =
        r.m.exec(UNIT0, &format!("cat {FAKE_DOCKER}/containers/registry.pid"))
            .text()
            .to_string();
    let img = build_image(&r.m, "switch");
    r.push_ok(5000, &img, Tls::Off, None);
    assert_eq!(r.stat(UNIT0, "%U", "/srv/registry/docker"), "root");

    refresh(&r);

    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (http).", r.addr),
    );
    let argv = r.m.exec(
        UNIT0,
        &format!("cat {FAKE_DOCKER}/argv 2>/dev/null || true"),
    );
    let calls: Vec<&str> = argv.stdout.lines().collect();
    r.m.check(
        calls
            == [
                "[container][inspect][--format][{{.Name}} {{.State.Status}}][registry]",
                "[container][stop][registry]",
                "[container][rm][registry]",
            ],
        &format!("docker calls: {calls:?}"),
        &argv,
    );
    let state = r.proc_state(UNIT0, &old_pid);
    r.m.check(
        state.is_empty() || state == "Z",
        &format!("the old registry (pid {old_pid}) still runs: state {state:?}"),
        &r.m.run(&["debug-log"]),
    );
    r.pid(UNIT0); // the old one is gone and ours is alive: the answers are ours
    r.expect_image(5000, &img, Tls::Off, None);
    for path in ["/srv/registry", "/srv/registry/docker"] {
        assert_eq!(r.stat(UNIT0, "%U", path), "docker-registry", "{path}");
    }
    let log = r.m.debug_log();
    r.m.check(
        log.contains(
            "stopped and removed the Python charm's registry container registry (it was running)",
        ),
        "no INFO line about the removed container",
        &r.m.run(&["status"]),
    );

    // Later hooks run no docker at all.
    r.m.ok(&["update-status", UNIT0]);
    let again = r.m.exec(UNIT0, &format!("wc -l < {FAKE_DOCKER}/argv"));
    r.m.check(again.text() == "3", "update-status ran docker", &again);
}

const PY_CREDS: &str = "admin:Py-Secret1";

/// Issue 17 item 1, blobs: the Python charm served TLS from `tls-*-blob` (key written
/// world-readable, B37) with basic auth, and demanded client certificates because of the CA
/// (B23). After the refresh the unit serves at once, the same images with the same
/// credentials, its files taken as this charm's own (key 0600 docker-registry, nothing set
/// aside), still demanding client certificates. Clearing the blobs turns TLS off for good:
/// nothing comes back.
#[test]
fn refresh_from_the_python_charm_serving_blob_tls_keeps_serving_and_its_files_become_ours() {
    let r = python_unit(&["auth-basic-user=admin", "auth-basic-password=Py-Secret1"]);
    let pki = Pki::new(&r.m, "python-blobs");
    pki.issue(&r.m, "server", &r.addr);
    let kubelet = pki.client_dir(&r.m, "kubelet");
    r.config(&[
        &format!("tls-ca-blob={}", pki.blob("ca.crt")),
        &format!("tls-cert-blob={}", pki.blob("server.crt")),
        &format!("tls-key-blob={}", pki.blob("server.key")),
    ]);
    r.expect_status(
        UNIT0,
        "active",
        "Python charm stand-in: registry container started (https)",
    );
    let img = build_image(&r.m, "py-blobs");
    r.push_ok(5000, &img, Tls::Ca(&kubelet), Some(PY_CREDS));
    assert_eq!(r.stat(UNIT0, "%a %U", KEY), "644 root", "B37, as left");

    refresh(&r);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    r.expect_image(5000, &img, Tls::Ca(&kubelet), Some(PY_CREDS));
    assert_eq!(r.stat(UNIT0, "%a %U", KEY), "600 docker-registry");
    assert_eq!(
        set_aside(&r),
        "0",
        "the Python charm's files are not an operator's"
    );
    r.expect_client_certificates_demanded(&kubelet, Some(PY_CREDS));
    let log = r.m.debug_log();
    r.m.check(
        log.matches("this charm keeps demanding it").count() == 1,
        "the kept demand for client certificates is not said once in the log",
        &r.m.run(&["status"]),
    );

    r.config(&["--reset", "tls-ca-blob,tls-cert-blob,tls-key-blob"]);
    back_to_http_with_nothing_left(&r, &img, "the blobs were cleared");
}

/// After the Python charm's TLS source went (`after`): plain http, none of its TLS files
/// back, the image still served with its credentials.
fn back_to_http_with_nothing_left(r: &Registry, img: &Image, after: &str) {
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (http).", r.addr),
    );
    for path in [CERT, KEY, CA] {
        r.m.check(
            !r.exists(UNIT0, path),
            &format!("{path} is back (or still there) after {after}"),
            &r.m.exec(UNIT0, "ls -la /etc/docker/registry"),
        );
    }
    r.expect_image(5000, img, Tls::Off, Some(PY_CREDS));
}

/// Issue 17 items 1 and 2, easyrsa: the Python charm related to easyrsa wrote its answer
/// (key 0600 root) and demanded client certificates signed by easyrsa's CA (runtimes
/// present the cluster's). After the refresh the unit serves at once with the same images
/// and credentials, the key now the registry user's, and keeps demanding client
/// certificates until `tls-client-ca=none`; removing the relation turns TLS off and puts
/// nothing back.
#[test]
fn refresh_from_the_python_charm_related_to_easyrsa_keeps_serving_and_demanding_client_certs() {
    let r = python_unit(&["auth-basic-user=admin", "auth-basic-password=Py-Secret1"]);
    r.m.ok(&["deploy", &testcharm("easyrsa")]);
    r.m.ok(&["integrate", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        "Python charm stand-in: registry container started (https)",
    );
    // The client certificate the Python charm's own docker presented: its server
    // certificate (easyrsa's profile allows clientAuth).
    let mtls = r.m.scratch().join("easyrsa-mtls");
    std::fs::create_dir_all(&mtls).unwrap();
    for (from_unit, path, file) in [
        ("easyrsa/0", "/var/lib/easyrsa-sim/ca.crt", "ca.crt"),
        (UNIT0, CERT, "client.cert"),
        (UNIT0, KEY, "client.key"),
    ] {
        let out = r.m.exec(from_unit, &format!("cat {path}"));
        std::fs::write(mtls.join(file), &out.stdout).unwrap();
    }
    let img = build_image(&r.m, "py-easyrsa");
    r.push_ok(5000, &img, Tls::Ca(&mtls), Some(PY_CREDS));
    assert_eq!(r.stat(UNIT0, "%a %U", KEY), "600 root");

    refresh(&r);
    let (current, message) = r.status(UNIT0);
    r.m.check(
        current == "active" && message.starts_with(&format!("Ready at {}:5000 (https).", r.addr)),
        &format!("after the refresh: {current} {message:?}"),
        &r.m.run(&["status"]),
    );
    r.expect_image(5000, &img, Tls::Ca(&mtls), Some(PY_CREDS));
    assert_eq!(r.stat(UNIT0, "%a %U", KEY), "600 docker-registry");
    assert_eq!(set_aside(&r), "0");
    r.expect_client_certificates_demanded(&mtls, Some(PY_CREDS));

    r.config(&["tls-client-ca=none"]);
    let open = r.code_with_client_cert(&mtls, false, Some(PY_CREDS));
    r.m.check(
        open == "200",
        &format!("tls-client-ca=none: a client without a certificate got {open}"),
        &r.m.exec(UNIT0, &format!("cat {CONFIG_YML}")),
    );

    r.m.ok(&["remove-relation", APP, "easyrsa"]);
    back_to_http_with_nothing_left(&r, &img, "easyrsa went");
}

/// Issue 17 item 1, operator files: the Python charm served files an operator put at the
/// tls-*-paths (the key 0600 root, read by its root container) and demanded client
/// certificates because of the CA. After the refresh the unit serves them at once, through
/// copies the registry's user can read (the originals untouched), still demanding client
/// certificates.
#[test]
fn refresh_from_the_python_charm_serving_operator_files_keeps_serving_them() {
    let r = python_unit(&[]);
    let pki = Pki::new(&r.m, "python-operator");
    pki.issue(&r.m, "server", &r.addr);
    let kubelet = pki.client_dir(&r.m, "kubelet");
    let read = |f: &str| std::fs::read_to_string(pki.dir.join(f)).unwrap();
    let place = format!(
        "set -e; umask 077
         cat > {CA} <<'PEM'\n{ca}PEM
         cat > {CERT} <<'PEM'\n{cert}PEM
         cat > {KEY} <<'PEM'\n{key}PEM
         chmod 0644 {CA} {CERT}",
        ca = read("ca.crt"),
        cert = read("server.crt"),
        key = read("server.key"),
    );
    r.m.exec(UNIT0, &place);
    r.config(&["log-level=debug"]);
    r.expect_status(
        UNIT0,
        "active",
        "Python charm stand-in: registry container started (https)",
    );
    let img = build_image(&r.m, "py-operator");
    r.push_ok(5000, &img, Tls::Ca(&kubelet), None);

    refresh(&r);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    r.expect_image(5000, &img, Tls::Ca(&kubelet), None);
    assert_eq!(
        r.stat(UNIT0, "%a %U", KEY),
        "600 root",
        "the original is untouched"
    );
    assert_eq!(
        r.stat(UNIT0, "%a %U", "/etc/docker/registry/operator-tls.key"),
        "600 docker-registry"
    );
    r.expect_client_certificates_demanded(&kubelet, None);
}

// ---- certificate renewal ------------------------------------------------------------------

/// Issue 17 item 3 on real files: the unit's addresses change (`http-host`) while the CA
/// charm, speaking `protocol`, is slow to sign the new request (`hold=true`): the
/// certificate it issued before keeps serving https (no restart to http), the status says
/// the renewal is pending, and once the CA signs, the new certificate (naming the new
/// host) serves and the note goes.
fn renewal_keeps_https_until_the_new_certificate_arrives(protocol: &str) {
    let r = Registry::deploy();
    let easyrsa = testcharm("easyrsa");
    let proto = format!("protocol={protocol}");
    r.m.ok(&["deploy", &easyrsa, "--config", &proto]);
    r.m.ok(&["integrate", APP, "easyrsa:client"]);
    r.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", r.addr),
    );
    let certs = r.m.scratch().join("renewal-ca");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = r.m.exec("easyrsa/0", "cat /var/lib/easyrsa-sim/ca.crt");
    std::fs::write(certs.join("ca.crt"), &ca.stdout).unwrap();
    let https = Tls::Ca(&certs);
    let img = build_image(&r.m, &format!("renew-{protocol}"));
    r.push_ok(5000, &img, https, None);
    let before = r.m.exec(UNIT0, &format!("cat {CERT}")).stdout;
    // v4 answers the unit's own CSR: the key served is the unit's, never sent anywhere.
    let pubkeys = r.m.exec(
        UNIT0,
        &format!(
            "openssl pkey -in {KEY} -pubout; \
             openssl pkey -in /var/lib/docker-registry-charm/cert-provider.key -pubout"
        ),
    );
    let keys: Vec<&str> = pubkeys.stdout.split("-----END PUBLIC KEY-----").collect();
    r.m.check(
        (keys[0].trim() == keys[1].trim()) == (protocol == "v4"),
        &format!("{protocol}: the served key is not the one the protocol implies"),
        &pubkeys,
    );

    r.m.ok(&["config", "easyrsa", "hold=true"]);
    r.config(&["http-host=https://registry.renewal.internal:5000/"]);
    r.expect_status(
        UNIT0,
        "active",
        "Ready at registry.renewal.internal:5000 (https). Certificate renewal pending: \
         cert-provider has not signed the request for the current addresses yet.",
    );
    let during = r.m.exec(UNIT0, &format!("cat {CERT}")).stdout;
    r.m.check(
        during == before,
        "the certificate changed while the CA held the request",
        &r.m.run(&["debug-log"]),
    );
    r.expect_image(5000, &img, https, None);
    let cfg = r.m.exec(UNIT0, &format!("cat {CONFIG_YML}"));
    r.m.check(cfg.stdout.contains("tls:"), "TLS went off", &cfg);
    let pid = r.pid(UNIT0);

    r.m.ok(&["config", "easyrsa", "hold=false"]);
    r.expect_status(
        UNIT0,
        "active",
        "Ready at registry.renewal.internal:5000 (https).",
    );
    let sans = r.m.exec(
        UNIT0,
        &format!("openssl x509 -in {CERT} -noout -ext subjectAltName"),
    );
    r.m.check(
        sans.stdout.contains("DNS:registry.renewal.internal"),
        "the new certificate does not name the new host",
        &sans,
    );
    r.m.check(
        r.pid(UNIT0) != pid,
        "the registry kept the old certificate",
        &sans,
    );
    r.expect_image(5000, &img, https, None);
}

#[test]
fn a_v4_renewal_keeps_https_until_the_new_certificate_arrives() {
    renewal_keeps_https_until_the_new_certificate_arrives("v4");
}

#[test]
fn a_legacy_renewal_keeps_https_until_the_new_certificate_arrives() {
    renewal_keeps_https_until_the_new_certificate_arrives("legacy");
}
