//! The push/images/rmi/mirror/gc logic against real registries (the distro
//! `docker-registry`) on loopback, with images made here and cross-checked by skopeo.
//! Each registry is its own process and storage; nothing leaves the machine.

mod oci_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use charm::actions::ActionError;
use charm::registry_client::source::open_local;
use charm::registry_client::{
    Client, ClientOptions, Copier, CopyRequest, Digest, Progress, Scheme, SourceSpec,
};
use oci_support::token::TokenServer;
use oci_support::{act, noise, registry_for, skopeo, Layout, Reg, RegOpts};
use serde_json::{json, Value};

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

/// Sum of config + layer sizes of an image manifest.
fn blob_bytes(manifest: &[u8]) -> u64 {
    let m = json_of(manifest);
    let layers: u64 = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum();
    layers + m["config"]["size"].as_u64().unwrap()
}

fn err_text(r: Result<charm::actions::Results, ActionError>) -> String {
    match r {
        Ok(res) => panic!("expected a failure, got {res:?}"),
        Err(e) => e.to_string(),
    }
}

fn three_layer_layout(dir: &std::path::Path) -> (Layout, oci_support::Written) {
    let mut l = Layout::new(dir);
    let img = l.image(
        "amd64",
        &[noise(1, 300_000), noise(2, 200_000), noise(3, 100_000)],
    );
    l.name("v1", &img);
    (l, img)
}

#[test]
fn push_from_a_registry_then_again_copies_nothing() {
    let up = Reg::start(RegOpts::default());
    let dst = Reg::start(RegOpts::default());
    let tmp = tempfile::tempdir().unwrap();
    let (l, _) = three_layer_layout(&tmp.path().join("layout"));
    up.load(&l, "v1", "test/app:v1");
    let src_raw = up.raw("test/app:v1").unwrap();
    let reg = registry_for(&dst);

    let image = format!("{}/test/app:v1", up.host);
    let r = act("push", json!({"image": image}), &reg).unwrap();
    assert_eq!(
        r.get("raw").unwrap(),
        format!("pushed {}/test/app:v1", dst.host)
    );
    assert_eq!(r.get("outcome"), Some("success"));
    assert_eq!(r.get("digest").unwrap(), Digest::of(&src_raw).to_string());
    assert_eq!(
        r.get("bytes-copied").unwrap(),
        blob_bytes(&src_raw).to_string()
    );
    assert_eq!(r.get("blobs-skipped"), Some("0"));
    assert_eq!(
        dst.raw("test/app:v1").expect("pushed manifest"),
        src_raw,
        "skopeo sees the same bytes"
    );

    let again = act("push", json!({"image": image, "pull": true}), &reg).unwrap();
    assert_eq!(again.get("bytes-copied"), Some("0"));
    assert_eq!(again.get("blobs-skipped"), Some("4"));
    assert_eq!(again.get("digest"), r.get("digest"));

    // Another repository of the destination: blobs are mounted, not uploaded, when
    // the same run copied them (mirror) or the source is this registry (pull=false).
    let retag = act(
        "push",
        json!({"image": "test/app:v1", "pull": false, "tag": "other/app:v2"}),
        &reg,
    )
    .unwrap();
    assert_eq!(retag.get("bytes-copied"), Some("0"));
    assert_eq!(retag.get("blobs-mounted"), Some("4"));
    assert_eq!(dst.raw("other/app:v2").unwrap(), src_raw);
}

