//! The registry actions end to end, as an operator runs them (`jujusim run
//! docker-registry/0 push ...`): the real charm on jujusim machines, the real registry it
//! starts, and an upstream registry on a machine of its own — a second application of this
//! charm (`upstream`), configured with TLS and basic auth like any deployment. Images are
//! made by hand (several layers, a two-platform index) and loaded into the upstream with
//! skopeo, which also checks what the actions wrote (`skopeo inspect --raw`, inside the
//! model network). Archives are written by skopeo under the model's scratch dir: /tmp is
//! the host's on every machine, so the unit reads them where they are.
//!
//! gc is observed while it runs, without timing: a test puts a link to a FIFO among the
//! registry's manifest links ([`Hold`]), so garbage-collect blocks opening it (the kernel
//! says so: `wait_for_partner`) while the test looks at the registry (pulls answer, pushes
//! get 405), then kills the action or lets garbage-collect fail on it.
mod oci_support;
mod support;

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::time::Duration;

use oci_support::{noise, Layout, Written};
use serde_json::Value;
use support::clients::ingress;
use support::jujusim::{Model, Output};
use support::pki::Pki;
use support::swift;

const APP: &str = "docker-registry";
const UNIT0: &str = "docker-registry/0";
const UP: &str = "upstream";
const UP0: &str = "upstream/0";
const CONFIG_YML: &str = "/etc/docker/registry/config.yml";
const READ_ONLY: &str = "maintenance:\n    readonly:\n      enabled: true";
const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json";

/// How long an action or a wait may take before the test fails.
const LIMIT: Duration = Duration::from_secs(120);

/// An action's outcome as `jujusim run --format json` reports it.
struct Task {
    status: String,
    message: String,
    results: Value,
    log: Vec<String>,
    out: Output,
}

impl Task {
    /// The result at a dotted key (`images.1.digest`); "" when absent.
    fn get(&self, key: &str) -> String {
        let mut v = &self.results;
        for k in key.split('.') {
            v = &v[k];
        }
        v.as_str().unwrap_or_default().to_string()
    }
}

/// One model: this charm as `docker-registry`, the upstream, images, and helpers.
struct World {
    m: Model,
    /// docker-registry/0's ingress address.
    addr: String,
    /// upstream/0's ingress address.
    up: String,
}

impl World {
    /// Deploys `docker-registry` and `upstream` (plain http, no auth) and waits for both.
    fn new() -> World {
        let m = Model::new().with_env("JUJUSIM_HOOK_TIMEOUT", "120");
        let charm = m.registry_charm().display().to_string();
        m.ok(&["deploy", &charm, APP]);
        m.ok(&["deploy", &charm, UP]);
        let addr = ingress(&m, UNIT0);
        let up = ingress(&m, UP0);
        let w = World { m, addr, up };
        w.m.expect_status(
            UNIT0,
            "active",
            &format!("Ready at {}:5000 (http).", w.addr),
        );
        w.m.expect_status(UP0, "active", &format!("Ready at {}:5000 (http).", w.up));
        w
    }

    /// `jujusim run UNIT ACTION PARAMS... --format json`, whatever its outcome.
    fn run(&self, unit: &str, action: &str, params: &[&str]) -> Task {
        let mut args = vec!["run", unit, action];
        args.extend_from_slice(params);
        args.extend(["--format", "json"]);
        self.task(self.m.run(&args), unit)
    }

    /// The task in `jujusim run --format json`'s output.
    fn task(&self, out: Output, unit: &str) -> Task {
        let v: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| self.m.fail(&format!("run printed no JSON: {e}"), &out));
        let t = &v[unit];
        let text = |k: &str| t[k].as_str().unwrap_or_default().to_string();
        Task {
            status: text("status"),
            message: text("message"),
            results: t["results"].clone(),
            log: t["log"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(|s| s.as_str())
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default(),
            out,
        }
    }

    /// An action on docker-registry/0 that must complete.
    fn ok(&self, action: &str, params: &[&str]) -> Task {
        let t = self.run(UNIT0, action, params);
        if t.status != "completed" {
            self.m
                .fail(&format!("{action} did not complete: {}", t.message), &t.out);
        }
        t
    }

    /// An action on docker-registry/0 that must fail; its message must hold every `needle`.
    fn fails(&self, action: &str, params: &[&str], needles: &[&str]) -> Task {
        let t = self.run(UNIT0, action, params);
        if t.status != "failed" {
            self.m
                .fail(&format!("{action} was expected to fail"), &t.out);
        }
        for n in needles {
            self.m.check(
                t.message.contains(n),
                &format!("{action}'s failure does not say {n:?}: {}", t.message),
                &t.out,
            );
        }
        t
    }

    /// `jujusim config APP ARGS...`.
    fn config(&self, app: &str, args: &[&str]) {
        let mut argv = vec!["config", app];
        argv.extend_from_slice(args);
        self.m.ok(&argv);
    }

    /// skopeo inside the model network (no stored credentials); never panics.
    fn skopeo(&self, args: &[&str]) -> Output {
        support::clients::skopeo(&self.m, args)
    }

