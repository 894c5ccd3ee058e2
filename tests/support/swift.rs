//! The `swift` test charm (a one-replica OpenStack Swift all-in-one on its own jujusim
//! machine, tempauth v1 and s3api) as shared storage for the charm's units.
use serde_json::Value;

use super::jujusim::{testcharm, Model};

/// The Swift unit.
pub const SWIFT: &str = "swift/0";
/// tempauth's admin user (also the s3 access key).
pub const USER: &str = "test:tester";
/// Its password (also the s3 secret key).
pub const PASSWORD: &str = "testing";

/// Deploys the swift test charm and returns its address once it says it is ready.
pub fn deploy_swift(m: &Model) -> String {
    m.ok(&["deploy", &testcharm("swift")]);
    let addr = m.exec(SWIFT, "unit-get private-address").text().to_string();
    m.expect_status(
        SWIFT,
        "active",
        &format!("Swift ready: auth http://{addr}:8080/auth/v1.0 as {USER}, s3 location us-east-1"),
    );
    addr
}

/// `jujusim run swift/0 ACTION name=CONTAINER --format json`: the action's results.
pub fn swift_action(m: &Model, action: &str, container: &str) -> Value {
    let name = format!("name={container}");
    let mut v = m.json(&["run", SWIFT, action, &name, "--format", "json"]);
    v[SWIFT]["results"].take()
}

/// Config for the swift driver (tempauth v1) on `container`; the driver creates it.
pub fn swift_config(swift: &str, container: &str) -> Vec<String> {
    vec![
        format!("storage-swift-authurl=http://{swift}:8080/auth/v1.0"),
        format!("storage-swift-username={USER}"),
        format!("storage-swift-password={PASSWORD}"),
        format!("storage-swift-container={container}"),
    ]
}

/// Config for the s3 driver through s3api (plain http, v4 signing) on `bucket`, which
/// is created first (the s3 driver needs it to exist).
pub fn s3_config(m: &Model, swift: &str, bucket: &str) -> Vec<String> {
    let made = swift_action(m, "create-container", bucket);
    m.check(
        made["result"] == format!("container {bucket} ready").as_str(),
        &format!("create-container: {made}"),
        &m.run(&["status"]),
    );
    vec![
        "storage-s3-region=us-east-1".into(),
        format!("storage-s3-bucket={bucket}"),
        format!("storage-s3-accesskey={USER}"),
        format!("storage-s3-secretkey={PASSWORD}"),
        format!("storage-s3-regionendpoint=http://{swift}:8080"),
        "storage-s3-secure=false".into(),
    ]
}