#[test]
fn an_index_is_copied_whole_or_one_platform() {
    let up = Reg::start(RegOpts::default());
    let dst = Reg::start(RegOpts::default());
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("layout"));
    let amd = l.image("amd64", &[noise(10, 50_000), noise(12, 10_000)]);
    let arm = l.image("arm64", &[noise(11, 60_000)]);
    let idx = l.index(&[("amd64", &amd), ("arm64", &arm)]);
    l.name("multi", &idx);
    up.load(&l, "multi", "test/multi:v1");
    let src_index = up.raw("test/multi:v1").unwrap();
    let reg = registry_for(&dst);

    let image = format!("{}/test/multi:v1", up.host);
    let r = act("push", json!({"image": image}), &reg).unwrap();
    assert_eq!(r.get("digest").unwrap(), Digest::of(&src_index).to_string());
    assert_eq!(r.get("platforms"), Some("2"));
    assert_eq!(dst.raw("test/multi:v1").unwrap(), src_index);
    let children = json_of(&src_index)["manifests"].as_array().unwrap().clone();
    for child in &children {
        let d = child["digest"].as_str().unwrap();
        assert_eq!(
            dst.raw(&format!("test/multi@{d}")),
            up.raw(&format!("test/multi@{d}")),
            "child {d} copied byte for byte"
        );
    }

    let arm_digest = children
        .iter()
        .find(|c| c["platform"]["architecture"] == "arm64")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let one = act(
        "push",
        json!({"image": image, "platform": "linux/arm64", "tag": "test/multi:arm64"}),
        &reg,
    )
    .unwrap();
    assert_eq!(one.get("digest").unwrap(), arm_digest);
    assert_eq!(
        dst.raw("test/multi:arm64").unwrap(),
        up.raw(&format!("test/multi@{arm_digest}")).unwrap()
    );

    let e = err_text(act(
        "push",
        json!({"image": image, "platform": "linux/s390x", "tag": "test/multi:s390x"}),
        &reg,
    ));
    assert!(
        e.contains("linux/s390x") && e.contains("linux/amd64, linux/arm64"),
        "{e}"
    );
    assert!(dst.raw("test/multi:s390x").is_none());
}