    /// `skopeo inspect --raw` of `docker://<reference>` with `flags`, or None.
    fn raw(&self, reference: &str, flags: &[&str]) -> Option<String> {
        let mut args = vec!["inspect", "--raw"];
        args.extend_from_slice(flags);
        let r = format!("docker://{reference}");
        args.push(&r);
        let out = self.skopeo(&args);
        out.success().then_some(out.stdout)
    }

    /// Loads `oci:<layout>:<name>` into `<netloc>/<repo_tag>` (every platform).
    fn load(&self, layout: &Layout, name: &str, netloc: &str, repo_tag: &str, flags: &[&str]) {
        let src = format!("oci:{}:{name}", layout.dir.display());
        let dst = format!("docker://{netloc}/{repo_tag}");
        let mut args = vec!["copy", "-q", "--all"];
        args.extend_from_slice(flags);
        args.extend([src.as_str(), dst.as_str()]);
        let out = self.skopeo(&args);
        self.m.check(
            out.success(),
            &format!("loading {repo_tag} into {netloc}"),
            &out,
        );
    }

    /// The HTTP status `curl` gets inside the model network (`-u` creds optional).
    fn http_code(&self, method: &str, url: &str, extra: &[&str]) -> String {
        let mut args = vec!["netexec", "--", "curl", "-sS", "--max-time", "10"];
        args.extend(["-o", "/dev/null", "-w", "%{http_code}", "-X", method]);
        args.extend_from_slice(extra);
        args.push(url);
        let out = self.m.run(&args);
        self.m.check(out.success(), &format!("curl {url}"), &out);
        out.text().to_string()
    }

    /// A manifest GET on docker-registry/0 (plain http): a pull.
    fn pull_code(&self, repo: &str, tag: &str) -> String {
        let url = format!("http://{}:5000/v2/{repo}/manifests/{tag}", self.addr);
        self.http_code("GET", &url, &["-H", &format!("Accept: {MANIFEST_TYPES}")])
    }

    /// A blob upload start on docker-registry/0 (plain http): the first step of a push.
    fn push_code(&self) -> String {
        let url = format!("http://{}:5000/v2/probe/app/blobs/uploads/", self.addr);
        self.http_code("POST", &url, &[])
    }

    /// docker-registry/0's workload status (current, message).
    fn status(&self) -> (String, String) {
        self.m.workload_status(UNIT0)
    }

    fn ready(&self) {
        self.m.expect_status(
            UNIT0,
            "active",
            &format!("Ready at {}:5000 (http).", self.addr),
        );
    }

    /// Whether config.yml on docker-registry/0 has the read-only block.
    fn read_only_config(&self) -> bool {
        self.m
            .exec(UNIT0, &format!("cat {CONFIG_YML}"))
            .stdout
            .contains(READ_ONLY)
    }
}

/// The digest of manifest bytes, as a registry names them.
fn digest_of(bytes: &[u8]) -> String {
    charm::registry_client::Digest::of(bytes).to_string()
}

/// Bytes of `n` pseudo-random KB, different per seed.
fn kb(seed: u64, n: usize) -> Vec<u8> {
    noise(seed, n * 1000)
}

/// A layout under the model's scratch dir with one image of `layers`, named `name`.
fn image(m: &Model, dir: &str, name: &str, layers: &[Vec<u8>]) -> (Layout, Written) {
    let mut l = Layout::new(&m.scratch().join(dir));
    let img = l.image("amd64", layers);
    l.name(name, &img);
    (l, img)
}

/// A stored image: its manifest digest and the bytes its manifest, config and layers
/// take (what gc frees when nothing else uses them).
struct Stored {
    digest: String,
    bytes: u64,
}

impl Stored {
    fn of(raw: &str) -> Stored {
        let m: Value = serde_json::from_str(raw).unwrap();
        let layers: u64 = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["size"].as_u64().unwrap())
            .sum();
        Stored {
            digest: digest_of(raw.as_bytes()),
            bytes: raw.len() as u64 + m["config"]["size"].as_u64().unwrap() + layers,
        }
    }
}

// ---- the Python charm's contract ---------------------------------------------------------

