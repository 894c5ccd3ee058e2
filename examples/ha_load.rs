//! A bounded load on a registry (or the haproxy in front of several), counting what an
//! HA setup must not lose: for the HA end-to-end tests and `scripts/bench`. Not shipped
//! in the charm.
//!
//! ```text
//! ha_load seed   target=HOST:PORT out=SEEDS.json [images=4] [layer-kib=256] [repo=ha-load]
//! ha_load run    target=HOST:PORT seeds=SEEDS.json out=RUN.json [seconds=10]
//!                [pullers=20] [pushers=2] [repo=ha-load] [until=STOPFILE]
//! ha_load verify at=HOST:PORT[,HOST:PORT...] seeds=SEEDS.json [pushed=RUN.json]
//! ```
//!
//! - `seed` pushes `images` small OCI images (a config and two layers of random bytes,
//!   16 to 128 KiB and `layer-kib`) as `<repo>/seed-<n>:v1`, records their digests and
//!   prints how long the pushes took (one JSON object: `images`, `layer_bytes`,
//!   `seconds`).
//! - `run` keeps `pullers` clients pulling the seeds (manifest by tag, then every blob,
//!   each checked against its digest, a blob cut mid-body fetched once more as docker
//!   and containerd do; 100 ms pause after a failed pull) and `pushers`
//!   clients pushing new small images, for
//!   `seconds` (or until the file `until` exists), every request on a fresh connection. It prints one JSON object of figures
//!   (also written to `out`, with the images it pushed): pulls and pushes done and failed,
//!   failed requests, the first and last failure (ms after the start), p50/p99/max pull
//!   latency, pulls per second, and the first failures with their reasons.
//! - `verify` pulls every seed and every image `run` pushed from each `at` registry and
//!   counts what is missing or wrong (`lost`); exit 1 when anything is lost.
//!
//! Plain HTTP, no auth, storage redirects off (the charm's default): a blob GET is
//! answered by the registry itself.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a puller waits after a failed pull.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How many failures are kept with their reasons.
const KEEP_FAILURES: usize = 20;

/// An image as pushed: where, and the digests a pull must see.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pushed {
    /// Repository, e.g. `ha-load/seed-0`.
    repo: String,
    /// Tag.
    tag: String,
    /// Manifest digest.
    manifest: String,
    /// Config and layer digests.
    blobs: Vec<String>,
}

/// One failed pull or push.
#[derive(Debug, Clone, Serialize)]
struct Failure {
    /// Milliseconds after the run started.
    at_ms: u64,
    /// What failed and why.
    what: String,
}

/// The run's figures.
#[derive(Debug, Default, Serialize)]
struct Figures {
    seconds: f64,
    pullers: usize,
    pushers: usize,
    pulls_ok: u64,
    pulls_failed: u64,
    pushes_ok: u64,
    pushes_failed: u64,
    requests: u64,
    requests_failed: u64,
    /// Blobs fetched again because their answer was cut mid-body.
    blob_refetches: u64,
    first_failure_ms: Option<u64>,
    last_failure_ms: Option<u64>,
    pull_p50_ms: f64,
    pull_p99_ms: f64,
    pull_max_ms: f64,
    pulls_per_second: f64,
    failures: Vec<Failure>,
}

/// What `run` writes to `out`.
#[derive(Debug, Serialize, Deserialize)]
struct RunFile {
    pushed: Vec<Pushed>,
}

/// Shared by the clients of one run.
struct Shared {
    client: Client,
    target: String,
    start: Instant,
    requests: AtomicU64,
    requests_failed: AtomicU64,
    latencies_ms: Mutex<Vec<f64>>,
    failures: Mutex<Vec<Failure>>,
    failed_pulls: AtomicU64,
    failed_pushes: AtomicU64,
    /// Blobs fetched again after a cut answer.
    refetches: AtomicU64,
    pushed: Mutex<Vec<Pushed>>,
    counter: AtomicU64,
    /// Set when the stop file appears.
    stopped: AtomicBool,
    deadline: Instant,
}

