//! `tiny`, the inline charm of the engine and hook-tool tests (a peer relation
//! `cluster`, a `website` it provides, three options), and hook-tool results as Juju
//! gives them: (exit code, stdout, stderr).
use super::Model;

/// tiny's metadata (after `name:`).
pub const TINY_META: &str =
    "peers:\n  cluster:\n    interface: tiny-peers\nprovides:\n  website:\n    interface: http\n";

/// tiny's config.yaml: `port` (int, 80), `name` (string, unset), `debug` (boolean, false).
pub const TINY_CONFIG: &str = "options:\n  port:\n    type: int\n    default: 80\n    description: port\n  name:\n    type: string\n    description: a name\n  debug:\n    type: boolean\n    default: false\n    description: d\n";

/// `web`'s metadata: it requires what tiny's `website` provides.
pub const WEB_META: &str = "requires:\n  site:\n    interface: http\n";

/// Deploy `tiny` (`-n units`) and `web` as event charms on `sim` and integrate them.
pub fn tiny_and_web(sim: &Model, units: &str) {
    let tiny = sim.event_charm("tiny", TINY_META, Some(TINY_CONFIG), None, "");
    let web = sim.event_charm("web", WEB_META, None, None, "");
    sim.deploy(&tiny, &["-n", units]);
    sim.deploy(&web, &[]);
    sim.ok(&["integrate", "tiny", "web"]);
}

/// A host-machines model with tiny/0 (leader) and tiny/1 settled, events cleared
/// (jujusim's fixed order, so tiny/0 leads).
pub fn two_tiny_units() -> Model {
    let sim = Model::host_machines().ordered();
    let c = sim.event_charm("tiny", TINY_META, Some(TINY_CONFIG), None, "");
    sim.deploy(&c, &["-n", "2"]);
    sim.take_events();
    sim
}

/// What a hook tool run gave: exit code, stdout, stderr.
pub type ToolResult = (Option<i32>, String, String);

/// Run hook tool `argv` in `unit`'s context (`jujusim exec`); stderr is the tool's
/// (without the seed line of the hooks the exec's commit may set off).
pub fn tool(sim: &Model, unit: &str, argv: &[&str]) -> ToolResult {
    let o = sim.exec_argv(unit, argv);
    (o.code, o.stdout.clone(), o.errors())
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
