//! What the end-to-end tests use as clients: one-layer test images built offline with
//! umoci, skopeo and curl run inside the model network (the only place registries are
//! reachable), and digests read back from OCI layouts on the host.
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::jujusim::{Model, Output};

/// How a client reaches a registry.
#[derive(Clone, Copy)]
pub enum Tls<'a> {
    /// Plain HTTP.
    Off,
    /// HTTPS, trusting the CA certificates (`*.crt`) in this directory.
    Ca(&'a Path),
}

/// A process-unique suffix for scratch names.
pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A test image in an OCI layout on the host.
pub struct Image {
    pub layout: PathBuf,
    pub name: String,
    pub tag: String,
    /// The manifest digest in the layout.
    pub digest: String,
}

impl Image {
    /// `docker://<netloc>/e2e/<name>:<tag>`.
    pub fn reference(&self, netloc: &str) -> String {
        format!("docker://{netloc}/e2e/{}:{}", self.name, self.tag)
    }

    /// `<netloc>/e2e/<name>:<tag>`, as a container runtime is asked for it.
    pub fn runtime_ref(&self, netloc: &str) -> String {
        format!("{netloc}/e2e/{}:{}", self.name, self.tag)
    }

    /// The digest of the image's config blob (what CRI reports as the image id).
    pub fn config_digest(&self, m: &Model) -> String {
        let hex = self.digest.trim_start_matches("sha256:");
        let path = self.layout.join("blobs/sha256").join(hex);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading the manifest {}: {e}", path.display()));
        let manifest: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        manifest["config"]["digest"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| {
                m.fail(
                    &format!("no config digest in {}: {text}", path.display()),
                    &m.run(&["status"]),
                )
            })
    }
}

/// Builds a one-layer image with umoci (no network).
pub fn build_image(m: &Model, name: &str) -> Image {
    let layout = m.scratch().join(format!("img-{name}"));
    let l = layout.display();
    m.host(&format!(
        "set -e
         umoci init --layout {l}
         umoci new --image {l}:{name}
         umoci unpack --image {l}:{name} {l}.bundle
         mkdir -p {l}.bundle/rootfs/app
         echo 'hello from {name}' > {l}.bundle/rootfs/app/hello.txt
         umoci repack --image {l}:{name} {l}.bundle
         umoci config --image {l}:{name} --config.cmd /app/hello.txt
         umoci tag --image {l}:{name} v1
         rm -rf {l}.bundle"
    ));
    let digest = manifest_digest(m, &layout, "v1");
    Image {
        layout,
        name: name.into(),
        tag: "v1".into(),
        digest,
    }
}

/// The manifest digest that `tag` names in the OCI layout at `dir` (its index.json).
pub fn manifest_digest(m: &Model, dir: &Path, tag: &str) -> String {
    let index = std::fs::read_to_string(dir.join("index.json"))
        .unwrap_or_else(|e| panic!("reading {}/index.json: {e}", dir.display()));
    let v: Value = serde_json::from_str(&index).unwrap_or(Value::Null);
    v["manifests"]
        .as_array()
        .and_then(|ms| {
            ms.iter()
                .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        })
        .and_then(|d| d["digest"].as_str())
        .map(String::from)
        .unwrap_or_else(|| {
            m.fail(
                &format!("no {tag} in {}/index.json: {index}", dir.display()),
                &m.run(&["status"]),
            )
        })
}

/// `skopeo copy -q` arguments; `side` is `src` or `dest`: the registry end's TLS (skip
/// verification, or trust the CA directory) and credentials.
pub fn copy_args(side: &str, tls: Tls, creds: Option<&str>, from: &str, to: &str) -> Vec<String> {
    let mut args = vec!["copy".to_string(), "-q".to_string()];
    match tls {
        Tls::Off => args.push(format!("--{side}-tls-verify=false")),
        Tls::Ca(dir) => {
            args.push(format!("--{side}-cert-dir"));
            args.push(dir.display().to_string());
        }
    }
    if let Some(c) = creds {
        args.push(format!("--{side}-creds"));
        args.push(c.to_string());
    }
    args.push(from.to_string());
    args.push(to.to_string());
    args
}

/// `skopeo ARGS` inside the model network, with no stored credentials (never panics).
pub fn skopeo(m: &Model, args: &[&str]) -> Output {
    let auth = m.scratch().join("no-auth.json").display().to_string();
    let env = format!("REGISTRY_AUTH_FILE={auth}");
    let mut argv = vec!["netexec", "--", "env", &env, "skopeo"];
    argv.extend_from_slice(args);
    m.run(&argv)
}

/// skopeo copy of `img` into the registry at `netloc`.
pub fn push(m: &Model, netloc: &str, img: &Image, tls: Tls, creds: Option<&str>) -> Output {
    let src = format!("oci:{}:{}", img.layout.display(), img.tag);
    let args = copy_args("dest", tls, creds, &src, &img.reference(netloc));
    skopeo(m, &args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Pushes `img` to `netloc`, requiring success.
pub fn push_ok(m: &Model, netloc: &str, img: &Image, tls: Tls, creds: Option<&str>) {
    let out = push(m, netloc, img, tls, creds);
    if !out.success() {
        m.fail(&format!("pushing {} to {netloc} failed", img.name), &out);
    }
}

/// Pulls `img` from `netloc` into a fresh OCI layout and checks its manifest digest.
pub fn pull_and_compare(m: &Model, netloc: &str, img: &Image, tls: Tls, creds: Option<&str>) {
    let dir = m
        .scratch()
        .join(format!("pulled-{}-{}", img.name, unique()));
    let dest = format!("oci:{}:{}", dir.display(), img.tag);
    let args = copy_args("src", tls, creds, &img.reference(netloc), &dest);
    let out = skopeo(m, &args.iter().map(String::as_str).collect::<Vec<_>>());
    if !out.success() {
        m.fail(&format!("pulling {} from {netloc} failed", img.name), &out);
    }
    let pulled = manifest_digest(m, &dir, &img.tag);
    m.check(
        pulled == img.digest,
        &format!(
            "{netloc} served manifest {pulled}, not the pushed {}",
            img.digest
        ),
        &out,
    );
}

/// The HTTP status code of `GET url` (curl inside the model network; fails the test when
/// curl itself fails).
pub fn http_code(m: &Model, url: &str, tls: Tls, creds: Option<&str>) -> String {
    let mut args = vec!["netexec", "--", "curl", "-sS", "--max-time", "5"];
    args.extend(["-o", "/dev/null", "-w", "%{http_code}"]);
    let ca;
    if let Tls::Ca(dir) = tls {
        ca = dir.join("ca.crt").display().to_string();
        args.extend(["--cacert", &ca]);
    }
    if let Some(c) = creds {
        args.extend(["-u", c]);
    }
    args.push(url);
    let out = m.run(&args);
    if !out.success() {
        m.fail(&format!("curl {url} failed"), &out);
    }
    out.text().to_string()
}

/// The unit's ingress address on the `website` binding, as the charm sees it.
pub fn ingress(m: &Model, unit: &str) -> String {
    let out = m.exec(unit, "network-get website --ingress-address");
    m.check(!out.text().is_empty(), "no ingress address", &out);
    out.text().to_string()
}
