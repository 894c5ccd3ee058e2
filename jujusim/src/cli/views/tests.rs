//! The views against literal models: exact text out, laid out as Juju prints it.
use super::super::args::{OutFormat, ShowFilter};
use super::*;
use crate::fixture::{set_unit_bag, settle, two_apps};
use crate::model::{HookError, Model, OpenedPort, StatusInfo, Task};
use crate::ports::PortRange;
use crate::resolver::{Hook, HookKind};

/// 23 Jul 2024 10:00:00 UTC.
const NOW: u64 = 1_721_728_800;

fn at(status: &str, message: &str) -> StatusInfo {
    StatusInfo {
        status: status.into(),
        message: message.into(),
        since: NOW,
    }
}

/// The fixture settled, with every status stamped at NOW; tiny/0 active with two
/// ports, tiny/1 in error, web/0 running config-changed.
fn world() -> Model {
    let mut m = two_apps();
    settle(&mut m);
    for u in m.units.values_mut() {
        u.agent = at("idle", "");
        u.workload = at("unknown", "");
    }
    let port = |p: &str| OpenedPort {
        range: PortRange::parse(p).expect("valid port"),
        endpoints: None,
    };
    let t0 = m.units.get_mut("tiny/0").expect("tiny/0");
    t0.workload = at("active", "ready");
    t0.ports = [port("443"), port("80")].into();
    let t1 = m.units.get_mut("tiny/1").expect("tiny/1");
    t1.error = Some(HookError {
        hook: Hook::plain(HookKind::Start),
        message: "hook failed: \"start\"".into(),
        retry_at_ms: None,
    });
    let w0 = m.units.get_mut("web/0").expect("web/0");
    w0.workload = at("waiting", "waiting for tiny");
    w0.agent = at("executing", "running config-changed hook");
    m.applications
        .get_mut("tiny")
        .expect("tiny")
        .workload_version = "2.8.3".into();
    m
}

#[test]
fn status_table_lays_out_apps_units_machines_and_integrations() {
    let m = world();
    assert_eq!(
        status_table(&m, true, NOW),
        "\
Model    Controller  Cloud/Region         Version  SLA          Timestamp
fixture  jujusim     localhost/localhost  3.6.1    unsupported  10:00:00Z

App   Version  Status   Scale  Charm  Channel  Rev  Exposed  Message
tiny  2.8.3    error    2      tiny            1    no       hook failed: \"start\"
web            waiting  1      web             1    no       waiting for tiny

Unit     Workload  Agent      Machine  Public address  Ports           Message
tiny/0*  active    idle       0        10.70.1.10      80/tcp,443/tcp  ready
tiny/1   error     idle       1        10.70.1.11                      hook failed: \"start\"
web/0*   waiting   executing  2        10.70.1.12                      (config-changed) waiting for tiny

Machine  State    Address     Inst id            Base          AZ  Message
0        started  10.70.1.10  jujusim-fx0001-m0  ubuntu@24.04      running
1        started  10.70.1.11  jujusim-fx0001-m1  ubuntu@24.04      running
2        started  10.70.1.12  jujusim-fx0001-m2  ubuntu@24.04      running

Integration provider  Requirer      Interface   Type     Message
tiny:cluster          tiny:cluster  tiny-peers  peer
tiny:website          web:site      http        regular
"
    );
}

#[test]
fn status_table_of_an_empty_model_is_the_model_line() {
    let m = crate::fixture::empty();
    assert_eq!(
        status_table(&m, true, NOW),
        "\
Model    Controller  Cloud/Region         Version  SLA          Timestamp
fixture  jujusim     localhost/localhost  3.6.1    unsupported  10:00:00Z
"
    );
}

