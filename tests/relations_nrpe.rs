//! Wire contract of `nrpe-external-master`: exact check files, names, no timestamp churn.

use charm::relations::nrpe::{announce, servicegroups, CheckTls, NrpeCheck, NrpeRemote};
use charm::relations::{bag, changes, Databag};

#[test]
fn plain_check_command_and_nrpe_file_exact() {
    let check = NrpeCheck::registry(5000, &CheckTls::Off);
    assert_eq!(check.command_name(), "check_docker_registry");
    assert_eq!(
        check.nrpe_cfg_path(),
        "/etc/nagios/nrpe.d/check_docker_registry.cfg"
    );
    assert_eq!(
        check.nrpe_cfg("juju"),
        "# check docker_registry\n\
         # The following header was added automatically by juju\n\
         # Modifying it will affect nagios monitoring and alerting\n\
         # servicegroups: juju\n\
         command[check_docker_registry]=/usr/lib/nagios/plugins/check_http -I 127.0.0.1 -p 5000 -u /v2/ -e \"HTTP/1.0 200,HTTP/1.0 401,HTTP/1.1 200,HTTP/1.1 401\"\n"
    );
}

#[test]
fn tls_checks_use_ssl_and_client_certs() {
    let on = NrpeCheck::registry(5443, &CheckTls::On);
    assert!(on.command.ends_with(
        r#"-p 5443 -u /v2/ -e "HTTP/1.0 200,HTTP/1.0 401,HTTP/1.1 200,HTTP/1.1 401" -S"#
    ));
    let mutual = NrpeCheck::registry(
        5000,
        &CheckTls::Mutual {
            cert: "/etc/docker/registry/client.crt".into(),
            key: "/tmp/it's key".into(),
        },
    );
    assert!(
        mutual
            .command
            .ends_with(r#" -S -J /etc/docker/registry/client.crt -K '/tmp/it'\''s key'"#),
        "{}",
        mutual.command
    );
}

#[test]
fn export_file_exact() {
    let check = NrpeCheck::registry(5000, &CheckTls::Off);
    let remote = NrpeRemote::default();
    let host = remote.host_name("juju", "docker-registry/0");
    assert_eq!(host, "juju-docker-registry-0");
    assert_eq!(
        check.export_path(&host),
        "/var/lib/nagios/export/service__juju-docker-registry-0_check_docker_registry.cfg"
    );
    assert_eq!(
        check.export_cfg(&host, servicegroups("", "juju")),
        "#---------------------------------------------------\n\
         # This file is Juju managed\n\
         #---------------------------------------------------\n\
         define service {\n    \
             use                             active-service\n    \
             host_name                       juju-docker-registry-0\n    \
             service_description             juju-docker-registry-0[docker_registry] Verify docker-registry is responding\n    \
             check_command                   check_nrpe!check_docker_registry\n    \
             servicegroups                   juju\n\
         }\n"
    );
}

#[test]
fn remote_names_and_context() {
    let remote = NrpeRemote::parse(&bag([
        ("nagios_hostname", "prod-docker-registry-3"),
        ("nagios_host_context", "prod"),
        ("private-address", "10.0.0.1"),
    ]))
    .unwrap();
    assert_eq!(
        remote.host_name("juju", "docker-registry/3"),
        "prod-docker-registry-3"
    );
    assert_eq!(remote.context("juju"), "prod");
    assert_eq!(
        servicegroups("registries, infra", "prod"),
        "registries, infra"
    );
    assert_eq!(NrpeRemote::parse(&remote.to_databag()), Ok(remote));

    let ctx_only = NrpeRemote::parse(&bag([("nagios_host_context", "stage")])).unwrap();
    assert_eq!(
        ctx_only.host_name("juju", "docker-registry/1"),
        "stage-docker-registry-1"
    );
}

#[test]
fn remote_garbage_names_the_key() {
    for key in ["nagios_hostname", "nagios_host_context"] {
        for bad in ["has space", "../etc", "tab\t"] {
            let err = NrpeRemote::parse(&bag([(key, bad)])).unwrap_err();
            assert_eq!(err.key(), key, "{bad:?}");
        }
    }
}

#[test]
fn timestamp_only_moves_when_files_change() {
    let check = NrpeCheck::registry(5000, &CheckTls::Off);
    let files = [check.nrpe_cfg("juju"), check.export_cfg("h", "juju")];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();

    let first = announce(&Databag::new(), &files, "2026-01-01T00:00:00");
    assert_eq!(first["timestamp"], "2026-01-01T00:00:00");
    assert_eq!(first["checks-sha256"].len(), 64);

    // Same files, later hook: nothing to write.
    let again = announce(&first, &files, "2026-01-02T00:00:00");
    assert!(changes(&first, &again).is_empty());

    // TLS turned on: new content, new timestamp.
    let tls = NrpeCheck::registry(5000, &CheckTls::On);
    let tls_files = [tls.nrpe_cfg("juju"), tls.export_cfg("h", "juju")];
    let tls_files: Vec<&str> = tls_files.iter().map(String::as_str).collect();
    let bumped = announce(&first, &tls_files, "2026-01-03T00:00:00");
    assert_eq!(bumped["timestamp"], "2026-01-03T00:00:00");
    assert_ne!(bumped["checks-sha256"], first["checks-sha256"]);
}
