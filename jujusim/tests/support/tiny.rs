//! `tiny`, the inline charm of the engine and hook-tool tests (a peer relation
//! `cluster`, a `website` it provides, three options), and hook-tool results as Juju
//! gives them: (exit code, stdout, stderr).
use super::Model;

/// tiny's metadata (after `name:`).
pub const TINY_META: &str =
    "peers:\n  cluster:\n    interface: tiny-peers\nprovides:\n  website:\n    interface: http\n";

/// tiny's config.yaml: `port` (int, 80), `name` (string, unset), `debug` (boolean, false).
pub const TINY_CONFIG: &str = "options:\n  port:\n    type: int\n    default: 80\n    description: port\n  name:\n    type: string\n    description: a name\n  debug:\n    type: boolean\n    default: false\n    description: d\n";

/// A host-machines model with tiny/0 (leader) and tiny/1 settled, events cleared.
pub fn two_tiny_units() -> Model {
    let sim = Model::host_machines();
    let c = sim.event_charm("tiny", TINY_META, Some(TINY_CONFIG), None, "");
    sim.deploy(&c, &["-n", "2"]);
    sim.take_events();
    sim
}

/// What a hook tool run gave: exit code, stdout, stderr.
pub type ToolResult = (Option<i32>, String, String);

/// Run hook tool `argv` in `unit`'s context (`jujusim exec`).
pub fn tool(sim: &Model, unit: &str, argv: &[&str]) -> ToolResult {
    let o = sim.exec_argv(unit, argv);
    (o.code, o.stdout, o.stderr)
}

/// Exit 0 with `out` on stdout.
pub fn ok(out: &str) -> ToolResult {
    (Some(0), out.to_string(), String::new())
}

/// Exit 2 with `ERROR msg` (a usage error).
pub fn usage(msg: &str) -> ToolResult {
    (Some(2), String::new(), format!("ERROR {msg}\n"))
}

/// Exit 1 with `ERROR msg`.
pub fn fail(msg: &str) -> ToolResult {
    (Some(1), String::new(), format!("ERROR {msg}\n"))
}
