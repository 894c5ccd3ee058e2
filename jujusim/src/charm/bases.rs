//! The bases a charm runs on and the one a machine gets, as `juju deploy` chooses it:
//! `manifest.yaml`'s `bases` (a legacy charm's `series` in metadata.yaml otherwise),
//! then `--base`, Juju's default LTS, or the first base Juju supports
//! (docs/juju.md#packaging).
use super::{read_yaml, CharmError};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// An OS and channel, printed as Juju prints it: `ubuntu@24.04`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Base {
    /// OS name (`ubuntu`).
    pub name: String,
    /// Channel (`24.04`; a risk suffix like `/stable` is dropped).
    pub channel: String,
}

impl Default for Base {
    /// What models made before bases were recorded ran on.
    fn default() -> Self {
        Base::ubuntu("24.04")
    }
}

impl std::fmt::Display for Base {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.channel)
    }
}

/// Why no base could be chosen (Juju's words).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BaseError {
    /// Neither manifest bases nor metadata series.
    #[error("charm does not define any bases, not valid")]
    NoBases,
    /// The charm lists only bases Juju cannot run.
    #[error("the charm defined bases \"{0}\" not supported")]
    NoneSupported(String),
    /// `--base` that Juju does not run at all.
    #[error("base: {0} not supported")]
    NotJuju(String),
    /// `--base` that the charm does not list.
    #[error("base \"{requested}\" is not supported, supported bases are: {supported}")]
    NotCharm {
        /// As asked.
        requested: String,
        /// The charm's bases Juju runs.
        supported: String,
    },
    /// `--base` that is not `OS@CHANNEL`.
    #[error("invalid base {0:?}: expected OS@CHANNEL, e.g. ubuntu@24.04")]
    Syntax(String),
}

/// The Ubuntu releases Juju 3.6 deploys machines with; the first is its default LTS.
const JUJU_BASES: [&str; 3] = ["24.04", "22.04", "20.04"];

/// Legacy series names a metadata.yaml may list (Juju 3 still reads them).
const SERIES: [(&str, &str); 4] = [
    ("noble", "24.04"),
    ("jammy", "22.04"),
    ("focal", "20.04"),
    ("bionic", "18.04"),
];

impl Base {
    /// `ubuntu@<channel>`.
    pub fn ubuntu(channel: &str) -> Base {
        Base {
            name: "ubuntu".into(),
            channel: channel.into(),
        }
    }

    /// `OS@CHANNEL`, as `--base` takes it.
    pub fn parse(text: &str) -> Result<Base, BaseError> {
        match text.split_once('@') {
            Some((name, channel)) if !name.is_empty() && !channel.is_empty() => Ok(Base {
                name: name.to_string(),
                channel: channel.split('/').next().unwrap_or(channel).to_string(),
            }),
            _ => Err(BaseError::Syntax(text.to_string())),
        }
    }

    fn juju_runs(&self) -> bool {
        self.name == "ubuntu" && JUJU_BASES.contains(&self.channel.as_str())
    }
}

