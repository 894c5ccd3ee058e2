//! The README's jujusim walkthrough, end to end on real Linux machines (needs root, as on CI):
//! deploy `trivial` with 2 units, each with its own address and the same port; integrate
//! with a second application; relation data flows both ways; a failing hook (automatic
//! retries off) leaves its data uncommitted and the unit in error until `resolve`;
//! `destroy` leaves nothing.
mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use support::{related_data, relation_info, testcharm, Model};

#[test]
fn done_when_two_units_integrate_fail_resolve_destroy() {
    let m = Model::new().with_env("JUJUSIM_HOOK_TIMEOUT", "60");
    two_units_serve_the_same_port_at_their_own_addresses(&m);
    let rel = data_flows_both_ways(&m);
    a_failed_hook_commits_nothing_and_blocks_the_unit(&m, rel);
    resolve_retry_reruns_the_hook(&m);
    destroy_leaves_no_process_namespace_or_dir(&m);
}

/// Deploy 2 units: each answers network-get with its own address, both serve :5000.
fn two_units_serve_the_same_port_at_their_own_addresses(m: &Model) {
    m.ok(&["deploy", &testcharm("trivial"), "-n", "2"]);
    let addr0 = m.exec("trivial/0", "network-get web --ingress-address");
    let addr1 = m.exec("trivial/1", "network-get web --ingress-address");
    m.check(
        addr0.text() != addr1.text() && !addr0.text().is_empty(),
        &format!("units share an address: {:?}", addr0.text()),
        &addr1,
    );
    for (unit, addr) in [("trivial/0", &addr0), ("trivial/1", &addr1)] {
        let st = m.unit_status(unit);
        let out = m.run(&["status", "--format", "json"]);
        m.check(
            st["public-address"] == addr.text() && st["open-ports"] == json!(["5000/tcp"]),
            &format!("{unit}: status does not show {}:5000/tcp", addr.text()),
            &out,
        );
        // Each server answers with its own unit name (poll: it starts in the background).
        let url = format!("http://{}:5000/", addr.text());
        let body = m.ok_within(
            &format!("{unit} serving on {url}"),
            secs(10),
            &["netexec", "--", "curl", "-sS", "--max-time", "2", &url],
        );
        m.check(body.text() == unit, &format!("{url} is not {unit}"), &body);
    }
}

/// Integrate with a second application of the same charm: data flows both ways, and the
/// charm's hooks read it. Returns the relation's id.
fn data_flows_both_ways(m: &Model) -> u64 {
    m.ok(&["deploy", &testcharm("trivial"), "friend"]);
    m.ok(&["integrate", "trivial:web", "friend:peerside"]);
    let show = m.run(&["show-unit", "trivial/0", "--format", "json"]);
    let trivial0 = m.show_unit("trivial/0");
    m.check(
        related_data(&trivial0, "web", "friend/0")["hello"] == "friend/0",
        "trivial/0 does not see friend/0's hello",
        &show,
    );
    let show_friend = m.run(&["show-unit", "friend/0", "--format", "json"]);
    let friend0 = m.show_unit("friend/0");
    for unit in ["trivial/0", "trivial/1"] {
        m.check(
            related_data(&friend0, "peerside", unit)["hello"] == unit,
            &format!("friend/0 does not see {unit}'s hello"),
            &show_friend,
        );
    }
    // ...and the charm itself read them in its relation hooks (state written by hooks).
    let whoami = m.json(&["run", "friend/0", "whoami", "--format", "json"]);
    let seen: Value = serde_json::from_str(
        whoami["friend/0"]["results"]["seen"]
            .as_str()
            .unwrap_or("null"),
    )
    .unwrap_or(Value::Null);
    m.check(
        seen["seen.trivial/0"] == "trivial/0" && seen["seen.trivial/1"] == "trivial/1",
        &format!("friend/0's hooks did not read the remote data: {seen}"),
        &m.run(&["show-task", "2"]),
    );
    let rel = relation_info(&trivial0, "web").map(|r| r["relation-id"].clone());
    rel.and_then(|r| r.as_u64())
        .unwrap_or_else(|| m.fail("no web relation on trivial/0", &show))
}

/// friend/0's relation-changed writes, then exits 1: the unit is in error and what it
/// wrote is not committed (with the agent's automatic retries off, it stays so).
fn a_failed_hook_commits_nothing_and_blocks_the_unit(m: &Model, rel: u64) {
    m.ok(&["config", "friend", "fail-on=peerside-relation-changed"]);
    m.ok(&["model-config", "automatically-retry-hooks=false"]);
    // A committed change on trivial/0 makes friend/0 run peerside-relation-changed.
    m.exec("trivial/0", &format!("relation-set -r {rel} note=ping"));
    let status = m.run(&["status", "--format", "json"]);
    let st = m.unit_status("friend/0");
    m.check(
        st["workload-status"]["current"] == "error"
            && st["workload-status"]["message"] == "hook failed: \"peerside-relation-changed\"",
        "friend/0 is not in error after its hook failed",
        &status,
    );
    let show = m.run(&["show-unit", "trivial/0", "--format", "json"]);
    let data = related_data(&m.show_unit("trivial/0"), "web", "friend/0");
    m.check(
        data["hello"] == "friend/0" && data.get("uncommitted").is_none(),
        &format!("the failed hook's relation-set leaked: {data}"),
        &show,
    );
    m.check(
        related_data(&m.show_unit("friend/0"), "peerside", "trivial/0")["note"] == "ping",
        "friend/0 does not see the note that triggered the hook",
        &m.run(&["show-unit", "friend/0", "--format", "json"]),
    );
}