/// `push image=python:3.9-slim pull=True` answers exactly as the Python charm's integration
/// test expects: `raw: pushed <netloc>/python:3.9-slim` and `outcome: success`. Docker
/// Hub is the upstream charm here: on the unit, registry-1.docker.io resolves to it
/// (/etc/hosts), it serves TLS on 443 with a certificate for that name, and its CA is in
/// the unit's system trust store — the world around the charm changes, the charm does not.
#[test]
fn push_python_image_like_the_python_charm() {
    let w = World::new();
    let pki = Pki::new(&w.m, "hub");
    pki.issue_with_names(&w.m, "hub", &w.up, &["registry-1.docker.io"]);
    let mut cfg = vec!["registry-port=443".to_string()];
    cfg.extend(pki.blob_options("hub"));
    w.config(UP, &cfg.iter().map(String::as_str).collect::<Vec<_>>());
    w.m.expect_status(UP0, "active", &format!("Ready at {}:443 (https).", w.up));
    let certs = format!("--dest-cert-dir={}", pki.certs().display());
    let (l, _) = image(
        &w.m,
        "python",
        "slim",
        &[kb(1, 300), kb(2, 200), kb(3, 100)],
    );
    w.load(
        &l,
        "slim",
        &format!("{}:443", w.up),
        "library/python:3.9-slim",
        &[&certs],
    );
    w.m.exec(
        UNIT0,
        &format!(
            "echo '{} registry-1.docker.io' >> /etc/hosts && cat {} >> /etc/ssl/certs/ca-certificates.crt",
            w.up,
            pki.dir.join("ca.crt").display()
        ),
    );

    // Exactly the Python charm's test, plain output and all.
    let out =
        w.m.ok(&["run", UNIT0, "push", "image=python:3.9-slim", "pull=True"]);
    let netloc = format!("{}:5000", w.addr);
    for line in [
        "outcome: success",
        &format!("raw: pushed {netloc}/python:3.9-slim"),
    ] {
        w.m.check(
            out.stdout.lines().any(|l| l == line),
            &format!("no line {line:?} in the action's output"),
            &out,
        );
    }
    let pushed = w
        .raw(
            &format!("{netloc}/python:3.9-slim"),
            &["--tls-verify=false"],
        )
        .unwrap_or_else(|| w.m.fail("the pushed tag is not there", &out));
    let source = w
        .raw(
            &format!("{}:443/library/python:3.9-slim", w.up),
            &[&certs.replace("--dest-", "--")],
        )
        .expect("the upstream's manifest");
    w.m.check(
        pushed == source,
        "the manifest differs from the source's",
        &out,
    );
    let digest = digest_of(source.as_bytes());
    w.m.check(
        out.stdout.contains(&format!("digest: {digest}\n")),
        "digest",
        &out,
    );

    let again = w.ok("push", &["image=python:3.9-slim"]);
    assert_eq!(again.get("bytes-copied"), "0", "a re-push copies nothing");
    assert_eq!(again.get("blobs-skipped"), "4");
    assert_eq!(again.get("digest"), digest);

    // pull=false retags what the registry holds, copying nothing.
    let tagged = w.ok(
        "push",
        &[
            "image=python:3.9-slim",
            "pull=false",
            &format!("tag={netloc}/python:stable"),
        ],
    );
    assert_eq!(tagged.get("raw"), format!("pushed {netloc}/python:stable"));
    assert_eq!(tagged.get("bytes-copied"), "0");
}

// ---- auth and TLS on both sides ----------------------------------------------------------

