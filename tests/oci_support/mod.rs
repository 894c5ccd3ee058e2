//! Real registries and hand-made images for the registry client and action tests.
//!
//! - [`Reg`]: the distro `docker-registry` on a free loopback port, with a temp config
//!   (plain or TLS via openssl, htpasswd basic auth or Bearer tokens, read-only, delete,
//!   its storage on a tiny tmpfs in a mount namespace of its own); killed on drop.
//! - [`Layout`]: OCI image layouts written by hand (layers are tar files made here),
//!   single images and multi-platform indexes; skopeo copies them into registries and
//!   archives.
//! - [`registry_for`]: the `actions::Registry` a charm would build for a test registry.
#![allow(dead_code)]

pub mod token;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use charm::actions::{self, ActionIo, StorageKind};
use charm::config::Secret;
use charm::registry_client::{Credentials, Digest, Scheme};
use serde_json::{json, Map, Value};

/// Runs a command; panics with its output when it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `skopeo <args>`, checked.
pub fn skopeo(args: &[&str]) -> String {
    run(Command::new("skopeo").args(args))
}

/// How to configure a test registry.
#[derive(Clone, Debug, Default)]
pub struct RegOpts {
    /// Serve TLS with a CA made for it.
    pub tls: bool,
    /// htpasswd basic auth with this user and password.
    pub basic: Option<(String, String)>,
    /// Bearer token auth: the realm URL, and the PEM of the token signing cert.
    pub token: Option<(String, String)>,
    /// storage.delete.enabled
    pub delete: bool,
    /// storage.maintenance.readonly
    pub read_only: bool,
    /// Put the storage on a tmpfs of this many MiB, in a mount namespace of its own.
    pub tmpfs_mib: Option<u32>,
}