fn hex_digest(bytes: &[u8]) -> String {
    let sum = Sha256::digest(bytes);
    let hex: String = sum.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// xorshift64*: test data only needs to differ, not to be unpredictable.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn seed_from_clock(extra: u64) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    nanos ^ (u64::from(std::process::id()) << 32) ^ extra.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn client() -> Result<Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .no_proxy()
        // A fresh connection per request: what is measured is the proxy and the units,
        // not the reuse of a connection a reloading haproxy is closing.
        .pool_max_idle_per_host(0)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// A request that failed: why, in one line.
type Outcome<T> = Result<T, String>;

impl Shared {
    /// Whether clients should keep going.
    fn going(&self) -> bool {
        Instant::now() < self.deadline && !self.stopped.load(Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/v2/{path}", self.target)
    }

    /// Counts one request and its outcome.
    fn count<T>(&self, r: Outcome<T>) -> Outcome<T> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if r.is_err() {
            self.requests_failed.fetch_add(1, Ordering::Relaxed);
        }
        r
    }

    fn fail(&self, what: String) {
        let at_ms = self.start.elapsed().as_millis() as u64;
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.push(Failure { at_ms, what });
    }
}

/// Why a GET failed.
#[derive(Debug)]
enum Fetch {
    /// The answer stopped in the middle of its body: the server died while sending it
    /// (no proxy can replay an answer it has begun). Clients fetch such a blob again.
    Cut(String),
    /// Anything else.
    Failed(String),
}

impl std::fmt::Display for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fetch::Cut(why) | Fetch::Failed(why) => f.write_str(why),
        }
    }
}

impl From<Fetch> for String {
    fn from(e: Fetch) -> String {
        e.to_string()
    }
}

/// GET `url` and check the body's digest is `want`.
async fn get_checked(c: &Client, url: &str, accept: Option<&str>, want: &str) -> Result<(), Fetch> {
    let mut req = c.get(url);
    if let Some(media_type) = accept {
        req = req.header(ACCEPT, media_type);
    }
    let r = req
        .send()
        .await
        .map_err(|e| Fetch::Failed(format!("GET {url}: {e}")))?;
    let status = r.status();
    let body = r
        .bytes()
        .await
        .map_err(|e| Fetch::Cut(format!("GET {url}: body: {e}")))?;
    if status != StatusCode::OK {
        return Err(Fetch::Failed(format!("GET {url}: {status}")));
    }
    let got = hex_digest(&body);
    if got != want {
        return Err(Fetch::Failed(format!(
            "GET {url}: digest {got}, pushed {want}"
        )));
    }
    Ok(())
}

/// GET a blob and check its digest.
async fn get_blob(c: &Client, base: &str, repo: &str, digest: &str) -> Result<(), Fetch> {
    get_checked(c, &format!("{base}/v2/{repo}/blobs/{digest}"), None, digest).await
}

/// GET a manifest (by tag or digest) and check it is `want`.
async fn get_manifest(
    c: &Client,
    base: &str,
    repo: &str,
    reference: &str,
    want: &str,
) -> Result<(), Fetch> {
    let url = format!("{base}/v2/{repo}/manifests/{reference}");
    get_checked(c, &url, Some(MANIFEST_TYPE), want).await
}