/// Pushes between a plain upstream and a registry with TLS and basic auth, then with both
/// sides secured: credentials and CA for the destination come from the charm's own
/// config, the source's from the params (the CA as `juju run` delivers a PEM: folded onto
/// one line); a two-platform index is copied whole and byte for byte, or one platform.
/// `info` then checks the login and its skopeo line works as printed.
#[test]
fn push_with_auth_and_tls_on_either_side() {
    let w = World::new();
    let dst_pki = Pki::new(&w.m, "dst");
    dst_pki.issue(&w.m, "dst", &w.addr);
    let mut cfg = vec![
        "auth-basic-user=admin".to_string(),
        "auth-basic-password=dst-pass".to_string(),
    ];
    cfg.extend(dst_pki.blob_options("dst"));
    w.config(APP, &cfg.iter().map(String::as_str).collect::<Vec<_>>());
    w.m.expect_status(
        UNIT0,
        "active",
        &format!("Ready at {}:5000 (https).", w.addr),
    );
    let netloc = format!("{}:5000", w.addr);
    let dst_certs = format!("--cert-dir={}", dst_pki.certs().display());
    let dst_flags = [dst_certs.as_str(), "--creds=admin:dst-pass"];

    let mut l = Layout::new(&w.m.scratch().join("multi"));
    let amd = l.image("amd64", &[kb(10, 400), kb(11, 100)]);
    let arm = l.image("arm64", &[kb(12, 300)]);
    let idx = l.index(&[("amd64", &amd), ("arm64", &arm)]);
    l.name("multi", &idx);
    let up = format!("{}:5000", w.up);
    w.load(
        &l,
        "multi",
        &up,
        "test/multi:v1",
        &["--dest-tls-verify=false"],
    );

    // skopeo stores the index as it sees fit: the upstream's copy is the source.
    let up_index = w
        .raw(&format!("{up}/test/multi:v1"), &["--tls-verify=false"])
        .expect("the upstream's index");
    let index_digest = digest_of(up_index.as_bytes());
    let children: Value = serde_json::from_str(&up_index).unwrap();
    let arm_digest = children["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["platform"]["architecture"] == "arm64")
        .and_then(|c| c["digest"].as_str())
        .unwrap()
        .to_string();

    // A plain, open source into TLS + basic auth.
    let r = w.ok(
        "push",
        &[&format!("image={up}/test/multi:v1"), "src-tls-verify=false"],
    );
    assert_eq!(r.get("raw"), format!("pushed {netloc}/test/multi:v1"));
    assert_eq!(r.get("digest"), index_digest);
    assert_eq!(r.get("platforms"), "2");
    let first = w
        .raw(&format!("{netloc}/test/multi:v1"), &dst_flags)
        .unwrap();
    assert_eq!(first, up_index, "the index, byte for byte");

    // Now the upstream has TLS and basic auth too.
    let up_pki = Pki::new(&w.m, "up");
    up_pki.issue(&w.m, "up", &w.up);
    let mut cfg = vec![
        "auth-basic-user=up".to_string(),
        "auth-basic-password=up-pass".to_string(),
    ];
    cfg.extend(up_pki.blob_options("up"));
    w.config(UP, &cfg.iter().map(String::as_str).collect::<Vec<_>>());
    w.m.expect_status(UP0, "active", &format!("Ready at {up} (https)."));
    let up_certs = format!("--dest-cert-dir={}", up_pki.certs().display());
    let up_flags = [up_certs.as_str(), "--dest-creds=up:up-pass"];
    w.load(&l, "multi", &up, "test/multi:v2", &up_flags);
    let ca = std::fs::read_to_string(up_pki.dir.join("ca.crt")).unwrap();
    let src_ca = format!("src-ca={ca}");
    let image = format!("image={up}/test/multi:v2");

    let e = w.fails("push", &[&image, &src_ca], &["401", "src-username"]);
    assert!(!e.message.contains("up-pass"));
    w.fails(
        "push",
        &[&image, &src_ca, "src-username=up", "src-password=wrong"],
        &["refused"],
    );
    w.fails(
        "push",
        &[&image, "src-username=up", "src-password=up-pass"],
        &["TLS", "src-ca"],
    );
    assert!(
        w.raw(&format!("{netloc}/test/multi:v2"), &dst_flags)
            .is_none(),
        "the failed pushes wrote no tag"
    );
    let ok = [
        image.as_str(),
        src_ca.as_str(),
        "src-username=up",
        "src-password=up-pass",
    ];
    let r = w.ok("push", &ok);
    assert_eq!(r.get("digest"), index_digest);
    assert_eq!(r.get("bytes-copied"), "0", "the blobs came with v1 already");
    let up_raw = w
        .raw(
            &format!("{up}/test/multi:v2"),
            &[
                &format!("--cert-dir={}", up_pki.certs().display()),
                "--creds=up:up-pass",
            ],
        )
        .unwrap();
    let dst_raw = w
        .raw(&format!("{netloc}/test/multi:v2"), &dst_flags)
        .unwrap();
    assert_eq!(dst_raw, up_raw, "the index, byte for byte");

    let arm_only = [
        ok.as_slice(),
        &["platform=linux/arm64", "tag=test/multi:arm64"],
    ]
    .concat();
    let r = w.ok("push", &arm_only);
    assert_eq!(r.get("digest"), arm_digest);
    for t in &r.log {
        assert!(!t.contains("up-pass") && !t.contains("dst-pass"), "{t}");
    }

    // info: the login check, the CA as openssl fingerprints it, and a skopeo line that
    // works as printed (the password typed where it would prompt for it).
    let info = w.ok("info", &[]);
    assert_eq!(
        info.get("login"),
        format!("Login Succeeded (user admin, GET https://{netloc}/v2/)")
    );
    let fingerprint = w.m.host(&format!(
        "openssl x509 -noout -fingerprint -sha256 -in {}",
        dst_pki.dir.join("ca.crt").display()
    ));
    assert_eq!(
        info.get("ca-sha256"),
        fingerprint.text().rsplit('=').next().unwrap()
    );
    let skopeo_line = info.get("next.skopeo-copy");
    assert_eq!(
        skopeo_line,
        format!(
            "skopeo copy --dest-cert-dir ./certs.d/{netloc} --dest-creds admin \
             docker://SOURCE docker://{netloc}/NAME:TAG"
        )
    );
    let certs_d = w.m.scratch().join("certs.d").join(&netloc);
    std::fs::create_dir_all(&certs_d).unwrap();
    std::fs::write(certs_d.join("ca.crt"), info.get("ca")).unwrap();
    let line = skopeo_line
        .replace(
            "./certs.d",
            &w.m.scratch().join("certs.d").display().to_string(),
        )
        .replace("--dest-creds admin", "--dest-creds admin:dst-pass")
        .replace("SOURCE", &format!("{netloc}/test/multi:arm64"))
        .replace("NAME:TAG", "copied/by-info:v1");
    let mut argv: Vec<&str> = line.split(' ').skip(1).collect();
    argv.insert(1, "--src-cert-dir");
    argv.insert(2, certs_d.to_str().unwrap());
    argv.insert(3, "--src-creds=admin:dst-pass");
    let out = w.skopeo(&argv);
    w.m.check(out.success(), "info's skopeo line failed", &out);
    let results = serde_json::to_string(&info.results).unwrap();
    assert!(!results.contains("dst-pass"), "info shows the password");
}

/// With client certificates demanded (`tls-client-ca`), the charm's own actions still
/// work (each unit presents a client certificate of its own), the status is `Ready`, and
/// everyone else still needs a certificate from the operator's CA.
#[test]
fn actions_work_while_the_registry_demands_client_certificates() {
    let w = World::new();
    let pki = Pki::new(&w.m, "mtls");
    pki.issue(&w.m, "dst", &w.addr);
    let mut cfg = pki.blob_options("dst").to_vec();
    cfg.push(format!("tls-client-ca={}", pki.blob("ca.crt")));
    w.config(APP, &cfg.iter().map(String::as_str).collect::<Vec<_>>());
    let netloc = format!("{}:5000", w.addr);
    w.m.expect_status(UNIT0, "active", &format!("Ready at {netloc} (https)."));

    let mut l = Layout::new(&w.m.scratch().join("mtls"));
    let img = l.image("amd64", &[kb(30, 200)]);
    l.name("one", &img);
    let up = format!("{}:5000", w.up);
    w.load(&l, "one", &up, "test/one:v1", &["--dest-tls-verify=false"]);

    let r = w.ok(
        "push",
        &[&format!("image={up}/test/one:v1"), "src-tls-verify=false"],
    );
    assert_eq!(r.get("raw"), format!("pushed {netloc}/test/one:v1"));
    let listed = w.ok("images", &[]);
    let results = serde_json::to_string(&listed.results).unwrap();
    assert!(results.contains("test/one"), "images: {results}");

    // The operator's clients: in with a certificate from their CA, refused without one.
    let client = pki.client_dir(&w.m, "operator");
    let with = w.raw(
        &format!("{netloc}/test/one:v1"),
        &[&format!("--cert-dir={}", client.display())],
    );
    assert!(
        with.is_some(),
        "a client with the operator's certificate pulls"
    );
    let without = w.raw(
        &format!("{netloc}/test/one:v1"),
        &[&format!("--cert-dir={}", pki.certs().display())],
    );
    assert!(without.is_none(), "a client without a certificate got in");
}

// ---- archives on the unit ----------------------------------------------------------------

/// An oci-archive and a docker-archive written by skopeo, pushed from where they lie.
#[test]
fn push_from_archives_on_the_unit() {
    let w = World::new();
    let netloc = format!("{}:5000", w.addr);
    let (l, _) = image(&w.m, "arch", "v1", &[kb(20, 500), kb(21, 250)]);
    let oci_archive = w.m.scratch().join("app-oci.tar");
    let docker_archive = w.m.scratch().join("app-docker.tar");
    let src = format!("oci:{}:v1", l.dir.display());
    for (dest, what) in [
        (
            format!("oci-archive:{}:v1", oci_archive.display()),
            "oci-archive",
        ),
        (
            format!("docker-archive:{}:test/docker:v1", docker_archive.display()),
            "docker-archive",
        ),
    ] {
        let out = w.m.host(&format!("skopeo copy -q {src} {dest}"));
        w.m.check(out.success(), &format!("writing the {what}"), &out);
    }

    let r = w.ok(
        "push",
        &[
            &format!("image=oci-archive:{}:v1", oci_archive.display()),
            "tag=test/oci:v1",
        ],
    );
    assert_eq!(
        r.get("raw"),
        "pushed test/oci:v1",
        "the tag as given, as before"
    );
    let archived = w.m.host(&format!(
        "skopeo inspect --raw oci-archive:{}:v1",
        oci_archive.display()
    ));
    assert_eq!(
        r.get("digest"),
        digest_of(archived.stdout.as_bytes()),
        "the archive's manifest as is"
    );

    // A docker-archive names its image (RepoTags): that is the default destination.
    let r = w.ok(
        "push",
        &[&format!(
            "image=docker-archive:{}",
            docker_archive.display()
        )],
    );
    assert_eq!(r.get("raw"), format!("pushed {netloc}/test/docker:v1"));
    let archived = w.m.host(&format!(
        "skopeo inspect --raw docker-archive:{}",
        docker_archive.display()
    ));
    let pushed = w
        .raw(&format!("{netloc}/test/docker:v1"), &["--tls-verify=false"])
        .unwrap();
    // The same config and layers (skopeo labels the archive's plain tar layers as gzip
    // in the manifest it makes up; ours says tar, which is what they are).
    let blobs = |text: &str| {
        let m: Value = serde_json::from_str(text).unwrap();
        let mut d = vec![m["config"]["digest"].as_str().unwrap().to_string()];
        for l in m["layers"].as_array().unwrap() {
            d.push(l["digest"].as_str().unwrap().to_string());
        }
        d
    };
    assert_eq!(blobs(&pushed), blobs(&archived.stdout));
    let pulled = w.skopeo(&[
        "copy",
        "-q",
        "--src-tls-verify=false",
        &format!("docker://{netloc}/test/docker:v1"),
        &format!("oci:{}:pulled", w.m.scratch().join("pulled").display()),
    ]);
    w.m.check(pulled.success(), "pulling what the archive pushed", &pulled);
    let again = w.ok(
        "push",
        &[&format!(
            "image=docker-archive:{}",
            docker_archive.display()
        )],
    );
    assert_eq!(again.get("bytes-copied"), "0");
}

// ---- images, rmi and gc --------------------------------------------------------------------

/// A manifest link in the registry's storage that is a symlink to a FIFO under the
/// scratch dir. garbage-collect opens it while marking and blocks in `open` until a writer
/// comes (`wait_for_partner`); the registry server never reads it (no pull names it). Once
/// released, the registry's filesystem driver seeks in it and fails ("illegal seek"), so
/// a held gc ends in a real garbage-collect failure.
struct Hold {
    fifo: PathBuf,
}

impl Hold {
    /// Links `<storage>/repositories/zz-hold/app/_manifests/revisions/<digest>/link` on
    /// UNIT0 to a new FIFO. gc walks repositories in order, so this one comes last.
    fn new(w: &World, digest: &str) -> Hold {
        let fifo =
            w.m.scratch()
                .join(format!("hold-{}.fifo", support::clients::unique()));
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        let hex = digest.trim_start_matches("sha256:");
        // A repository is a directory with `_layers`: that is how the registry finds them.
        let dir = format!("{HOLD_REPO}/_manifests/revisions/sha256/{hex}");
        w.m.exec(
            UNIT0,
            &format!(
                "mkdir -p {HOLD_REPO}/_layers {dir} && ln -s {} {dir}/link",
                fifo.display()
            ),
        );
        Hold { fifo }
    }

    /// Waits until a garbage-collect started under `root` (a `jujusim run` of ours) is
    /// blocked opening the FIFO; returns its pid.
    fn wait_blocked(&self, root: u32) -> u32 {
        poll_for("garbage-collect blocked on the held manifest link", || {
            descendants(root).into_iter().find(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let gc = String::from_utf8_lossy(&cmdline).contains("garbage-collect");
                gc && tasks_wchan(*pid).iter().any(|w| w == "wait_for_partner")
            })
        })
    }

    /// Lets the blocked garbage-collect open the FIFO (and fail on it).
    fn release(&self) {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(nix::libc::O_NONBLOCK)
            .open(&self.fifo)
            .expect("a garbage-collect is waiting on the FIFO");
        drop(f);
    }

    /// Removes the repository the link made.
    fn remove(&self, w: &World) {
        w.m.exec(UNIT0, &format!("rm -rf {HOLD_REPO}"));
    }
}