#[test]
fn layouts_and_archives_are_pushed_in_place() {
    let dst = Reg::start(RegOpts::default());
    let reg = registry_for(&dst);
    let tmp = tempfile::tempdir().unwrap();
    let layout_dir = tmp.path().join("layout");
    let (l, img) = three_layer_layout(&layout_dir);
    let oci_manifest = std::fs::read(l.blob_path(&img.digest)).unwrap();

    // oci:DIR:REF
    let r = act(
        "push",
        json!({"image": format!("oci:{}:v1", layout_dir.display()), "tag": "test/dir:v1"}),
        &reg,
    )
    .unwrap();
    assert_eq!(r.get("digest").unwrap(), img.digest.to_string());
    assert_eq!(dst.raw("test/dir:v1").unwrap(), oci_manifest);

    // oci-archive:PATH:REF, as skopeo writes it.
    let archive = tmp.path().join("app-oci.tar");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:v1", layout_dir.display()),
        &format!("oci-archive:{}:v1", archive.display()),
    ]);
    let in_archive = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci-archive:{}:v1", archive.display()),
    ]);
    let src = format!("oci-archive:{}:v1", archive.display());
    let e = err_text(act("push", json!({"image": src}), &reg));
    assert!(e.contains("tag=") && e.contains("parameter tag"), "{e}");
    let r = act(
        "push",
        json!({"image": src, "tag": "test/dir:from-archive"}),
        &reg,
    )
    .unwrap();
    assert_eq!(
        r.get("digest").unwrap(),
        Digest::of(in_archive.as_bytes()).to_string()
    );
    assert_eq!(
        dst.raw("test/dir:from-archive").unwrap(),
        in_archive.as_bytes()
    );
    // skopeo may recompress layers when it writes the archive: the blobs shared with
    // test/dir:v1 are skipped, the others copied.
    let digests = |m: &[u8]| -> std::collections::BTreeSet<String> {
        let m = json_of(m);
        let mut all: Vec<String> = m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_string())
            .collect();
        all.push(m["config"]["digest"].as_str().unwrap().to_string());
        all.into_iter().collect()
    };
    let shared = digests(in_archive.as_bytes())
        .intersection(&digests(&oci_manifest))
        .count();
    assert!(shared >= 1, "the config at least is shared");
    assert_eq!(r.get("blobs-skipped").unwrap(), shared.to_string());
    assert_eq!(r.get("blobs-copied").unwrap(), (4 - shared).to_string());

    // docker-archive:PATH, as skopeo writes it: a Docker v2 manifest is built.
    let darchive = tmp.path().join("app-docker.tar");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:v1", layout_dir.display()),
        &format!("docker-archive:{}:test/fromdocker:v1", darchive.display()),
    ]);
    let r = act(
        "push",
        json!({"image": format!("docker-archive:{}", darchive.display())}),
        &reg,
    )
    .unwrap();
    assert_eq!(
        r.get("raw").unwrap(),
        format!("pushed {}/test/fromdocker:v1", dst.host)
    );
    let raw = dst.raw("test/fromdocker:v1").unwrap();
    let m = json_of(&raw);
    assert_eq!(
        m["mediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(m["layers"].as_array().unwrap().len(), 3);
    assert_eq!(r.get("digest").unwrap(), Digest::of(&raw).to_string());
    // skopeo can pull it back whole (every blob present, every digest right).
    let back = tmp.path().join("back");
    let flags = dst.skopeo_flags("src-");
    skopeo(&[
        "copy",
        "-q",
        &flags[0],
        &format!("docker://{}/test/fromdocker:v1", dst.host),
        &format!("oci:{}:back", back.display()),
    ]);
}

#[test]
fn tls_and_basic_auth_on_both_sides() {
    let basic = |u: &str, p: &str| Some((u.to_string(), p.to_string()));
    let up = Reg::start(RegOpts {
        tls: true,
        basic: basic("up", "up-pass"),
        ..RegOpts::default()
    });
    let dst = Reg::start(RegOpts {
        tls: true,
        basic: basic("admin", "dst-pass"),
        ..RegOpts::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let (l, _) = three_layer_layout(&tmp.path().join("layout"));
    up.load(&l, "v1", "test/app:v1");
    let reg = registry_for(&dst);
    let image = format!("{}/test/app:v1", up.host);
    let ca = up.ca_pem.clone().unwrap();

    let e = err_text(act("push", json!({"image": image, "src-ca": ca}), &reg));
    assert!(e.contains("401") && e.contains("src-username"), "{e}");
    let e = err_text(act(
        "push",
        json!({"image": image, "src-ca": ca, "src-username": "up", "src-password": "wrong"}),
        &reg,
    ));
    assert!(e.contains("refused") && !e.contains("wrong"), "{e}");
    let e = err_text(act(
        "push",
        json!({"image": image, "src-username": "up", "src-password": "up-pass"}),
        &reg,
    ));
    assert!(e.contains("TLS") && e.contains("src-ca"), "{e}");
    assert!(
        dst.raw("test/app:v1").is_none(),
        "nothing written by the failures"
    );

    let ok = json!({"image": image, "src-ca": ca, "src-username": "up", "src-password": "up-pass"});
    let r = act("push", ok.clone(), &reg).unwrap();
    assert_eq!(
        dst.raw("test/app:v1").unwrap(),
        up.raw("test/app:v1").unwrap()
    );
    assert_ne!(r.get("bytes-copied"), Some("0"));

    let mut unverified = ok.clone();
    unverified["src-ca"] = json!("");
    unverified["src-tls-verify"] = json!(false);
    let again = act("push", unverified, &reg).unwrap();
    assert_eq!(again.get("bytes-copied"), Some("0"));

    let mut anonymous = registry_for(&dst);
    anonymous.credentials = None;
    let e = err_text(act("push", ok, &anonymous));
    assert!(e.contains("auth-basic-user"), "{e}");
}

#[test]
fn bearer_token_auth_is_followed_on_both_sides() {
    let creds = ("tok".to_string(), "tok-pass".to_string());
    let tokens = TokenServer::start(Some(creds.clone()));
    let with_tokens = RegOpts {
        token: Some((tokens.realm.clone(), tokens.cert_pem.clone())),
        ..RegOpts::default()
    };
    let plain_up = Reg::start(RegOpts::default());
    let up = Reg::start(with_tokens.clone());
    let dst = Reg::start(with_tokens);
    let tmp = tempfile::tempdir().unwrap();
    let (l, _) = three_layer_layout(&tmp.path().join("layout"));
    // Loaded through a plain registry (skopeo has no token credentials here), then
    // copied into the token-protected upstream by our own client.
    plain_up.load(&l, "v1", "test/app:v1");
    let mut up_reg = registry_for(&up);
    up_reg.credentials = Some(charm::registry_client::Credentials {
        username: creds.0.clone(),
        password: charm::config::Secret::new(creds.1.clone()),
    });
    act(
        "push",
        json!({"image": format!("{}/test/app:v1", plain_up.host)}),
        &up_reg,
    )
    .unwrap();

    let mut reg = registry_for(&dst);
    reg.credentials = up_reg.credentials.clone();
    let image = format!("{}/test/app:v1", up.host);
    let e = err_text(act("push", json!({"image": image}), &reg));
    assert!(e.contains("401") && e.contains("src-username"), "{e}");
    let r = act(
        "push",
        json!({"image": image, "src-username": "tok", "src-password": "tok-pass"}),
        &reg,
    )
    .unwrap();
    assert_eq!(
        r.get("digest").unwrap(),
        Digest::of(&plain_up.raw("test/app:v1").unwrap()).to_string()
    );
    let asked = tokens.requests.lock().unwrap().clone();
    assert!(
        asked
            .iter()
            .any(|q| q.contains("scope=repository:test/app:pull")
                && q.contains("service=test-registry")),
        "token requests: {asked:?}"
    );
    let images = act("images", json!({}), &reg).unwrap();
    assert_eq!(
        images.get("count"),
        Some("1"),
        "catalog scope granted: {images:?}"
    );
}

#[test]
fn images_rmi_gc_round_trip_frees_the_bytes() {
    let dst = Reg::start(RegOpts {
        delete: true,
        ..RegOpts::default()
    });
    let reg = registry_for(&dst);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let mut l = Layout::new(&dir);
    let a = l.image("amd64", &[noise(21, 400_000), noise(22, 300_000)]);
    let b = l.image("amd64", &[noise(23, 100_000)]);
    l.name("a", &a);
    l.name("b", &b);
    for (r, tag) in [("a", "test/a:v1"), ("b", "test/b:v1")] {
        act(
            "push",
            json!({"image": format!("oci:{}:{r}", dir.display()), "tag": tag}),
            &reg,
        )
        .unwrap();
    }
    let a_manifest = json_of(&std::fs::read(l.blob_path(&a.digest)).unwrap());
    let a_layers: Vec<Digest> = a_manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| Digest::parse(d["digest"].as_str().unwrap()).unwrap())
        .collect();

    let all = act("images", json!({}), &reg).unwrap();
    assert_eq!(all.get("count"), Some("2"));
    let out = all.get("output").unwrap();
    assert!(out.contains("test/a") && out.contains("test/b"), "{out}");
    assert_eq!(all.get("images.1.repository"), Some("test/a"));
    assert_eq!(all.get("images.1.digest").unwrap(), a.digest.to_string());
    let a_size = a.size + blob_bytes(&std::fs::read(l.blob_path(&a.digest)).unwrap());
    assert_eq!(all.get("images.1.size").unwrap(), a_size.to_string());
    let one = act("images", json!({"repository": "test/b:v1"}), &reg).unwrap();
    assert_eq!(one.get("count"), Some("1"));

    let mut no_delete = reg.clone();
    no_delete.storage_delete = false;
    let e = err_text(act("rmi", json!({"image": "test/a:v1"}), &no_delete));
    assert!(e.contains("storage-delete"), "{e}");
    let e = err_text(act("rmi", json!({"image": "test/a:v1 test/nope:v1"}), &reg));
    assert_eq!(
        e,
        format!(
            "rmi: test/nope:v1 not found in {}; nothing was deleted",
            dst.host
        )
    );
    assert_eq!(
        act("images", json!({}), &reg).unwrap().get("count"),
        Some("2")
    );

    let r = act("rmi", json!({"image": "test/a:v1"}), &reg).unwrap();
    assert_eq!(r.get("deleted.1.digest").unwrap(), a.digest.to_string());
    assert_eq!(
        act("images", json!({}), &reg).unwrap().get("count"),
        Some("1")
    );
    assert!(
        a_layers.iter().all(|d| dst.has_blob(d)),
        "rmi alone frees nothing"
    );

    let gc = act("gc", json!({}), &reg).unwrap();
    let layer_bytes: u64 = a_manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["size"].as_u64().unwrap())
        .sum();
    let freed: u64 = gc.get("bytes-freed").unwrap().parse().unwrap();
    assert!(
        freed >= layer_bytes,
        "freed {freed} < {layer_bytes}: {gc:?}"
    );
    assert!(a_layers.iter().all(|d| !dst.has_blob(d)), "{gc:?}");
    assert!(dst.raw("test/b:v1").is_some(), "the other image is intact");
}

#[test]
fn a_push_dropped_midway_leaves_no_tag() {
    let up = Reg::start(RegOpts::default());
    let dst = Reg::start(RegOpts::default());
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("layout"));
    let big = l.image("amd64", &[noise(31, 64 << 20)]);
    l.name("big", &big);
    up.load(&l, "big", "test/big:v1");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let plain = || ClientOptions {
            scheme: Some(Scheme::Http),
            push: true,
            ..ClientOptions::new()
        };
        let src = Arc::new(Client::connect(&up.host, plain()).await.unwrap());
        let dst_client = Client::connect(&dst.host, plain()).await.unwrap();
        let root = src.get_manifest("test/big", "v1").await.unwrap();
        let source = charm::registry_client::Source::Registry {
            client: src.clone(),
            repo: "test/big".into(),
        };
        let copier = Copier::new(&dst_client, 4);
        let progress = Progress::default();
        let copy = copier.copy(
            CopyRequest {
                source: &source,
                root,
                repo: "test/big".into(),
                tag: Some("v1".into()),
                platform: None,
                signatures: false,
            },
            &progress,
        );
        tokio::pin!(copy);
        // Drop the copy once bytes are flowing (a condition, bounded in time).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            tokio::select! {
                r = &mut copy => panic!("the copy finished before it could be dropped: {r:?}"),
                _ = tokio::time::sleep(Duration::from_millis(2)) => {}
            }
            if progress.bytes.load(Ordering::Relaxed) > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "no byte moved in 60 s");
        }
    });
    drop(rt);
    assert!(
        dst.raw("test/big:v1").is_none(),
        "no tag after a dropped push"
    );
    let layer = json_of(&up.raw("test/big:v1").unwrap())["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !dst.has_blob(&Digest::parse(&layer).unwrap()),
        "nothing committed"
    );
}