#[test]
fn status_yaml_has_juju_s_keys_in_struct_order() {
    let mut m = world();
    m.applications.remove("tiny");
    m.units.retain(|u, _| u.starts_with("web/"));
    m.machines.retain(|id, _| *id == 2);
    m.relations.clear();
    let text = render(&status_view(&m, NOW), OutFormat::Yaml).expect("renders");
    assert_eq!(
        text,
        "\
model:
  name: fixture
  type: iaas
  controller: jujusim
  cloud: localhost
  region: localhost
  version: 3.6.1
  model-status:
    current: available
  sla: unsupported
machines:
  \"2\":
    juju-status:
      current: started
      since: 23 Jul 2024 10:00:00Z
      version: 3.6.1
    dns-name: 10.70.1.12
    ip-addresses:
    - 10.70.1.12
    instance-id: jujusim-fx0001-m2
    machine-status:
      current: running
      message: running
    base:
      name: ubuntu
      channel: \"24.04\"
applications:
  web:
    charm: web
    base:
      name: ubuntu
      channel: \"24.04\"
    charm-origin: local
    charm-name: web
    charm-rev: 1
    exposed: false
    application-status:
      current: waiting
      message: waiting for tiny
      since: 23 Jul 2024 10:00:00Z
    units:
      web/0:
        workload-status:
          current: waiting
          message: waiting for tiny
          since: 23 Jul 2024 10:00:00Z
        juju-status:
          current: executing
          message: running config-changed hook
          since: 23 Jul 2024 10:00:00Z
          version: 3.6.1
        leader: true
        machine: \"2\"
        public-address: 10.70.1.12
"
    );
    let json = render(&status_view(&m, NOW), OutFormat::Json).expect("renders");
    assert!(
        json.ends_with("}\n") && !json.trim_end().contains('\n'),
        "{json}"
    );
}

#[test]
fn show_unit_shows_the_related_app_bag_units_and_own_peer_bag() {
    let mut m = world();
    set_unit_bag(&mut m, 0, "tiny/1", &[("k", "v")]);
    let all = ShowFilter::default();
    let text = render(
        &show_unit_view(&m, "tiny/0", &all).expect("unit exists"),
        OutFormat::Yaml,
    )
    .expect("renders");
    assert_eq!(
        text,
        "\
workload-version: 2.8.3
machine: \"0\"
opened-ports:
- 80/tcp
- 443/tcp
public-address: 10.70.1.10
charm: local:tiny-1
leader: true
life: alive
relation-info:
- relation-id: 0
  endpoint: cluster
  related-endpoint: cluster
  application-data: {}
  local-unit:
    in-scope: true
    data:
      egress-subnets: 10.70.1.10/32
      ingress-address: 10.70.1.10
      private-address: 10.70.1.10
  related-units:
    tiny/1:
      in-scope: true
      data:
        egress-subnets: 10.70.1.11/32
        ingress-address: 10.70.1.11
        k: v
        private-address: 10.70.1.11
- relation-id: 1
  endpoint: website
  related-endpoint: site
  application-data: {}
  related-units:
    web/0:
      in-scope: true
      data:
        egress-subnets: 10.70.1.12/32
        ingress-address: 10.70.1.12
        private-address: 10.70.1.12
"
    );
    assert!(show_unit_view(&m, "tiny/9", &all).is_none());
}

#[test]
fn show_unit_filters_narrow_the_relations() {
    let mut m = world();
    // A departed unit: out of scope, its data no longer shown.
    m.relations
        .get_mut(&1)
        .expect("rel 1")
        .scope
        .remove("web/0");
    let filtered = |f: ShowFilter| {
        let v = show_unit_view(&m, "tiny/0", &f).expect("unit exists");
        render(&v["relation-info"], OutFormat::Yaml).expect("renders")
    };
    assert_eq!(
        filtered(ShowFilter {
            endpoint: Some("website".into()),
            ..ShowFilter::default()
        }),
        "\
- relation-id: 1
  endpoint: website
  related-endpoint: site
  application-data: {}
  related-units:
    web/0:
      in-scope: false
      data: {}
"
    );
    assert_eq!(
        filtered(ShowFilter {
            related_unit: Some("tiny/1".into()),
            ..ShowFilter::default()
        }),
        "\
- relation-id: 0
  endpoint: cluster
  related-endpoint: cluster
  application-data: {}
  related-units:
    tiny/1:
      in-scope: true
      data:
        egress-subnets: 10.70.1.11/32
        ingress-address: 10.70.1.11
        private-address: 10.70.1.11
"
    );
    let apps_only = filtered(ShowFilter {
        app_only: true,
        ..ShowFilter::default()
    });
    assert!(
        !apps_only.contains("related-units") && !apps_only.contains("local-unit"),
        "{apps_only}"
    );
}