const HOLD_REPO: &str = "/srv/registry/docker/registry/v2/repositories/zz-hold/app";

/// Polls `f` (bounded by [`LIMIT`]) until it answers.
fn poll_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    support::wait::eventually(what, LIMIT, f)
}

/// Every process below `root`, from /proc's parent links.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if let Some(ppid) = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
        {
            parent_of.push((pid, ppid));
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    out.remove(0);
    out
}

/// What each thread of `pid` waits on in the kernel.
fn tasks_wchan(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("wchan")).ok())
        .collect()
}

/// A `jujusim run docker-registry/0 gc` of our own, so the test knows its process tree.
struct Running {
    child: std::process::Child,
}

impl World {
    /// Starts the gc action in the background.
    fn start_gc(&self) -> Running {
        let child = std::process::Command::new(support::jujusim::jujusim_bin())
            .arg("--model")
            .arg(self.m.dir())
            .args(["run", UNIT0, "gc", "--format", "json"])
            .env("JUJUSIM_HOOK_TIMEOUT", "120")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running jujusim");
        Running { child }
    }

    /// Waits for a background action and reads its outcome.
    fn finish(&self, running: Running) -> Task {
        let out = running
            .child
            .wait_with_output()
            .expect("waiting for jujusim");
        let out = Output {
            cmd: format!("jujusim run {UNIT0} gc --format json"),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        self.task(out, UNIT0)
    }
}

/// Pushes `keep/app:v1` and `drop/app:v1` from the upstream (no shared blobs), deletes on.
fn two_images(w: &World) -> [Stored; 2] {
    w.config(APP, &["storage-delete=true"]);
    let up = format!("{}:5000", w.up);
    let netloc = format!("{}:5000", w.addr);
    let keep = image(&w.m, "keep", "v1", &[kb(30, 400), kb(31, 100)]);
    let drop = image(&w.m, "drop", "v1", &[kb(32, 600), kb(33, 200)]);
    [(&keep.0, "keep/app"), (&drop.0, "drop/app")].map(|(l, repo)| {
        w.load(
            l,
            "v1",
            &up,
            &format!("{repo}:v1"),
            &["--dest-tls-verify=false"],
        );
        w.ok(
            "push",
            &[&format!("image={up}/{repo}:v1"), "src-tls-verify=false"],
        );
        let raw = w.raw(&format!("{netloc}/{repo}:v1"), &["--tls-verify=false"]);
        Stored::of(&raw.expect("pushed"))
    })
}

/// images -> rmi -> gc frees the deleted image's bytes (measured on disk by the action),
/// the registry is writable again afterwards and still serves what was kept.
#[test]
fn images_rmi_gc_round_trip_frees_the_bytes() {
    let w = World::new();
    let [keep, drop] = two_images(&w);
    let netloc = format!("{}:5000", w.addr);

    let listed = w.ok("images", &[]);
    assert_eq!(listed.get("count"), "2");
    let output = listed.get("output");
    for repo in ["keep/app", "drop/app"] {
        assert!(output.contains(&format!("{netloc}/{repo}  v1")), "{output}");
    }
    let one = w.ok("images", &["repository=drop/app"]);
    assert_eq!(one.get("count"), "1");
    assert_eq!(one.get("images.1.digest"), drop.digest);
    assert_eq!(one.get("images.1.size"), drop.bytes.to_string());

    let r = w.ok("rmi", &["image=drop/app:v1"]);
    assert_eq!(r.get("deleted.1.digest"), drop.digest);
    assert_eq!(w.pull_code("drop/app", "v1"), "404");
    assert_eq!(w.ok("images", &[]).get("count"), "1");

    let gc = w.ok("gc", &[]);
    assert_eq!(
        gc.get("bytes-freed"),
        drop.bytes.to_string(),
        "the deleted image's manifest, config and layers"
    );
    assert_eq!(gc.get("blobs-deleted"), "4");
    let log = gc.log.join("\n");
    for step in [
        "gc: the registry is read-only until garbage collection ends (pulls keep working)",
        "gc: running garbage-collect",
        "gc: the registry is writable again",
    ] {
        assert!(log.contains(step), "{log}");
    }
    w.ready();
    assert!(!w.read_only_config());
    assert_eq!(w.pull_code("keep/app", "v1"), "200");
    assert_eq!(keep.digest, w.ok("images", &[]).get("images.1.digest"));
    assert_eq!(w.push_code(), "202", "writable again");
}

/// While gc runs the registry is read-only: pulls answer, pushes get 405 and the unit
/// says why. A gc that fails still ends writable (the action restores it), and so does
/// one whose action is killed midway (the next hook restores it).
#[test]
fn gc_is_read_only_while_it_runs_and_ends_writable_when_it_fails_or_is_killed() {
    let w = World::new();
    let [keep, _] = two_images(&w);

    let hold = Hold::new(&w, &keep.digest);
    let running = w.start_gc();
    hold.wait_blocked(running.child.id());
    assert_eq!(w.pull_code("keep/app", "v1"), "200", "pulls keep working");
    assert_eq!(w.push_code(), "405", "pushes are refused while gc runs");
    // (`jujusim exec` waits for the running action, like Juju's queue: not used here.)
    assert_eq!(
        w.status(),
        (
            "maintenance".into(),
            "Read-only while the gc action runs (pulls keep working).".into()
        )
    );
    hold.release();
    let task = w.finish(running);
    for part in [
        "gc: /usr/bin/docker-registry garbage-collect failed",
        "illegal seek",
    ] {
        w.m.check(
            task.status == "failed" && task.message.contains(part),
            &format!("gc should fail on the held link: {}", task.message),
            &task.out,
        );
    }
    w.ready();
    assert!(!w.read_only_config());
    assert_eq!(w.push_code(), "202");

    // Killed (as `juju cancel-task` would) while garbage-collect runs.
    let running = w.start_gc();
    let gc = hold.wait_blocked(running.child.id());
    let dispatch = descendants(running.child.id())
        .into_iter()
        .find(|pid| {
            std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e.ends_with("dispatch"))
        })
        .expect("the charm's dispatch runs the action");
    for pid in [dispatch, gc] {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .expect("kill");
    }
    let task = w.finish(running);
    hold.remove(&w);
    assert_eq!(task.status, "failed");
    assert!(w.read_only_config(), "the kill left the read-only config");
    assert_eq!(w.push_code(), "405");
    w.m.ok(&["update-status", UNIT0]);
    w.ready();
    assert!(
        !w.read_only_config(),
        "the next hook restored the normal config"
    );
    assert_eq!(w.push_code(), "202");
    assert_eq!(w.pull_code("keep/app", "v1"), "200");
}