#[test]
fn bad_input_fails_precisely_and_writes_nothing() {
    let dst = Reg::start(RegOpts::default());
    let reg = registry_for(&dst);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let (l, img) = three_layer_layout(&dir);
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"image": "ftp://x/y"}),
            "unsupported transport \"ftp\"",
        ),
        (
            json!({"image": "dir:/tmp/x"}),
            "unsupported transport \"dir\"",
        ),
        (json!({"image": "Bad:Ref"}), "\"Bad:Ref\""),
        (json!({"image": ""}), "parameter image: missing"),
        (
            json!({"image": "127.0.0.1:1/x:y"}),
            "cannot reach registry 127.0.0.1:1",
        ),
        (
            json!({"image": format!("{}/nope:v1", dst.host), "tag": "x:y"}),
            "not found",
        ),
        (
            json!({"image": "a:b", "tag": "other.example:5000/x:y"}),
            "names registry other.example:5000, not this one",
        ),
        (
            json!({"image": "a:b", "src-username": "u"}),
            "parameter src-password",
        ),
        (
            json!({"image": "a:b", "src-ca": "not pem"}),
            "parameter src-ca",
        ),
        (
            json!({"image": "a:b", "platform": "linux"}),
            "parameter platform",
        ),
        (json!({"image": "a:b", "pull": "maybe"}), "parameter pull"),
        (
            json!({"image": format!("oci:{}:v9", dir.display()), "tag": "x:y"}),
            "has no image \"v9\"; it has: v1",
        ),
    ];
    for (p, want) in cases {
        let e = err_text(act("push", p.clone(), &reg));
        assert!(e.contains(want), "{p}: {e:?} lacks {want:?}");
    }

    // Archives: truncated, not a tar, not an image, the wrong kind.
    let archive = tmp.path().join("a.tar");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:v1", dir.display()),
        &format!("oci-archive:{}:v1", archive.display()),
    ]);
    let bytes = std::fs::read(&archive).unwrap();
    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let garbage = tmp.path().join("garbage.tar");
    std::fs::write(&garbage, noise(5, 10_000)).unwrap();
    let notimage = tmp.path().join("notimage.tar");
    std::fs::write(&notimage, oci_support::tar_layer("hello.txt", b"hi")).unwrap();
    for (src, want) in [
        (format!("oci-archive:{}", cut.display()), "is truncated"),
        (
            format!("oci-archive:{}", garbage.display()),
            "is not a tar archive",
        ),
        (
            format!("oci-archive:{}", notimage.display()),
            "it has no index.json",
        ),
        (
            format!("docker-archive:{}", archive.display()),
            "looks like an OCI archive",
        ),
        (
            format!("oci-archive:{}", tmp.path().join("missing.tar").display()),
            "cannot read",
        ),
    ] {
        let e = err_text(act("push", json!({"image": src, "tag": "x:y"}), &reg));
        assert!(
            e.contains(want) && e.contains(&src[src.find(':').unwrap() + 1..]),
            "{src}: {e}"
        );
    }
    assert!(
        dst.catalog().is_empty(),
        "nothing written: {:?}",
        dst.catalog()
    );

    // A corrupt layer: the upload is cancelled before it is committed.
    let manifest = json_of(&std::fs::read(l.blob_path(&img.digest)).unwrap());
    let layer = Digest::parse(manifest["layers"][0]["digest"].as_str().unwrap()).unwrap();
    let mut content = std::fs::read(l.blob_path(&layer)).unwrap();
    content[1000] ^= 0xff;
    std::fs::write(l.blob_path(&layer), content).unwrap();
    let e = err_text(act(
        "push",
        json!({"image": format!("oci:{}:v1", dir.display()), "tag": "test/corrupt:v1"}),
        &reg,
    ));
    assert!(
        e.contains("digest mismatch") && e.contains(&layer.to_string()),
        "{e}"
    );
    assert!(dst.raw("test/corrupt:v1").is_none());
    assert!(!dst.has_blob(&layer));

    // A local source is opened before the destination is contacted: its problem is
    // the one reported even when the registry is down.
    let mut down = reg.clone();
    down.unit_netloc = "127.0.0.1:1".into();
    let missing = format!("oci-archive:{}", tmp.path().join("missing.tar").display());
    let e = err_text(act("push", json!({"image": missing, "tag": "x:y"}), &down));
    assert!(
        e.contains("cannot read") && e.contains("missing.tar"),
        "{e}"
    );

    // Read-only registry: refused before connecting anywhere.
    let mut ro = reg.clone();
    ro.storage_read_only = true;
    let e = err_text(act("push", json!({"image": "a:b"}), &ro));
    assert!(
        e.contains("storage-read-only=true")
            && e.contains("juju config docker-registry storage-read-only=false"),
        "{e}"
    );
}

