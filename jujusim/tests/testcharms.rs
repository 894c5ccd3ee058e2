//! The bash test charms' functions, run inside LinuxMachines machines with fake hook tools
//! (testcharms/fake-tools.sh), so their /etc, /var/lib and /run writes stay private.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jujusim::machines::{LinuxMachines, Machines};
use support::machines::{inside, Net};
use support::{eventually, testcharms_dir};

/// A model network whose machines run the test charms' functions.
struct TestModel {
    net: Net,
}

impl TestModel {
    /// `machines` machines on a new model network (`prefix`: 3 characters, one per test).
    fn new(prefix: &str, subnet: [u8; 3], machines: u32) -> TestModel {
        let mut net = Net::new(prefix, subnet);
        for id in 0..machines {
            net.add_machine(id);
        }
        TestModel { net }
    }

    /// A fresh fake-tools data dir (on the host, visible from every machine).
    fn fake(&self, name: &str) -> PathBuf {
        let p = self.net.dir.path().join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Runs `script` in bash inside machine `id` with the fake tools loaded and `charm`'s
    /// dispatch sourced (functions only).
    fn run(&self, id: usize, fake: &Path, charm: &str, hook: &str, script: &str) -> String {
        let charms = testcharms_dir();
        let full = format!(
            "set -euo pipefail; source {tools}; export JUJU_DISPATCH_PATH=hooks/{hook} JUJU_UNIT_NAME={charm}/{id}; \
             source {dispatch}; {script}",
            tools = charms.join("fake-tools.sh").display(),
            dispatch = charms.join(charm).join("dispatch").display(),
        );
        let mut cmd = Command::new("bash");
        cmd.args(["-c", &full])
            .env("FAKE", fake)
            .stdin(Stdio::null());
        let out = inside(&self.net.machines[id], cmd);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{charm} {hook} in machine {id} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// GET `url` from the model's bridge network: the body, or curl's complaint.
    fn curl(&self, url: &str) -> Result<String, String> {
        let mut cmd = Command::new("curl");
        cmd.args(["-fsS", "-m", "2", url]);
        let out = self.net.on_bridge(cmd);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// `relation-set` arguments the charm wrote (NUL-separated key=value).
fn relation_sets(fake: &Path) -> Vec<(String, String)> {
    let raw = std::fs::read_to_string(fake.join("relation-set")).unwrap_or_default();
    raw.split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn easyrsa_answers_a_legacy_request_with_a_cert_for_the_sans() {
    let model = TestModel::new("ers", [10, 96, 1], 1);
    let fake = model.fake("fake");
    write(&fake.join("rel/client"), "client:4\n");
    write(&fake.join("units/4"), "docker-registry/0\n");
    write(
        &fake.join("bags/4/docker-registry/0.json"),
        r#"{"unit_name": "docker-registry_0", "common_name": "10.96.1.20",
            "sans": "[\"10.96.1.20\", \"10.96.1.20\", \"juju-abc-0\"]"}"#,
    );
    model.run(0, &fake, "easyrsa", "install", "main");
    model.run(0, &fake, "easyrsa", "client-relation-changed", "main");
    assert_eq!(read(&fake.join("status")).trim(), "active CA ready");

    let sets = relation_sets(&fake);
    let get = |k: &str| {
        sets.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap()
    };
    let (ca, cert, key) = (
        get("ca"),
        get("docker-registry_0.server.cert"),
        get("docker-registry_0.server.key"),
    );
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    assert!(
        cert.starts_with("Certificate:"),
        "easyrsa certs start with the text dump"
    );
    assert!(key.contains("PRIVATE KEY"));
    let files = model.fake("check");
    write(&files.join("ca.crt"), &ca);
    write(&files.join("server.crt"), &cert);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&files)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    openssl(&["verify", "-CAfile", "ca.crt", "server.crt"]);
    let ext = openssl(&[
        "x509",
        "-in",
        "server.crt",
        "-noout",
        "-ext",
        "subjectAltName,extendedKeyUsage",
    ]);
    assert!(
        ext.contains("IP Address:10.96.1.20, DNS:juju-abc-0"),
        "{ext}"
    );
    assert!(
        ext.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{ext}"
    );
    assert!(
        !Path::new("/var/lib/easyrsa-sim/ca.key").exists() || {
            // Another run on the host may have made one; ours must differ from it.
            read(Path::new("/var/lib/easyrsa-sim/ca.crt")) != ca
        }
    );

    // Same request again: same cert (no reissue); changed SANs: a new one.
    std::fs::remove_file(fake.join("relation-set")).unwrap();
    model.run(0, &fake, "easyrsa", "client-relation-changed", "main");
    let again = relation_sets(&fake);
    assert!(again.contains(&("docker-registry_0.server.cert".into(), cert.clone())));
}

/// trivial serves on two machines; haproxy on a third fronts them, primary + backup.
#[test]
fn haproxy_fronts_trivial_servers_and_rejects_bad_config() {
    let model = TestModel::new("hap", [10, 96, 2], 3);
    for id in [1, 2] {
        let fake = model.fake(&format!("trivial{id}"));
        write(&fake.join("config/port"), "5000");
        write(&fake.join("config/fail-on"), "");
        model.run(
            id,
            &fake,
            "trivial",
            "start",
            &format!("FAKE_ADDRESS=10.96.2.1{id} main"),
        );
        assert_eq!(
            read(&fake.join("status")).trim(),
            format!("active serving on 10.96.2.1{id}:5000")
        );
        assert!(read(&fake.join("ports")).contains("open 5000/tcp"));
        let url = format!("http://10.96.2.1{id}:5000/");
        let body = eventually(&url, Duration::from_secs(10), || model.curl(&url));
        assert_eq!(body, format!("trivial/{id}"));
    }

    let fake = model.fake("haproxy");
    write(&fake.join("config/default-port"), "80");
    write(&fake.join("rel/reverseproxy"), "reverseproxy:7\n");
    write(
        &fake.join("units/7"),
        "docker-registry/0\ndocker-registry/1\n",
    );
    let services = "\n- service_name: docker-registry\n  service_host: 0.0.0.0\n  service_port: 5000\n  service_options:\n   - mode http\n   - balance leastconn\n  servers:\n   - [docker-registry-0, 10.96.2.11, 5000, check inter 2000 rise 2 fall 5 maxconn 4096 ]\n   - [docker-registry-1, 10.96.2.12, 5000, check inter 2000 rise 2 fall 5 maxconn 4096 backup ]\n";
    let leader = serde_json::json!({"services": services, "hostname": "10.96.2.11", "port": "5000",
        "private-address": "10.96.2.11"});
    write(
        &fake.join("bags/7/docker-registry/0.json"),
        &leader.to_string(),
    );
    write(
        &fake.join("bags/7/docker-registry/1.json"),
        r#"{"private-address": "10.96.2.12"}"#,
    );
    model.run(0, &fake, "haproxy", "reverseproxy-relation-changed", "main");
    assert_eq!(
        read(&fake.join("status")).trim(),
        "active serving 2 backends"
    );
    let body = eventually("haproxy", Duration::from_secs(10), || {
        model.curl("http://10.96.2.10:5000/")
    });
    assert_eq!(
        body, "trivial/1",
        "the first server is primary, the second backup"
    );
    let cfg = model.run(0, &fake, "haproxy", "x", "cat /etc/haproxy/haproxy.cfg");
    assert!(cfg.contains("server docker-registry-1 10.96.2.12:5000 check inter 2000 rise 2 fall 5 maxconn 4096 backup"), "{cfg}");
    // The service's own options decide retries; only the defaults have one of their own.
    assert!(
        cfg.contains("defaults\n") && cfg.contains("    retries 3\n"),
        "{cfg}"
    );
    assert!(cfg.contains("option httplog"), "{cfg}");

    // A server option haproxy does not know: blocked, the old config keeps serving.
    let bad = serde_json::json!({"services": services.replace("backup ]", "bakup ]")});
    write(
        &fake.join("bags/7/docker-registry/0.json"),
        &bad.to_string(),
    );
    model.run(0, &fake, "haproxy", "reverseproxy-relation-changed", "main");
    let status = read(&fake.join("status"));
    assert!(
        status.starts_with("blocked invalid haproxy config"),
        "{status}"
    );
    assert_eq!(
        model.curl("http://10.96.2.10:5000/").ok().as_deref(),
        Some("trivial/1")
    );
}

#[test]
fn trivial_fail_on_writes_then_exits_1() {
    let model = TestModel::new("trv", [10, 96, 3], 1);
    let fake = model.fake("fake");
    write(&fake.join("config/fail-on"), "web-relation-changed");
    let script = "export JUJU_RELATION_ID=web:3 JUJU_REMOTE_UNIT=other/0; main";
    let mut cmd = Command::new("bash");
    let full = format!(
        "source {}; export JUJU_DISPATCH_PATH=hooks/web-relation-changed JUJU_UNIT_NAME=trivial/0; source {}; {script}",
        testcharms_dir().join("fake-tools.sh").display(),
        testcharms_dir().join("trivial/dispatch").display()
    );
    cmd.args(["-c", &full]).env("FAKE", &fake);
    LinuxMachines
        .enter(&model.net.machines[0], &mut cmd)
        .unwrap();
    let status = cmd.status().unwrap();
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        relation_sets(&fake),
        vec![("uncommitted".into(), "web-relation-changed".into())]
    );

    // Without fail-on the same hook says hello and records the remote's hello.
    write(&fake.join("config/fail-on"), "");
    std::fs::remove_file(fake.join("relation-set")).unwrap();
    write(&fake.join("units/3"), "other/0\n");
    write(&fake.join("bags/3/other/0.json"), r#"{"hello": "other/0"}"#);
    model.run(0, &fake, "trivial", "web-relation-changed", script);
    assert_eq!(
        relation_sets(&fake),
        vec![("hello".into(), "trivial/0".into())]
    );
    assert_eq!(read(&fake.join("state/seen.other/0")), "other/0");
}

fn registry_bag(netloc: &str, url: &str, user: Option<&str>, ca: Option<&str>) -> String {
    let enc = |v: Option<&str>| serde_json::to_string(&v).unwrap();
    serde_json::json!({
        "registry_netloc": enc(Some(netloc)),
        "registry_url": enc(Some(url)),
        "basic_user": enc(user),
        "basic_password": enc(user.map(|_| "s3cret")),
        "tls_ca": enc(ca),
    })
    .to_string()
}

#[test]
fn containerd_and_docker_render_registry_settings() {
    let model = TestModel::new("ctr", [10, 96, 4], 1);
    for charm in ["containerd", "docker"] {
        let fake = model.fake(charm);
        write(&fake.join("rel/docker-registry"), "docker-registry:2\n");
        write(&fake.join("units/2"), "docker-registry/0\n");
        let bag = fake.join("bags/2/docker-registry/0.json");
        write(
            &bag,
            &registry_bag(
                "10.96.4.20:5000",
                "http://10.96.4.20:5000",
                Some("admin"),
                None,
            ),
        );
        model.run(0, &fake, charm, "docker-registry-relation-changed", "main");
        assert_eq!(
            read(&fake.join("status")).trim(),
            "active registry 10.96.4.20:5000 configured"
        );
        let plain = match charm {
            "containerd" => "cat /etc/containerd/certs.d/10.96.4.20:5000/hosts.toml /var/lib/containerd-sim/auth/10.96.4.20:5000",
            _ => "jq -c . /etc/docker/daemon.json /etc/docker/config.json",
        };
        let plain = model.run(0, &fake, charm, "x", plain);
        let expected = match charm {
            "containerd" => "server = \"http://10.96.4.20:5000\"\n\n[host.\"http://10.96.4.20:5000\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\nadmin:s3cret",
            _ => "{\"insecure-registries\":[\"10.96.4.20:5000\"]}\n{\"auths\":{\"10.96.4.20:5000\":{\"auth\":\"YWRtaW46czNjcmV0\"}}}\n",
        };
        assert_eq!(plain, expected, "{charm}");

        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        write(
            &bag,
            &registry_bag("10.96.4.20:5443", "https://10.96.4.20:5443", None, Some(ca)),
        );
        model.run(0, &fake, charm, "docker-registry-relation-changed", "main");
    }
    let show = |path: &str| {
        model.run(
            0,
            &model.fake("containerd"),
            "containerd",
            "x",
            &format!("cat {path}"),
        )
    };
    assert_eq!(
        show("/etc/containerd/certs.d/10.96.4.20:5443/hosts.toml"),
        "server = \"https://10.96.4.20:5443\"\n\n[host.\"https://10.96.4.20:5443\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  ca = \"ca.crt\"\n"
    );
    assert!(show("/etc/containerd/certs.d/10.96.4.20:5443/ca.crt")
        .starts_with("-----BEGIN CERTIFICATE-----\nMIIB"));
    // The old plain registry was forgotten, credentials too.
    let gone = model.run(0, &model.fake("containerd"), "containerd", "x",
        "test ! -e /etc/containerd/certs.d/10.96.4.20:5000 && test ! -e /var/lib/containerd-sim/auth/10.96.4.20:5000 && echo gone");
    assert_eq!(gone.trim(), "gone");
    let daemon = show("/etc/docker/daemon.json");
    let daemon: serde_json::Value = serde_json::from_str(&daemon).unwrap();
    assert_eq!(daemon["insecure-registries"], serde_json::json!([]));
    assert!(show("/etc/docker/certs.d/10.96.4.20:5443/ca.crt")
        .starts_with("-----BEGIN CERTIFICATE-----"));
    let client: serde_json::Value = serde_json::from_str(&show("/etc/docker/config.json")).unwrap();
    assert_eq!(
        client["auths"],
        serde_json::json!({}),
        "no auth for the second registry"
    );
    assert!(
        !Path::new("/etc/containerd/certs.d/10.96.4.20:5443").exists(),
        "leaked to the host"
    );
}

/// A registry in machine 1; containerd's `pull` action in machine 0 pulls through hosts.toml.
#[test]
fn containerd_pull_action_pulls_from_a_registry_machine() {
    let model = TestModel::new("pul", [10, 96, 5], 2);
    let work = model.fake("work");
    let sh = |script: &str| {
        let out = Command::new("bash")
            .args(["-c", script])
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(
        "umoci init --layout layout && umoci new --image layout:hello \
        && umoci unpack --image layout:hello bundle && mkdir -p bundle/rootfs/app \
        && echo hi > bundle/rootfs/app/hello.txt && umoci repack --image layout:hello bundle",
    );
    write(
        &work.join("config.yml"),
        "version: 0.1\nstorage: {filesystem: {rootdirectory: /var/lib/docker-registry}}\nhttp: {addr: \"10.96.5.11:5000\"}\n",
    );
    let registry = format!(
        "setsid docker-registry serve {}/config.yml </dev/null >/var/log/reg.log 2>&1 &",
        work.display()
    );
    model.run(1, &work, "trivial", "x", &registry);
    eventually("registry", Duration::from_secs(10), || {
        model.curl("http://10.96.5.11:5000/v2/")
    });
    let mut push = Command::new("skopeo");
    push.args(["copy", "-q", "--dest-tls-verify=false", "oci:layout:hello"])
        .arg("docker://10.96.5.11:5000/test/hello:v1")
        .current_dir(&work);
    LinuxMachines
        .enter_model_network(&model.net.net, &mut push)
        .unwrap();
    let out = push.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let fake = model.fake("containerd");
    write(&fake.join("rel/docker-registry"), "docker-registry:2\n");
    write(&fake.join("units/2"), "docker-registry/0\n");
    write(
        &fake.join("bags/2/docker-registry/0.json"),
        &registry_bag("10.96.5.11:5000", "http://10.96.5.11:5000", None, None),
    );
    write(
        &fake.join("config/action-image"),
        "10.96.5.11:5000/test/hello:v1",
    );
    model.run(
        0,
        &fake,
        "containerd",
        "docker-registry-relation-changed",
        "main",
    );
    let started = Instant::now();
    let out = model.run(
        0,
        &fake,
        "containerd",
        "pull",
        "export JUJU_DISPATCH_PATH=actions/pull; main; cat $FAKE/log; \
         ctr --address /run/containerd-sim/containerd.sock images ls -q",
    );
    eprintln!("pull action: {:?}\n{out}", started.elapsed());
    assert_eq!(
        read(&fake.join("action")),
        "result=pulled 10.96.5.11:5000/test/hello:v1\n",
        "{out}"
    );
    assert!(
        out.contains("pulling 10.96.5.11:5000/test/hello:v1 with ctr"),
        "containerd should run in a machine: {out}"
    );
    assert!(out.ends_with("10.96.5.11:5000/test/hello:v1\n"), "{out}");
}