fn task(status: &str, message: &str, results: serde_json::Value) -> Task {
    Task {
        id: 2,
        operation: 1,
        unit: "tiny/0".into(),
        action: "hello".into(),
        params: serde_json::json!({}),
        status: status.into(),
        message: message.into(),
        results,
        log: vec![format!("{NOW} working"), "2024-07-23T10:00:00Z old".into()],
        timing: [NOW, NOW, NOW + 2],
    }
}

#[test]
fn plain_run_output_is_results_then_captured_output() {
    let done = task(
        "completed",
        "",
        serde_json::json!({"greeting": "hi", "Nested": {"Deep": "1"}, "return-code": 0,
            "stdout": "printed\n", "stderr": "warn\n"}),
    );
    assert_eq!(
        plain_task(&done).expect("renders"),
        "greeting: hi\nnested:\n  Deep: \"1\"\n\nprinted\nwarn\n"
    );
    let failed = task(
        "failed",
        "no luck",
        serde_json::json!({"partial": "yes", "return-code": 0}),
    );
    assert_eq!(
        plain_task(&failed).expect("renders"),
        "Action id 2 failed: no luck\npartial: \"yes\"\n\n"
    );
    let bare = task("completed", "", serde_json::json!({}));
    assert_eq!(plain_task(&bare).expect("renders"), "Task 2 completed\n\n");
    assert_eq!(
        task_log_lines(&done),
        ["10:00:00 working", "2024-07-23T10:00:00Z old"]
    );
}

#[test]
fn show_task_yaml_uses_go_time_strings() {
    let t = task("completed", "", serde_json::json!({"return-code": 0}));
    assert_eq!(
        render(&task_view(&t), OutFormat::Yaml).expect("renders"),
        "\
tiny/0:
  id: \"2\"
  log:
  - 2024-07-23 10:00:00 +0000 UTC working
  - 2024-07-23T10:00:00Z old
  results:
    return-code: 0
  status: completed
  timing:
    completed: 2024-07-23 10:00:02 +0000 UTC
    enqueued: 2024-07-23 10:00:00 +0000 UTC
    started: 2024-07-23 10:00:00 +0000 UTC
  unit: tiny/0
"
    );
}

#[test]
fn config_view_gives_source_type_and_value() {
    let mut m = world();
    let a = m.applications.get_mut("tiny").expect("tiny");
    a.config.insert("x".into(), 5.into());
    let mut described = a.charm.clone();
    if let Some(o) = described.options.get_mut("x") {
        o.description = "how many".into();
    }
    assert_eq!(
        render(&config_view(a, Some(&described)), OutFormat::Yaml).expect("renders"),
        "\
application: tiny
application-config:
  trust:
    default: false
    description: Does this application have access to trusted credentials
    source: default
    type: bool
    value: false
charm: tiny
settings:
  x:
    default: 0
    description: how many
    source: user
    type: int
    value: 5
"
    );
    a.config.clear();
    let text = render(&config_view(a, None), OutFormat::Yaml).expect("renders");
    assert!(
        text.ends_with("  x:\n    default: 0\n    source: default\n    type: int\n    value: 0\n"),
        "{text}"
    );
}