#[test]
fn destination_disk_full_is_named() {
    let dst = Reg::start(RegOpts {
        tmpfs_mib: Some(2),
        ..RegOpts::default()
    });
    let reg = registry_for(&dst);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let mut l = Layout::new(&dir);
    let img = l.image("amd64", &[noise(41, 6 << 20)]);
    l.name("v1", &img);
    let e = err_text(act(
        "push",
        json!({"image": format!("oci:{}:v1", dir.display()), "tag": "test/full:v1"}),
        &reg,
    ));
    assert!(
        e.contains("out of storage space"),
        "{e}\nregistry log:\n{}",
        dst.log()
    );
    assert!(dst.raw("test/full:v1").is_none());
}

#[test]
fn mirror_continues_past_failures_and_reports_each_image() {
    let up = Reg::start(RegOpts::default());
    let dst = Reg::start(RegOpts::default());
    let tmp = tempfile::tempdir().unwrap();
    let mut l = Layout::new(&tmp.path().join("layout"));
    let shared = noise(50, 200_000);
    for i in 0..3u64 {
        let img = l.image("amd64", &[shared.clone(), noise(51 + i, 50_000)]);
        l.name(&format!("m{i}"), &img);
    }
    for i in 0..3 {
        up.load(&l, &format!("m{i}"), &format!("cdk/img{i}:1.{i}"));
    }
    let list = tmp.path().join("container-images.txt");
    let h = &up.host;
    std::fs::write(
        &list,
        format!(
            "v1.0: {h}/cdk/img0:1.0\nv2.0: {h}/cdk/img0:1.0 {h}/cdk/img1:1.1 {h}/cdk/missing:9 {h}/cdk/img2:1.2\n"
        ),
    )
    .unwrap();
    let reg = registry_for(&dst);
    let p = json!({"list": list.display().to_string(), "release": "v2.0", "dest-prefix": format!("{}/mirror", dst.host)});
    let Err(ActionError::Incomplete {
        message, results, ..
    }) = act("mirror", p.clone(), &reg)
    else {
        panic!("expected a partial failure");
    };
    assert!(
        message.contains("3 of 4 images mirrored, 1 failed"),
        "{message}"
    );
    assert_eq!(results.get("copied"), Some("3"));
    assert_eq!(results.get("images.3.result"), Some("failed"));
    assert!(results
        .get("images.3.error")
        .unwrap()
        .contains("cdk/missing:9"));
    assert_eq!(
        results.get("images.2.destination").unwrap(),
        format!("{}/mirror/cdk/img1:1.1", dst.host)
    );
    assert_eq!(results.get("output").unwrap().lines().count(), 5);
    for i in 0..3 {
        assert_eq!(
            dst.raw(&format!("mirror/cdk/img{i}:1.{i}")),
            up.raw(&format!("cdk/img{i}:1.{i}"))
        );
    }
    // The shared layer was uploaded once, then mounted (or skipped) for the others.
    let total: u64 = results.get("bytes-copied").unwrap().parse().unwrap();
    assert!(
        total < 2 * 200_000 + 3 * 60_000,
        "shared layer copied more than once: {total}"
    );

    let e = err_text(act(
        "mirror",
        json!({"list": list.display().to_string()}),
        &reg,
    ));
    assert!(e.contains("release=") && e.contains("v1.0, v2.0"), "{e}");
    let e = err_text(act(
        "mirror",
        json!({"images": "a:b", "dest-prefix": "other.example:5000/x"}),
        &reg,
    ));
    assert!(e.contains("parameter dest-prefix"), "{e}");
}