/// One pull of `img` from the target: manifest by tag, then every blob. A blob whose
/// answer is cut mid-body is fetched once more, as docker and containerd do; the cut
/// request still counts as failed, and as a refetch.
async fn pull(s: &Shared, img: &Pushed) -> Outcome<()> {
    let base = format!("http://{}", s.target);
    let manifest = get_manifest(&s.client, &base, &img.repo, &img.tag, &img.manifest).await;
    s.count(manifest.map_err(String::from))?;
    for blob in &img.blobs {
        let first = get_blob(&s.client, &base, &img.repo, blob).await;
        if let Err(Fetch::Cut(why)) = &first {
            let _ = s.count::<()>(Err(why.clone()));
            s.refetches.fetch_add(1, Ordering::Relaxed);
            let again = get_blob(&s.client, &base, &img.repo, blob).await;
            s.count(again.map_err(String::from))?;
        } else {
            s.count(first.map_err(String::from))?;
        }
    }
    Ok(())
}

/// Monolithic upload: POST for a session, PUT the bytes with their digest (two requests).
async fn put_blob(s: &Shared, repo: &str, bytes: Vec<u8>) -> Outcome<String> {
    let digest = hex_digest(&bytes);
    let url = s.url(&format!("{repo}/blobs/uploads/"));
    let location = s.count(start_upload(&s.client, &url).await)?;
    let upload = if location.starts_with("http") {
        location
    } else {
        format!("http://{}{location}", s.target)
    };
    let sep = if upload.contains('?') { '&' } else { '?' };
    let put = format!("{upload}{sep}digest={digest}");
    let sent = s
        .client
        .put(&put)
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(bytes)
        .send()
        .await;
    s.count(match sent {
        Ok(r) if r.status() == StatusCode::CREATED => Ok(digest),
        Ok(r) => Err(format!("PUT blob {digest}: {}", r.status())),
        Err(e) => Err(format!("PUT blob {digest}: {e}")),
    })
}

/// POST for an upload session: its Location.
async fn start_upload(c: &Client, url: &str) -> Outcome<String> {
    let r = c
        .post(url)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    if r.status() != StatusCode::ACCEPTED {
        return Err(format!("POST {url}: {}", r.status()));
    }
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .ok_or_else(|| format!("POST {url}: no Location"))
}

/// Pushes a new image with random layers of `sizes` bytes as `repo:tag`.
async fn push(s: &Shared, repo: &str, tag: &str, seed: u64, sizes: &[usize]) -> Outcome<Pushed> {
    let mut layers = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let bytes = random_bytes(seed.wrapping_add(i as u64 + 1), *size);
        let len = bytes.len();
        let digest = put_blob(s, repo, bytes).await?;
        layers.push((digest, len));
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"ha-load": format!("{seed:x}")}},
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|(d, _)| d).collect::<Vec<_>>()},
    })
    .to_string()
    .into_bytes();
    let config_len = config.len();
    let config_digest = put_blob(s, repo, config).await?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": config_len},
        "layers": layers.iter().map(|(d, n)| serde_json::json!({
            "mediaType": LAYER_TYPE, "digest": d, "size": n})).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    let manifest_digest = hex_digest(&manifest);
    let url = s.url(&format!("{repo}/manifests/{tag}"));
    let sent = s
        .client
        .put(&url)
        .header(CONTENT_TYPE, MANIFEST_TYPE)
        .body(manifest)
        .send()
        .await;
    s.count(match sent {
        Ok(r) if r.status() == StatusCode::CREATED => Ok(()),
        Ok(r) => Err(format!("PUT {url}: {}", r.status())),
        Err(e) => Err(format!("PUT {url}: {e}")),
    })?;
    let mut blobs = vec![config_digest];
    blobs.extend(layers.into_iter().map(|(d, _)| d));
    Ok(Pushed {
        repo: repo.to_string(),
        tag: tag.to_string(),
        manifest: manifest_digest,
        blobs,
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn puller(s: Arc<Shared>, seeds: Arc<Vec<Pushed>>, n: usize) {
    let mut i = n;
    while s.going() {
        let img = &seeds[i % seeds.len()];
        i += 1;
        let t0 = Instant::now();
        match pull(&s, img).await {
            Ok(()) => {
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                s.latencies_ms
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(ms);
            }
            Err(why) => {
                s.failed_pulls.fetch_add(1, Ordering::Relaxed);
                s.fail(format!("pull {}:{}: {why}", img.repo, img.tag));
                // A client pauses before it tries again; without it a refused
                // connection makes thousands of failures a second.
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
    }
}

async fn pusher(s: Arc<Shared>, repo: String) {
    while s.going() {
        let n = s.counter.fetch_add(1, Ordering::Relaxed);
        let seed = seed_from_clock(n);
        let name = format!("{repo}/pushed-{}", n % 8);
        let tag = format!("t{n}-{:x}", seed & 0xffff);
        match push(&s, &name, &tag, seed, &[64 * 1024, 256 * 1024]).await {
            Ok(p) => s.pushed.lock().unwrap_or_else(|e| e.into_inner()).push(p),
            Err(why) => {
                s.failed_pushes.fetch_add(1, Ordering::Relaxed);
                s.fail(format!("push {name}:{tag}: {why}"));
            }
        }
    }
}

fn params(args: &[String]) -> Result<BTreeMap<String, String>, String> {
    args.iter()
        .map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("expected key=value, got {a:?}"))
        })
        .collect()
}

fn need<'a>(p: &'a BTreeMap<String, String>, key: &str) -> Result<&'a str, String> {
    p.get(key)
        .map(String::as_str)
        .ok_or_else(|| format!("missing {key}=..."))
}