// ---- mirror ------------------------------------------------------------------------------

/// `mirror list=<container-images.txt> release=...` copies that release's line, each image
/// to `<registry>/<path without its registry host>` (where `image-registry=` expects it),
/// carries on past an image the upstream lacks, and reports one line per image.
#[test]
fn mirror_a_release_of_a_container_images_list() {
    let w = World::new();
    let up = format!("{}:5000", w.up);
    let netloc = format!("{}:5000", w.addr);
    let names = [
        "cdk/pause:3.9",
        "cdk/coredns/coredns:1.10.1",
        "cdk/metrics-server:0.6.4",
    ];
    let mut digests = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let (l, _) = image(&w.m, &format!("m{i}"), "v", &[kb(40 + i as u64, 150)]);
        w.load(&l, "v", &up, name, &["--dest-tls-verify=false"]);
        let stored = w.raw(&format!("{up}/{name}"), &["--tls-verify=false"]);
        digests.push(digest_of(stored.expect("loaded").as_bytes()));
    }
    let list = w.m.scratch().join("container-images.txt");
    std::fs::write(
        &list,
        format!(
            "v1.28.1: {up}/cdk/pause:3.9\n\
             v1.29.0: {up}/{} {up}/{} {up}/cdk/missing:1 {up}/{}\n",
            names[0], names[1], names[2]
        ),
    )
    .unwrap();
    let list_param = format!("list={}", list.display());

    let e = w.fails(
        "mirror",
        &[&list_param, "src-tls-verify=false"],
        &["release="],
    );
    assert!(e.message.contains("v1.28.1, v1.29.0"), "{}", e.message);
    let t = w.fails(
        "mirror",
        &[&list_param, "release=v1.29.0", "src-tls-verify=false"],
        &["3 of 4 images mirrored, 1 failed"],
    );
    assert_eq!(t.get("copied"), "3");
    assert_eq!(t.get("images.3.result"), "failed");
    assert!(
        t.get("images.3.error").contains("cdk/missing"),
        "{}",
        t.get("images.3.error")
    );
    for (i, name) in names.iter().enumerate() {
        let n = if i == 2 { 4 } else { i + 1 };
        assert_eq!(
            t.get(&format!("images.{n}.destination")),
            format!("{netloc}/{name}")
        );
        let raw = w
            .raw(&format!("{netloc}/{name}"), &["--tls-verify=false"])
            .unwrap();
        assert_eq!(digest_of(raw.as_bytes()), digests[i], "{name}");
    }
    let output = t.get("output");
    assert_eq!(
        output.lines().count(),
        5,
        "one line per image and the summary: {output}"
    );
    assert!(
        output.lines().nth(2).unwrap().starts_with("failed  "),
        "{output}"
    );
}

