//! The `swift` test charm: a real OpenStack Swift all-in-one (tempauth, s3api) on its own
//! jujusim machine, the shared store of the end-to-end tests.

use super::jujusim::{testcharm, Model};
use serde_json::Value;

/// The swift unit.
pub const SWIFT: &str = "swift/0";
/// Its tempauth user (also the s3 access key).
pub const USER: &str = "test:tester";
/// Its tempauth password (also the s3 secret key).
pub const PASSWORD: &str = "testing";

/// Deploys the swift test charm and returns its address once it says it is ready.
pub fn deploy(m: &Model) -> String {
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
pub fn action(m: &Model, action: &str, container: &str) -> Value {
    let name = format!("name={container}");
    let mut v = m.json(&["run", SWIFT, action, &name, "--format", "json"]);
    v[SWIFT]["results"].take()
}

/// The charm's options for the swift driver (tempauth v1) on `container`; the driver
/// creates it.
pub fn swift_config(addr: &str, container: &str) -> Vec<String> {
    vec![
        format!("storage-swift-authurl=http://{addr}:8080/auth/v1.0"),
        format!("storage-swift-username={USER}"),
        format!("storage-swift-password={PASSWORD}"),
        format!("storage-swift-container={container}"),
    ]
}

/// Creates `bucket` (a container) through the swift charm's action, failing the test
/// unless it says it is ready.
pub fn create_bucket(m: &Model, bucket: &str) {
    let made = action(m, "create-container", bucket);
    m.check(
        made["result"] == format!("container {bucket} ready").as_str(),
        &format!("create-container: {made}"),
        &m.run(&["status"]),
    );
}

/// The charm's options for the s3 driver on this Swift's s3api (plain http, v4 signing).
pub fn s3_config(addr: &str, bucket: &str) -> Vec<String> {
    vec![
        "storage-s3-region=us-east-1".into(),
        format!("storage-s3-bucket={bucket}"),
        format!("storage-s3-accesskey={USER}"),
        format!("storage-s3-secretkey={PASSWORD}"),
        format!("storage-s3-regionendpoint=http://{addr}:8080"),
        "storage-s3-secure=false".into(),
    ]
}