fn number(p: &BTreeMap<String, String>, key: &str, default: u64) -> Result<u64, String> {
    match p.get(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{key}={v:?} is not a number")),
    }
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

fn write_json(path: &str, v: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(v).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))
}

fn shared(target: &str, seconds: u64) -> Result<Shared, String> {
    let start = Instant::now();
    Ok(Shared {
        client: client()?,
        target: target.to_string(),
        start,
        deadline: start + Duration::from_secs(seconds),
        stopped: AtomicBool::new(false),
        requests: AtomicU64::new(0),
        requests_failed: AtomicU64::new(0),
        latencies_ms: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        failed_pulls: AtomicU64::new(0),
        failed_pushes: AtomicU64::new(0),
        refetches: AtomicU64::new(0),
        pushed: Mutex::new(Vec::new()),
        counter: AtomicU64::new(0),
    })
}

async fn seed(p: &BTreeMap<String, String>) -> Result<(), String> {
    let s = shared(need(p, "target")?, 3600)?;
    let repo = p.get("repo").map_or("ha-load", String::as_str);
    let big = number(p, "layer-kib", 256)? as usize * 1024;
    let mut seeds = Vec::new();
    let mut bytes = 0;
    let started = Instant::now();
    for n in 0..number(p, "images", 4)? {
        let seed = seed_from_clock(n);
        // 16 KiB .. 128 KiB and `layer-kib` (256 KiB): small enough for 20 pulling
        // clients on a small machine, unless a push is what is measured.
        let sizes = [(16 * 1024) << (n % 4), big];
        let img = push(&s, &format!("{repo}/seed-{n}"), "v1", seed, &sizes).await?;
        bytes += sizes.iter().sum::<usize>();
        seeds.push(img);
    }
    let seconds = started.elapsed().as_secs_f64();
    write_json(need(p, "out")?, &seeds)?;
    eprintln!(
        "ha_load: seeded {} images through {}",
        seeds.len(),
        s.target
    );
    println!(
        "{}",
        serde_json::json!({"images": seeds.len(), "layer_bytes": bytes, "seconds": seconds})
    );
    Ok(())
}