// ---- bad input and refusals ----------------------------------------------------------------

/// Bad params fail the action with the reason and write nothing; storage-read-only refuses
/// writes naming the option while listing still works.
#[test]
fn bad_input_fails_the_action_and_read_only_refuses() {
    let w = World::new();
    let netloc = format!("{}:5000", w.addr);
    let text = w.m.scratch().join("not-an-image.tar");
    std::fs::write(&text, "hello\n").unwrap();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["image=ftp://x/y".into()],
            vec!["parameter image", "unsupported transport \"ftp\""],
        ),
        (
            vec!["image=Upper/Case:tag".into()],
            vec!["parameter image", "Upper/Case"],
        ),
        (
            vec![
                format!("image={}:5999/x/y:1", w.up),
                "src-tls-verify=false".into(),
            ],
            vec!["cannot reach registry", &w.up],
        ),
        (
            vec![
                format!("image={}:5000/absent/image:1", w.up),
                "src-tls-verify=false".into(),
            ],
            vec!["not found"],
        ),
        (
            vec![
                "image=busybox:1".into(),
                "tag=elsewhere.example:5000/busybox:1".into(),
            ],
            vec!["parameter tag", "not this one"],
        ),
        (
            vec![
                format!("image=oci-archive:{}", text.display()),
                "tag=x/y:1".into(),
            ],
            vec!["not-an-image.tar"],
        ),
        (
            vec!["image=x:1".into(), "src-ca=not a certificate".into()],
            vec!["parameter src-ca"],
        ),
    ];
    for (params, needles) in &cases {
        let p: Vec<&str> = params.iter().map(String::as_str).collect();
        w.fails("push", &p, needles);
    }
    w.fails(
        "mirror",
        &["list=/nonexistent/list.txt"],
        &["parameter list", "/nonexistent/list.txt"],
    );
    w.fails(
        "rmi",
        &["image=x/y:1"],
        &["storage-delete=false", "nothing was deleted"],
    );
    let empty = w.ok("images", &[]);
    assert_eq!(
        empty.get("count"),
        "0",
        "nothing was written: {}",
        empty.get("output")
    );

    w.config(APP, &["storage-read-only=true"]);
    let (l, _) = image(&w.m, "ro", "v1", &[kb(50, 100)]);
    let up = format!("{}:5000", w.up);
    w.load(&l, "v1", &up, "ro/app:v1", &["--dest-tls-verify=false"]);
    let image = format!("image={up}/ro/app:v1");
    w.fails(
        "push",
        &[&image, "src-tls-verify=false"],
        &[
            "storage-read-only=true",
            "nothing was written",
            "juju config docker-registry storage-read-only=false",
        ],
    );
    w.fails("mirror", &["images=busybox:1"], &["storage-read-only=true"]);
    assert!(w
        .raw(&format!("{netloc}/ro/app:v1"), &["--tls-verify=false"])
        .is_none());
    assert_eq!(
        w.ok("images", &[]).get("count"),
        "0",
        "listing works read-only"
    );
}