/// Fix the config, `resolve --retry` (the spelling; the default): the hook
/// reruns with the new config and succeeds.
fn resolve_retry_reruns_the_hook(m: &Model) {
    m.ok(&["config", "friend", "fail-on="]);
    let runs = |log: &str| {
        log.matches("ran \"peerside-relation-changed\" hook")
            .count()
    };
    let before = runs(&m.debug_log());
    let resolved = m.ok(&["resolve", "friend/0", "--retry"]);
    let st = m.unit_status("friend/0");
    m.check(
        st["workload-status"]["current"] == "active",
        &format!("friend/0 still not active after resolve: {st}"),
        &resolved,
    );
    m.check(
        runs(&m.debug_log()) > before,
        "resolve did not rerun peerside-relation-changed",
        &resolved,
    );
    let data = related_data(&m.show_unit("trivial/0"), "web", "friend/0");
    m.check(
        data.get("uncommitted").is_none(),
        &format!("the rerun committed the earlier failed write: {data}"),
        &resolved,
    );
}

/// Destroy: no process left in the model's namespaces, no netns, no model dir.
fn destroy_leaves_no_process_namespace_or_dir(m: &Model) {
    let tag = model_tag(&m.status_json());
    let namespaces = namespaces_of(&tag);
    let mut servers = Vec::new();
    for unit in ["trivial/0", "trivial/1", "friend/0"] {
        let pid = m.exec(unit, "cat /run/trivial.pid");
        servers.push(pid.text().parse::<i32>().unwrap_or_else(|_| {
            m.fail(&format!("{unit}: no server pid"), &pid);
        }));
    }
    let mounts: BTreeSet<u64> = servers
        .iter()
        .filter_map(|p| ns_inode(&format!("/proc/{p}/ns/mnt")))
        .collect();
    m.check(
        namespaces.len() == 4 && mounts.len() == 3,
        &format!("expected a bridge + 3 machine netns and 3 mount namespaces, got {namespaces:?} and {mounts:?}"),
        &m.run(&["status"]),
    );
    // The processes in the model's namespaces now, by pid and start time: after destroy
    // a freed namespace's inode may already belong to a new namespace of another model on
    // this machine, so survivors are looked for among these, not by inode again.
    let before = processes_in(&namespaces.values().copied().collect(), &mounts);
    let destroyed = m.destroy();
    let alive = || -> Vec<String> {
        before
            .iter()
            .filter(|(pid, start, _)| start_time(*pid).as_ref() == Some(start))
            .map(|(_, _, cmd)| cmd.clone())
            .collect()
    };
    // A killed process leaves its namespaces (destroy's test for "gone") a moment before
    // it is a zombie: give the last ones that moment.
    let left = support::poll(secs(2), || match alive() {
        v if v.is_empty() => Ok(v),
        v => Err(v),
    })
    .unwrap_or_else(|v| v);
    m.check(
        left.is_empty(),
        &format!("processes survived destroy: {left:?}"),
        &destroyed,
    );
    let netns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    m.check(
        !netns.contains(&format!("jujusim-{tag}")),
        &format!("namespaces survived destroy:\n{netns}"),
        &destroyed,
    );
    m.check(
        !m.dir().exists(),
        "the model dir survived destroy",
        &destroyed,
    );
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The model tag from a machine's instance id `jujusim-<tag>-m<N>`.
fn model_tag(status: &Value) -> String {
    let id = status["machines"]["0"]["instance-id"]
        .as_str()
        .unwrap_or_default();
    id.strip_prefix("jujusim-")
        .and_then(|rest| rest.rsplit_once("-m"))
        .map(|(tag, _)| tag.to_string())
        .unwrap_or_else(|| panic!("unexpected instance id {id:?} in {status}"))
}

/// `/run/netns/jujusim-<tag>*` -> namespace inode.
fn namespaces_of(tag: &str) -> std::collections::BTreeMap<String, u64> {
    let prefix = format!("jujusim-{tag}");
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let path: PathBuf = e.path();
                    (name == prefix || name.starts_with(&format!("{prefix}-")))
                        .then(|| ns_inode(&path.display().to_string()).map(|i| (name, i)))
                        .flatten()
                })
                .collect()
        })
        .unwrap_or_default()
}

fn ns_inode(path: &str) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// A live process's start time (field 22 of /proc/PID/stat); None when it is gone or
/// a zombie (killed, not reaped yet).
fn start_time(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it do not.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18).map(String::from)
}

/// Live processes whose network namespace is in `nets` or mount namespace in `mounts`:
/// (pid, start time, `pid: command line`).
fn processes_in(nets: &BTreeSet<u64>, mounts: &BTreeSet<u64>) -> Vec<(i32, String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let net = ns_inode(&format!("/proc/{pid}/ns/net"));
            let mnt = ns_inode(&format!("/proc/{pid}/ns/mnt"));
            net.is_some_and(|i| nets.contains(&i)) || mnt.is_some_and(|i| mounts.contains(&i))
        })
        .filter_map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let line = format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmd).replace('\0', " ")
            );
            Some((pid, start_time(pid)?, line))
        })
        .collect()
}