#[test]
fn local_sources_open_without_unpacking() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let (_, img) = three_layer_layout(&dir);
    let archive = tmp.path().join("a.tar");
    skopeo(&[
        "copy",
        "-q",
        &format!("oci:{}:v1", dir.display()),
        &format!("oci-archive:{}:v1", archive.display()),
    ]);
    let before: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    let opened =
        open_local(&SourceSpec::parse(&format!("oci-archive:{}", archive.display())).unwrap())
            .unwrap();
    assert_eq!(opened.name.as_deref(), Some("v1"));
    let after: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(
        before.len(),
        after.len(),
        "nothing unpacked next to the archive"
    );
    let _ = img;
}

/// `info` checks the configured credentials against the registry itself, as `docker
/// login` does, gives the CA with openssl's fingerprint, and never the password.
#[test]
fn info_checks_the_login_and_shows_the_ca() {
    let dst = Reg::start(RegOpts {
        tls: true,
        basic: Some(("admin".into(), "dst-pass".into())),
        ..RegOpts::default()
    });
    let reg = registry_for(&dst);
    let r = act("info", json!({}), &reg).unwrap();
    assert_eq!(
        r.get("login").unwrap(),
        format!("Login Succeeded (user admin, GET https://{}/v2/)", dst.host)
    );
    assert_eq!(r.get("url").unwrap(), format!("https://{}", dst.host));
    assert_eq!(
        r.get("ca").unwrap(),
        dst.ca_pem.as_deref().unwrap().trim_end()
    );
    let ca_file = dst.dir.path().join("pki/ca.crt");
    let openssl = oci_support::run(
        std::process::Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&ca_file),
    );
    assert_eq!(
        r.get("ca-sha256").unwrap(),
        openssl.trim().rsplit('=').next().unwrap()
    );
    for (k, v) in r.iter() {
        assert!(!v.contains("dst-pass"), "{k} shows the password");
    }

    let mut wrong = registry_for(&dst);
    wrong.credentials = Some(charm::registry_client::Credentials {
        username: "admin".into(),
        password: charm::config::Secret::new("not-it"),
    });
    let e = act("info", json!({}), &wrong).unwrap_err();
    let text = e.to_string();
    assert!(text.starts_with("info: the login check failed: "), "{text}");
    assert!(text.contains("401") && !text.contains("not-it"), "{text}");
    let partial = e.results().expect("the rest is still reported");
    assert!(partial.get("login").unwrap().starts_with("FAILED: "));
    assert_eq!(partial.get("netloc"), Some(dst.host.as_str()));

    let mut anonymous = registry_for(&dst);
    anonymous.credentials = None;
    let e = act("info", json!({}), &anonymous).unwrap_err().to_string();
    assert!(e.contains("auth-basic-user"), "{e}");
}