fn join(bases: &[Base]) -> String {
    bases
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The charm's bases: `manifest.yaml` `bases` (name, channel), else the legacy `series`
/// of `metadata` (a v1 charm). Empty when it declares neither.
pub fn load_bases(dir: &Path, metadata: &serde_yaml::Value) -> Result<Vec<Base>, CharmError> {
    let path = dir.join("manifest.yaml");
    let invalid = |message: String| CharmError::Invalid {
        path: path.clone(),
        message,
    };
    if let Some(manifest) = read_yaml(&path)? {
        let mut out = Vec::new();
        let listed = manifest.get("bases").and_then(|b| b.as_sequence());
        for (i, b) in listed.into_iter().flatten().enumerate() {
            let field = |k: &str| match b.get(k) {
                Some(serde_yaml::Value::String(s)) => Some(s.clone()),
                Some(serde_yaml::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let (Some(name), Some(channel)) = (field("name"), field("channel")) else {
                return Err(invalid(format!("bases[{i}] needs `name` and `channel`")));
            };
            out.push(Base { name, channel });
        }
        if !out.is_empty() {
            return Ok(out);
        }
    }
    let series = metadata.get("series").and_then(|s| s.as_sequence());
    Ok(series
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .filter_map(|s| SERIES.iter().find(|(n, _)| *n == s))
        .map(|(_, channel)| Base::ubuntu(channel))
        .collect())
}

/// The base a new machine of this charm gets: `requested` if the charm lists it, else
/// Juju's default LTS when the charm lists it, else the charm's first base Juju runs.
pub fn choose_base(charm: &[Base], requested: Option<&Base>) -> Result<Base, BaseError> {
    if charm.is_empty() {
        return Err(BaseError::NoBases);
    }
    let runnable: Vec<Base> = charm.iter().filter(|b| b.juju_runs()).cloned().collect();
    if runnable.is_empty() {
        return Err(BaseError::NoneSupported(join(charm)));
    }
    match requested {
        Some(r) if !r.juju_runs() => Err(BaseError::NotJuju(r.to_string())),
        Some(r) if !runnable.contains(r) => Err(BaseError::NotCharm {
            requested: r.to_string(),
            supported: join(&runnable),
        }),
        Some(r) => Ok(r.clone()),
        None => {
            let lts = Base::ubuntu(JUJU_BASES[0]);
            Ok(if runnable.contains(&lts) {
                lts
            } else {
                runnable[0].clone()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(manifest: Option<&str>) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        if let Some(m) = manifest {
            std::fs::write(d.path().join("manifest.yaml"), m).unwrap();
        }
        d
    }

    fn meta(text: &str) -> serde_yaml::Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn bases_come_from_the_manifest_else_from_legacy_series() {
        let d = dir_with(Some(
            "bases:\n- name: ubuntu\n  channel: '22.04'\n  architectures: [amd64]\n- name: ubuntu\n  channel: \"24.04\"\n",
        ));
        assert_eq!(
            load_bases(d.path(), &meta("name: x")).unwrap(),
            [Base::ubuntu("22.04"), Base::ubuntu("24.04")]
        );
        let none = dir_with(None);
        assert_eq!(
            load_bases(none.path(), &meta("name: x\nseries: [jammy, focal]")).unwrap(),
            [Base::ubuntu("22.04"), Base::ubuntu("20.04")]
        );
        assert!(load_bases(none.path(), &meta("name: x"))
            .unwrap()
            .is_empty());
        let empty = dir_with(Some("bases: []\n"));
        assert!(load_bases(empty.path(), &meta("name: x"))
            .unwrap()
            .is_empty());
        let broken = dir_with(Some("bases:\n- name: ubuntu\n"));
        assert!(load_bases(broken.path(), &meta("name: x")).is_err());
    }

    #[test]
    fn the_base_is_asked_for_or_the_default_lts_or_the_first_juju_runs() {
        let both = [Base::ubuntu("22.04"), Base::ubuntu("24.04")];
        assert_eq!(choose_base(&both, None), Ok(Base::ubuntu("24.04")));
        assert_eq!(
            choose_base(&both, Some(&Base::ubuntu("22.04"))),
            Ok(Base::ubuntu("22.04"))
        );
        let old = [Base::ubuntu("18.04"), Base::ubuntu("20.04")];
        assert_eq!(choose_base(&old, None), Ok(Base::ubuntu("20.04")));
        let cases: [(&[Base], Option<Base>, &str); 4] = [
            (&[], None, "charm does not define any bases, not valid"),
            (
                &[Base::ubuntu("18.04")],
                None,
                "the charm defined bases \"ubuntu@18.04\" not supported",
            ),
            (&both, Some(Base::ubuntu("18.04")), "base: ubuntu@18.04 not supported"),
            (
                &both,
                Some(Base::ubuntu("20.04")),
                "base \"ubuntu@20.04\" is not supported, supported bases are: ubuntu@22.04, ubuntu@24.04",
            ),
        ];
        for (charm, asked, want) in cases {
            let got = choose_base(charm, asked.as_ref()).unwrap_err().to_string();
            assert_eq!(got, want);
        }
        assert_eq!(
            Base::parse("ubuntu@22.04/stable"),
            Ok(Base::ubuntu("22.04"))
        );
        assert!(Base::parse("jammy").is_err());
    }
}
