//! Property tests: the reference parser and the manifest decoder never panic, and
//! every error names the input it rejects.

use charm::registry_client::{Manifest, Reference};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_string_parses_or_names_itself(s in "\\PC{0,80}") {
        match Reference::parse(&s) {
            Ok(r) => {
                let again = Reference::parse(&r.to_string()).expect("a printed reference reparses");
                prop_assert_eq!(again.to_string(), r.to_string());
            }
            Err(e) => prop_assert!(e.to_string().contains(&format!("{s:?}")), "{e}"),
        }
    }

    #[test]
    fn reference_shaped_strings(
        host in proptest::option::of("[a-zA-Z0-9.-]{1,12}(:[0-9]{1,6})?|\\[[0-9a-f:]{2,10}\\](:[0-9]{1,5})?"),
        path in "[a-z0-9._/-]{1,30}",
        tag in proptest::option::of("[A-Za-z0-9_.-]{1,10}"),
        digest in proptest::option::of("sha256:[0-9a-f]{60,66}"),
    ) {
        let mut s = String::new();
        if let Some(h) = &host { s.push_str(h); s.push('/'); }
        s.push_str(&path);
        if let Some(t) = &tag { s.push(':'); s.push_str(t); }
        if let Some(d) = &digest { s.push('@'); s.push_str(d); }
        match Reference::parse(&s) {
            Ok(r) => {
                prop_assert!(!r.repository().is_empty());
                prop_assert_eq!(Reference::parse(&r.to_string()).unwrap().to_string(), r.to_string());
            }
            Err(e) => prop_assert!(e.to_string().contains(&format!("{s:?}")), "{e}"),
        }
    }

    #[test]
    fn any_bytes_decode_or_name_the_manifest(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Err(e) = Manifest::parse("reg.test/x:1", None, &bytes) {
            prop_assert!(e.to_string().contains("reg.test/x:1"));
        }
    }

    #[test]
    fn manifest_shaped_json_decodes_or_names_the_manifest(
        schema in prop_oneof![Just("2"), Just("1"), Just("\"2\""), Just("null")],
        media in prop_oneof![
            Just("application/vnd.oci.image.manifest.v1+json"),
            Just("application/vnd.oci.image.index.v1+json"),
            Just("application/vnd.docker.distribution.manifest.v2+json"),
            Just("text/plain"),
        ],
        digest in "sha256:[0-9a-f]{63,65}|[a-z]{0,5}",
        size in prop_oneof![Just("1"), Just("-1"), Just("\"x\""), Just("18446744073709551616")],
        field in prop_oneof![Just("layers"), Just("manifests"), Just("config"), Just("x")],
    ) {
        let d = format!(r#"{{"mediaType":"x","digest":"{digest}","size":{size}}}"#);
        let value = if field == "config" { d.clone() } else { format!("[{d}]") };
        let body = format!(r#"{{"schemaVersion":{schema},"mediaType":"{media}","config":{d},"{field}":{value}}}"#);
        if let Err(e) = Manifest::parse("reg.test/x@sha256:1", None, body.as_bytes()) {
            prop_assert!(e.to_string().contains("reg.test/x@sha256:1"), "{e}");
        }
    }
}