/// With shared storage and two units gc refuses (every unit writes to the same bucket)
/// and says which `juju config` lines to run around it, touching nothing; once the
/// application is read-only it runs on the shared store (Swift's s3api, the `swift` test
/// charm) and deletes the removed image's blobs there.
#[test]
fn gc_with_shared_storage_and_two_units_needs_the_application_read_only() {
    let w = World::new();
    let swift = swift::deploy(&w.m);
    swift::create_bucket(&w.m, "registry-gc");
    let s3 = swift::s3_config(&swift, "registry-gc");
    w.config(APP, &s3.iter().map(String::as_str).collect::<Vec<_>>());
    w.m.ok(&["add-unit", APP]);
    w.ready();
    let [keep, drop] = two_images(&w);
    w.ok("rmi", &["image=drop/app:v1"]);

    let t = w.fails(
        "gc",
        &[],
        &[
            "shared s3 storage and 2 units",
            "juju config docker-registry storage-read-only=true",
            "juju config docker-registry storage-read-only=false",
        ],
    );
    assert!(t.log.is_empty(), "nothing ran: {:?}", t.log);
    assert!(!w.read_only_config(), "refusing touched nothing");

    w.config(APP, &["storage-read-only=true"]);
    let gc = w.ok("gc", &[]);
    assert_eq!(gc.get("blobs-deleted"), "4", "{:?}", gc.results);
    assert!(
        gc.get("output").contains("unknown bytes (s3 storage)"),
        "{:?}",
        gc.results
    );
    assert_eq!(w.pull_code("keep/app", "v1"), "200");
    assert_eq!(keep.digest, w.ok("images", &[]).get("images.1.digest"));
    assert_ne!(keep.digest, drop.digest);
}
