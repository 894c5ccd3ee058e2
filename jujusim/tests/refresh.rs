//! `refresh` replaces only the charm's own files in each unit's charm directory; what
//! the charm wrote there itself (ops's `.unit-state.db`, StoredState) survives, as on
//! Juju (docs/juju.md#refresh).
mod support;
use support::Model;

#[test]
fn refresh_keeps_files_the_charm_wrote_and_replaces_its_own() {
    let sim = Model::host_machines();
    let body = r#"if [ "$H" = hooks/install ]; then echo kept > .unit-state.db; mkdir -p data; echo mine > data/state; fi"#;
    let c = sim.event_charm("keeper", "", None, None, body);
    std::fs::write(c.join("old-only"), "rev 1\n").unwrap();
    std::fs::create_dir_all(c.join("data")).unwrap();
    std::fs::write(c.join("data/shipped"), "rev 1\n").unwrap();
    sim.deploy(&c, &[]);
    let unit_charm = sim.dir().join("units/unit-keeper-0/charm");
    assert!(unit_charm.join(".unit-state.db").exists());

    std::fs::remove_file(c.join("old-only")).unwrap();
    std::fs::write(c.join("data/shipped"), "rev 2\n").unwrap();
    std::fs::write(c.join("new-file"), "rev 2\n").unwrap();
    sim.ok(&["refresh", "keeper", "--path", c.to_str().unwrap()]);

    let read = |p: &str| std::fs::read_to_string(unit_charm.join(p)).ok();
    assert_eq!(read(".unit-state.db").as_deref(), Some("kept\n"));
    assert_eq!(read("data/state").as_deref(), Some("mine\n"));
    assert_eq!(read("data/shipped").as_deref(), Some("rev 2\n"));
    assert_eq!(read("new-file").as_deref(), Some("rev 2\n"));
    assert_eq!(
        read("old-only"),
        None,
        "a file only the old revision shipped stays"
    );
}
