//! `storage:` in metadata.yaml (docs/juju.md#storage): each store's kind, location and
//! how many instances a unit has.
use super::CharmError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One store a charm declares.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StorageMeta {
    /// `filesystem` or `block`.
    pub kind: String,
    /// `location:` (filesystem stores only).
    pub location: Option<String>,
    /// Instances a new unit gets (the low end of `multiple.range`, else 1).
    pub count_min: u32,
    /// The most instances a unit may have (None: no limit).
    pub count_max: Option<u32>,
}

/// Parse the `storage:` map of `metadata.yaml` at `path`.
pub(super) fn load_storage(
    meta: &serde_yaml::Value,
    path: &Path,
) -> Result<BTreeMap<String, StorageMeta>, CharmError> {
    let bad = |message: String| CharmError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut out = BTreeMap::new();
    let Some(map) = meta.get("storage").and_then(|v| v.as_mapping()) else {
        return Ok(out);
    };
    for (name, spec) in map {
        let name = name
            .as_str()
            .ok_or_else(|| bad("storage: names must be strings".into()))?;
        let kind = spec
            .get("type")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad(format!("storage.{name}: missing `type`")))?;
        if kind != "filesystem" && kind != "block" {
            return Err(bad(format!(
                "storage.{name}: type {kind:?} is not one of filesystem, block"
            )));
        }
        let location = spec
            .get("location")
            .and_then(|v| v.as_str())
            .map(String::from);
        let (count_min, count_max) =
            match spec
                .get("multiple")
                .and_then(|m| m.get("range"))
                .map(|r| match r {
                    serde_yaml::Value::Number(n) => n.to_string(),
                    other => other.as_str().unwrap_or_default().to_string(),
                }) {
                None => (1, Some(1)),
                Some(range) => parse_range(&range)
                    .ok_or_else(|| bad(format!("storage.{name}: invalid range {range:?}")))?,
            };
        out.insert(
            name.to_string(),
            StorageMeta {
                kind: kind.to_string(),
                location,
                count_min,
                count_max,
            },
        );
    }
    Ok(out)
}

/// `N`, `N-M` or `N-` (no upper limit).
fn parse_range(r: &str) -> Option<(u32, Option<u32>)> {
    match r.split_once('-') {
        None => {
            let n = r.trim().parse().ok()?;
            Some((n, Some(n)))
        }
        Some((lo, "")) => Some((lo.trim().parse().ok()?, None)),
        Some((lo, hi)) => {
            let (lo, hi): (u32, u32) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
            (lo <= hi).then_some((lo, Some(hi)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("2"), Some((2, Some(2))));
        assert_eq!(parse_range("0-3"), Some((0, Some(3))));
        assert_eq!(parse_range("1-"), Some((1, None)));
        assert_eq!(parse_range("3-1"), None);
    }
}