async fn run(p: &BTreeMap<String, String>) -> Result<(), String> {
    let seeds: Vec<Pushed> = read_json(need(p, "seeds")?)?;
    if seeds.is_empty() {
        return Err("no seed images".into());
    }
    let seconds = number(p, "seconds", 10)?;
    let pullers = number(p, "pullers", 20)? as usize;
    let pushers = number(p, "pushers", 2)? as usize;
    let repo = p.get("repo").cloned().unwrap_or_else(|| "ha-load".into());
    let s = Arc::new(shared(need(p, "target")?, seconds)?);
    let seeds = Arc::new(seeds);
    if let Some(file) = p.get("until").cloned() {
        let s = s.clone();
        tokio::spawn(async move {
            while s.going() {
                if std::path::Path::new(&file).exists() {
                    s.stopped.store(true, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    let mut tasks = Vec::new();
    for n in 0..pullers {
        tasks.push(tokio::spawn(puller(s.clone(), seeds.clone(), n)));
    }
    for _ in 0..pushers {
        tasks.push(tokio::spawn(pusher(s.clone(), repo.clone())));
    }
    for t in tasks {
        t.await
            .map_err(|e| format!("a client task panicked: {e}"))?;
    }
    let elapsed = s.start.elapsed().as_secs_f64();
    let mut lat = s
        .latencies_ms
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    lat.sort_by(f64::total_cmp);
    let mut failures = s.failures.lock().unwrap_or_else(|e| e.into_inner()).clone();
    failures.sort_by_key(|f| f.at_ms);
    let pushed = s.pushed.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let figures = Figures {
        seconds: elapsed,
        pullers,
        pushers,
        pulls_ok: lat.len() as u64,
        pulls_failed: s.failed_pulls.load(Ordering::Relaxed),
        pushes_ok: pushed.len() as u64,
        pushes_failed: s.failed_pushes.load(Ordering::Relaxed),
        requests: s.requests.load(Ordering::Relaxed),
        requests_failed: s.requests_failed.load(Ordering::Relaxed),
        blob_refetches: s.refetches.load(Ordering::Relaxed),
        first_failure_ms: failures.first().map(|f| f.at_ms),
        last_failure_ms: failures.last().map(|f| f.at_ms),
        pull_p50_ms: percentile(&lat, 50.0),
        pull_p99_ms: percentile(&lat, 99.0),
        pull_max_ms: lat.last().copied().unwrap_or(0.0),
        pulls_per_second: lat.len() as f64 / elapsed,
        failures: failures.into_iter().take(KEEP_FAILURES).collect(),
    };
    write_json(need(p, "out")?, &RunFile { pushed })?;
    println!(
        "{}",
        serde_json::to_string(&figures).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// Every image from every registry in `at`: returns how many objects are lost.
async fn verify(p: &BTreeMap<String, String>) -> Result<u64, String> {
    let mut images: Vec<Pushed> = read_json(need(p, "seeds")?)?;
    if let Some(path) = p.get("pushed") {
        let run: RunFile = read_json(path)?;
        images.extend(run.pushed);
    }
    let c = client()?;
    let mut lost = 0;
    for at in need(p, "at")?.split(',').filter(|a| !a.is_empty()) {
        let base = format!("http://{at}");
        for img in &images {
            if let Err(why) = get_manifest(&c, &base, &img.repo, &img.manifest, &img.manifest).await
            {
                lost += 1;
                eprintln!("ha_load: lost at {at}: {why}");
            }
            for blob in &img.blobs {
                if let Err(why) = get_blob(&c, &base, &img.repo, blob).await {
                    lost += 1;
                    eprintln!("ha_load: lost at {at}: {why}");
                }
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({"images": images.len(), "lost": lost})
    );
    Ok(lost)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprintln!("usage: ha_load seed|run|verify key=value ... (see the source's header)");
        return ExitCode::from(2);
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ha_load: no runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async {
        let p = params(rest)?;
        match command.as_str() {
            "seed" => seed(&p).await.map(|()| 0),
            "run" => run(&p).await.map(|()| 0),
            "verify" => verify(&p).await,
            other => Err(format!("unknown command {other:?}: seed, run or verify")),
        }
    });
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ha_load: {e}");
            ExitCode::from(1)
        }
    }
}