/// A running registry; killed on drop.
pub struct Reg {
    pub host: String,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub config: PathBuf,
    pub ca_pem: Option<String>,
    pub opts: RegOpts,
    child: Child,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn make_tls(dir: &Path) -> (PathBuf, PathBuf, String) {
    let pki = dir.join("pki");
    std::fs::create_dir_all(&pki).unwrap();
    let sh = format!(
        "set -e; cd {pki}
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=Test CA' -keyout ca.key -out ca.crt 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nkeyUsage=digitalSignature,keyEncipherment\\nextendedKeyUsage=serverAuth\\n' > server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt 2>/dev/null",
        pki = pki.display()
    );
    run(Command::new("sh").arg("-c").arg(sh));
    let ca = std::fs::read_to_string(pki.join("ca.crt")).unwrap();
    (pki.join("server.crt"), pki.join("server.key"), ca)
}

impl Reg {
    /// Starts a registry with `opts`; retries on another port if the one picked was
    /// taken meanwhile.
    pub fn start(opts: RegOpts) -> Reg {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("data");
        std::fs::create_dir_all(&root).unwrap();
        let (tls, ca_pem) = if opts.tls {
            let (c, k, ca) = make_tls(dir.path());
            (
                format!(
                    ", tls: {{certificate: {}, key: {}}}",
                    c.display(),
                    k.display()
                ),
                Some(ca),
            )
        } else {
            (String::new(), None)
        };
        let auth = match (&opts.basic, &opts.token) {
            (Some((u, p)), _) => {
                let file = dir.path().join("htpasswd");
                let line = run(Command::new("htpasswd").args(["-Bbn", u, p]));
                std::fs::write(&file, line).unwrap();
                format!(
                    "auth: {{htpasswd: {{realm: test-realm, path: {}}}}}\n",
                    file.display()
                )
            }
            (None, Some((realm, cert))) => {
                let bundle = dir.path().join("token.pem");
                std::fs::write(&bundle, cert).unwrap();
                format!(
                    "auth: {{token: {{realm: \"{realm}\", service: {}, issuer: {}, rootcertbundle: {}}}}}\n",
                    token::SERVICE,
                    token::ISSUER,
                    bundle.display()
                )
            }
            (None, None) => String::new(),
        };
        let config = dir.path().join("config.yml");
        for _attempt in 0..5 {
            let port = free_port();
            let yaml = format!(
                "version: 0.1\nlog: {{level: info}}\n\
                 storage: {{filesystem: {{rootdirectory: {root}}}, delete: {{enabled: {delete}}}, \
                 maintenance: {{readonly: {{enabled: {ro}}}, uploadpurging: {{enabled: false}}}}}}\n\
                 http: {{addr: \"127.0.0.1:{port}\", secret: test-secret{tls}}}\n{auth}",
                root = root.display(),
                delete = opts.delete,
                ro = opts.read_only,
            );
            std::fs::write(&config, yaml).unwrap();
            let log = dir.path().join("registry.log");
            let out = std::fs::File::create(&log).unwrap();
            let mut cmd = match opts.tmpfs_mib {
                Some(mib) => {
                    let mut c = Command::new("unshare");
                    c.args(["-m", "--propagation", "private", "sh", "-c"])
                        .arg(format!(
                        "mount -t tmpfs -o size={mib}m tmpfs {} && exec docker-registry serve {}",
                        root.display(),
                        config.display()
                    ));
                    c
                }
                None => {
                    let mut c = Command::new("docker-registry");
                    c.arg("serve").arg(&config);
                    c
                }
            };
            let mut child = cmd
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .stdin(Stdio::null())
                .spawn()
                .expect("docker-registry (scripts/setup installs it)");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("listening on") {
                    return Reg {
                        host: format!("127.0.0.1:{port}"),
                        port,
                        dir,
                        root,
                        config,
                        ca_pem,
                        opts,
                        child,
                    };
                }
                if let Some(status) = child.try_wait().unwrap() {
                    if text.contains("address already in use") {
                        break;
                    }
                    panic!("registry exited ({status}) before listening:\n{text}");
                }
                assert!(
                    Instant::now() < deadline,
                    "registry not listening after 20 s:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("no free port after 5 attempts");
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// skopeo flags for this registry as a destination (`dest`) or source (`src`).
    pub fn skopeo_flags(&self, side: &str) -> Vec<String> {
        let mut f = Vec::new();
        match &self.ca_pem {
            Some(ca) => {
                let certs = self.dir.path().join("skopeo-certs");
                std::fs::create_dir_all(&certs).unwrap();
                std::fs::write(certs.join("ca.crt"), ca).unwrap();
                f.push(format!("--{side}cert-dir={}", certs.display()));
            }
            None => f.push(format!("--{side}tls-verify=false")),
        }
        if let Some((u, p)) = &self.opts.basic {
            f.push(format!("--{side}creds={u}:{p}"));
        }
        f
    }

    /// Pushes `oci:<layout>:<ref>` to `<this>/<repo>:<tag>` with skopeo (`--all`).
    pub fn load(&self, layout: &Layout, reference: &str, repo_tag: &str) {
        let flags = self.skopeo_flags("dest-");
        let mut args: Vec<String> = vec!["copy".into(), "-q".into(), "--all".into()];
        args.extend(flags);
        args.push(format!("oci:{}:{reference}", layout.dir.display()));
        args.push(format!("docker://{}/{repo_tag}", self.host));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        skopeo(&args);
    }

    /// `skopeo inspect --raw` of `<this>/<repo_tag>`: the manifest bytes as stored.
    pub fn raw(&self, repo_tag: &str) -> Option<Vec<u8>> {
        let mut cmd = Command::new("skopeo");
        cmd.args(["inspect", "--raw"]);
        for f in self.skopeo_flags("") {
            cmd.arg(f);
        }
        cmd.arg(format!("docker://{}/{repo_tag}", self.host));
        let out = cmd.output().unwrap();
        out.status.success().then_some(out.stdout)
    }

    /// The repositories in the catalog (via skopeo-independent curl).
    pub fn catalog(&self) -> Vec<String> {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-k"]);
        if let Some((u, p)) = &self.opts.basic {
            cmd.args(["-u", &format!("{u}:{p}")]);
        }
        let scheme = if self.opts.tls { "https" } else { "http" };
        cmd.arg(format!("{scheme}://{}/v2/_catalog", self.host));
        let body = run(&mut cmd);
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("catalog: {body}"));
        v["repositories"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// Whether the blob file is in this registry's storage.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.root
            .join("docker/registry/v2/blobs/sha256")
            .join(&d.hex()[..2])
            .join(d.hex())
            .join("data")
            .exists()
    }
}

impl Drop for Reg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `actions::Registry` a charm would hand the actions for `reg`.
pub fn registry_for(reg: &Reg) -> actions::Registry {
    let scheme = if reg.opts.tls {
        Scheme::Https
    } else {
        Scheme::Http
    };
    actions::Registry {
        application: "docker-registry".into(),
        netloc: reg.host.clone(),
        unit_netloc: reg.host.clone(),
        port: reg.port,
        scheme,
        client_scheme: scheme,
        ca_pem: reg.ca_pem.clone(),
        credentials: reg.opts.basic.as_ref().map(|(u, p)| Credentials {
            username: u.clone(),
            password: Secret::new(p.clone()),
        }),
        token_realm: reg.opts.token.as_ref().map(|(realm, _)| realm.clone()),
        storage_read_only: reg.opts.read_only,
        storage_delete: reg.opts.delete,
        storage: StorageKind::Filesystem {
            root: reg.root.clone(),
        },
        units: 1,
        http_proxy: None,
        https_proxy: None,
        binary: "docker-registry".into(),
        config_path: reg.config.clone(),
        client: None,
    }
}

/// Collects action-log lines.
#[derive(Default)]
pub struct Log(pub Mutex<Vec<String>>);

impl ActionIo for Log {
    fn log(&self, line: &str) {
        self.0.lock().unwrap().push(line.to_string());
    }
}

/// Action params from a JSON object literal.
pub fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

/// Runs an action with a fresh log.
pub fn act(
    name: &str,
    p: Value,
    registry: &actions::Registry,
) -> Result<actions::Results, actions::ActionError> {
    actions::run(name, &params(p), registry, &Log::default())
}

/// A hand-made OCI image layout.
pub struct Layout {
    pub dir: PathBuf,
    index: Vec<Value>,
}

/// What was written: digest, size and media type.
#[derive(Clone, Debug)]
pub struct Written {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// Deterministic pseudo-random bytes (xorshift): incompressible and reproducible.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An uncompressed tar holding one file `name` with `content`.
pub fn tar_layer(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

impl Layout {
    /// An empty layout in `dir`.
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let l = Layout {
            dir: dir.to_path_buf(),
            index: Vec::new(),
        };
        l.write_index();
        l
    }

    fn write_index(&self) {
        let index = json!({"schemaVersion": 2, "manifests": self.index});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }

    /// Writes a blob; returns its descriptor parts.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Written {
        let digest = Digest::of(bytes);
        let mut f = std::fs::File::create(self.blob_path(&digest)).unwrap();
        f.write_all(bytes).unwrap();
        Written {
            digest,
            size: bytes.len() as u64,
            media_type: media_type.into(),
        }
    }

    /// The file of a blob.
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(d.hex())
    }

    fn desc(w: &Written) -> Value {
        json!({"mediaType": w.media_type, "digest": w.digest.to_string(), "size": w.size})
    }

    /// An image whose layers hold `layers` (one file each); not yet named in index.json.
    pub fn image(&self, arch: &str, layers: &[Vec<u8>]) -> Written {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (i, content) in layers.iter().enumerate() {
            let tar = tar_layer(&format!("layer{i}.bin"), content);
            let w = self.blob("application/vnd.oci.image.layer.v1.tar", &tar);
            diff_ids.push(w.digest.to_string());
            descs.push(Layout::desc(&w));
        }
        let config = json!({
            "architecture": arch, "os": "linux",
            "config": {"Cmd": ["/layer0.bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = self.blob(
            "application/vnd.oci.image.config.v1+json",
            config.to_string().as_bytes(),
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": Layout::desc(&config),
            "layers": descs,
        });
        self.blob(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().as_bytes(),
        )
    }

    /// An index of `images` (arch of each given).
    pub fn index(&self, images: &[(&str, &Written)]) -> Written {
        let manifests: Vec<Value> = images
            .iter()
            .map(|(arch, w)| {
                let mut d = Layout::desc(w);
                d["platform"] = json!({"os": "linux", "architecture": arch});
                d
            })
            .collect();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        self.blob(
            "application/vnd.oci.image.index.v1+json",
            index.to_string().as_bytes(),
        )
    }

    /// Names `w` as `ref_name` in index.json.
    pub fn name(&mut self, ref_name: &str, w: &Written) {
        let mut d = Layout::desc(w);
        d["annotations"] = json!({"org.opencontainers.image.ref.name": ref_name});
        self.index.push(d);
        self.write_index();
    }
}
