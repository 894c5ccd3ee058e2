//! Hook-tool and engine timings (bench prep; ignored by default, numbers vary with load):
//! `cargo test -p jujusim --test bench -- --ignored --nocapture`.
//! Reports wall and CPU time (user + sys of all processes, which is steadier on a busy
//! machine) per tool call and per hook, with `/bin/true` as the process-spawn baseline.
mod support;

use std::time::Instant;

use support::Model;

/// Config options like a real charm's (long descriptions make model.json realistic).
fn config_yaml() -> String {
    let mut s = String::from("options:\n  x:\n    type: int\n    default: 0\n    description: x\n");
    for i in 0..40 {
        s.push_str(&format!(
            "  opt-{i}:\n    type: string\n    default: \"value {i}\"\n    description: |\n      {}\n",
            "A long description of this option, as real charms have. ".repeat(4)
        ));
    }
    s
}

/// CPU seconds (user + sys) of this process's waited-for children so far
/// (/proc/self/stat cutime + cstime, in clock ticks).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // Fields 16 and 17 of stat(5); fields[0] is field 3.
    let ticks: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    ticks / clock_ticks()
}

fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

#[test]
#[ignore = "timing report; run with --ignored --nocapture"]
fn tool_and_hook_timings() {
    let m = Model::new();
    let charm = m.write_charm(
        "noop",
        "peers:\n  p:\n    interface: noop-p\n",
        Some(&config_yaml()),
        None,
        "#!/bin/sh\nexit 0\n",
    );
    m.ok(&[
        "deploy",
        charm.to_str().unwrap(),
        "-n",
        "3",
        "--machines",
        "host",
    ]);

    const N: u32 = 200;
    for tool in [
        "/bin/true",
        "is-leader --format=json",
        "config-get --format=json",
        "relation-get -r p:0 --format=json - noop/1",
        "network-get p --ingress-address",
        "relation-set -r p:0 k=v",
        "status-set active ok",
        "status-get --format=json",
        "juju-log -- hello",
    ] {
        let script = format!("for i in $(seq {N}); do {tool} >/dev/null; done");
        let (cpu, t) = (children_cpu(), Instant::now());
        m.exec("noop/0", &script);
        let (wall, cpu) = (t.elapsed().as_secs_f64(), children_cpu() - cpu);
        println!(
            "tool  wall {:5.2} ms  cpu {:5.2} ms  {tool}",
            wall * 1e3 / f64::from(N),
            cpu * 1e3 / f64::from(N)
        );
        assert!(
            wall / f64::from(N) < 0.05,
            "{tool} takes {:.1} ms per call",
            wall * 1e3 / f64::from(N)
        );
    }

    const CONFIGS: u32 = 20;
    let (cpu, t) = (children_cpu(), Instant::now());
    for i in 0..CONFIGS {
        m.ok(&["config", "noop", &format!("x={}", i + 1)]);
    }
    let hooks = f64::from(CONFIGS * 3);
    let (wall, cpu) = (t.elapsed().as_secs_f64(), children_cpu() - cpu);
    let size = std::fs::metadata(m.dir().join("model.json")).map_or(0, |md| md.len());
    println!(
        "hook  wall {:5.2} ms  cpu {:5.2} ms  per no-op config-changed (CLI run + settle + dispatch; model.json {size} bytes)",
        wall * 1e3 / hooks,
        cpu * 1e3 / hooks
    );
}
