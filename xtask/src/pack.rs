//! `cargo xtask pack`: build the charm binary and write `docker-registry.charm`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::archive::{self, ArchiveError, Entry};

/// The charm's package and binary (the packed `dispatch`).
const CHARM_PACKAGE: &str = "docker-registry-charm";
/// Name of the charm binary built by cargo.
const CHARM_BIN: &str = "docker-registry-charm";
/// Project files copied into the charm as they are.
const PROJECT_FILES: &[&str] = &["metadata.yaml", "config.yaml", "actions.yaml", "README.md"];
/// Ubuntu releases the charm runs on (manifest bases).
const BASES: &[&str] = &["22.04", "24.04"];

/// Why packing failed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// A tool (cargo, rustc) could not be started.
    #[error("cannot run `{cmd}`: {source}")]
    Spawn {
        /// The command line.
        cmd: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// `cargo build` exited non-zero; its output was streamed above.
    #[error("`{cmd}` failed ({status}); its output is above. Fix the build error and re-run `cargo xtask pack`.")]
    Build {
        /// The command line.
        cmd: String,
        /// Exit status text.
        status: String,
    },
    /// A project file or the built binary could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The host architecture has no Juju name we know.
    #[error("unsupported build architecture `{0}` (supported: x86_64, aarch64)")]
    Arch(String),
    /// Writing the archive failed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Options of `cargo xtask pack`.
#[derive(Debug, Default)]
pub struct PackOptions {
    /// Where to write the charm; default `<target dir>/charm/docker-registry.charm`.
    pub out: Option<PathBuf>,
}

/// Which rust target the charm binary is built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildTarget {
    /// A static musl binary: runs on every Ubuntu base regardless of its glibc.
    Musl(String),
    /// The host (gnu) target: linked against the build machine's glibc.
    Host,
}

/// The target choice and the sentence explaining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetChoice {
    /// The chosen target.
    pub target: BuildTarget,
    /// Why it was chosen (printed to the user).
    pub reason: String,
}

/// Decides the build target from what the machine has. Pure, so it is unit-tested.
pub fn choose_target(musl_target: &str, musl_std: bool, musl_gcc: Option<&Path>) -> TargetChoice {
    match (musl_std, musl_gcc) {
        (true, Some(gcc)) => TargetChoice {
            target: BuildTarget::Musl(musl_target.to_string()),
            reason: format!(
                "rustup target {musl_target} is installed and musl-gcc is at {} (ring's C code needs it): static binary",
                gcc.display()
            ),
        },
        (false, _) => TargetChoice {
            target: BuildTarget::Host,
            reason: format!(
                "rustup target {musl_target} is not installed (run `rustup target add {musl_target}`); \
                 falling back to the host gnu target, linked against this machine's glibc"
            ),
        },
        (true, None) => TargetChoice {
            target: BuildTarget::Host,
            reason: "musl-gcc is not on PATH (install musl-tools; ring needs it for musl); \
                     falling back to the host gnu target, linked against this machine's glibc"
                .to_string(),
        },
    }
}

/// Juju's architecture name for a Rust `ARCH`.
pub fn juju_arch(rust_arch: &str) -> Option<&'static str> {
    match rust_arch {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

/// The charm's `manifest.yaml` (charmcraft's format; Juju reads only `bases`).
pub fn manifest_yaml(arch: &str) -> String {
    let mut s = String::from("# Written by `cargo xtask pack`; Juju reads `bases`.\nbases:\n");
    for channel in BASES {
        s.push_str(&format!(
            "- name: ubuntu\n  channel: '{channel}'\n  architectures:\n  - {arch}\n"
        ));
    }
    s.push_str(
        "analysis:\n  attributes:\n  - name: language\n    result: unknown\n  - name: framework\n    result: unknown\n",
    );
    s
}

/// Workspace root (the parent of this crate's directory).
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or(manifest_dir.clone(), Path::to_path_buf)
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| if d.is_absolute() { d } else { root.join(d) })
        .unwrap_or_else(|| root.join("target"))
}

fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command and returns its trimmed stdout, or None when it cannot run or fails.
fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Whether the Rust standard library for `target` is installed in rustc's sysroot.
fn rust_std_installed(target: &str) -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    stdout_of(Command::new(rustc).args(["--print", "target-libdir", "--target", target]))
        .is_some_and(|dir| Path::new(&dir).is_dir())
}

/// Finds an executable on PATH.
fn find_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Builds the charm binary in release mode and returns its path.
fn build(root: &Path, target: &BuildTarget) -> Result<PathBuf, PackError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "build",
        "--release",
        "--locked",
        "--package",
        CHARM_PACKAGE,
        "--bin",
        CHARM_BIN,
    ]);
    let out_dir = match target {
        BuildTarget::Musl(t) => {
            cmd.args(["--target", t]);
            // ring compiles C; point cc at musl-gcc explicitly instead of relying on
            // cc's guess for the musl target.
            let cc_var = format!("CC_{}", t.replace('-', "_"));
            if std::env::var_os(&cc_var).is_none() {
                cmd.env(cc_var, "musl-gcc");
            }
            target_dir(root).join(t).join("release")
        }
        BuildTarget::Host => target_dir(root).join("release"),
    };
    let shown = display(&cmd);
    eprintln!("xtask: running {shown}");
    let status = cmd.status().map_err(|source| PackError::Spawn {
        cmd: shown.clone(),
        source,
    })?;
    if !status.success() {
        return Err(PackError::Build {
            cmd: shown,
            status: status.to_string(),
        });
    }
    Ok(out_dir.join(CHARM_BIN))
}

/// The charm version: `git describe` when the repo has tags, else the crate version
/// plus the commit (`0.1.0+g1a2b3c4[.dirty]`), else the crate version.
fn version(root: &Path) -> String {
    let crate_version = crate_version(root).unwrap_or_else(|| "0.0.0".to_string());
    let git = |args: &[&str]| stdout_of(Command::new("git").current_dir(root).args(args));
    if let Some(v) = git(&["describe", "--tags", "--dirty"]) {
        return v;
    }
    match git(&["describe", "--always", "--dirty=.dirty"]) {
        Some(sha) if !sha.is_empty() => format!("{crate_version}+g{sha}"),
        _ => crate_version,
    }
}

/// Reads `version = "..."` from the root package section of Cargo.toml.
fn crate_version(root: &Path) -> Option<String> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(v) = line.strip_prefix("version") {
                let v = v.trim_start().strip_prefix('=')?.trim().trim_matches('"');
                return Some(v.to_string());
            }
        }
    }
    None
}

fn read(path: &Path) -> Result<Vec<u8>, PackError> {
    std::fs::read(path).map_err(|source| PackError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Builds and packs the charm; returns the archive path.
pub fn pack(opts: &PackOptions) -> Result<PathBuf, PackError> {
    let started = std::time::Instant::now();
    let root = workspace_root();
    let arch = juju_arch(std::env::consts::ARCH)
        .ok_or_else(|| PackError::Arch(std::env::consts::ARCH.to_string()))?;
    let musl_target = format!("{}-unknown-linux-musl", std::env::consts::ARCH);
    let musl_gcc = find_on_path("musl-gcc");
    let choice = choose_target(
        &musl_target,
        rust_std_installed(&musl_target),
        musl_gcc.as_deref(),
    );
    let target_name = match &choice.target {
        BuildTarget::Musl(t) => t.clone(),
        BuildTarget::Host => "host (gnu)".to_string(),
    };
    eprintln!("xtask: target {target_name}: {}", choice.reason);

    let binary = build(&root, &choice.target)?;
    let mut entries = vec![Entry::executable("dispatch", read(&binary)?)];
    for name in PROJECT_FILES {
        entries.push(Entry::file(name, read(&root.join(name))?));
    }
    entries.push(Entry::file("manifest.yaml", manifest_yaml(arch)));
    let version = version(&root);
    entries.push(Entry::file("version", format!("{version}\n")));

    let out = opts.out.clone().unwrap_or_else(|| {
        target_dir(&root)
            .join("charm")
            .join("docker-registry.charm")
    });
    let size = archive::write_charm(&out, &entries)?;
    println!(
        "packed {} ({size} bytes, {:.1} MiB; version {version}; dispatch for {target_name}; {:.1} s)",
        out.display(),
        size as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn musl_needs_both_the_target_and_musl_gcc() {
        let t = "x86_64-unknown-linux-musl";
        let gcc = Path::new("/usr/bin/musl-gcc");
        assert_eq!(
            choose_target(t, true, Some(gcc)).target,
            BuildTarget::Musl(t.into())
        );
        let no_std = choose_target(t, false, Some(gcc));
        assert_eq!(no_std.target, BuildTarget::Host);
        assert!(no_std
            .reason
            .contains("rustup target add x86_64-unknown-linux-musl"));
        let no_gcc = choose_target(t, true, None);
        assert_eq!(no_gcc.target, BuildTarget::Host);
        assert!(no_gcc.reason.contains("musl-tools"));
    }

    #[test]
    fn manifest_lists_both_bases_for_the_arch() {
        let m = manifest_yaml("amd64");
        assert!(m.contains("- name: ubuntu\n  channel: '22.04'\n  architectures:\n  - amd64\n"));
        assert!(m.contains("- name: ubuntu\n  channel: '24.04'\n  architectures:\n  - amd64\n"));
        assert_eq!(juju_arch("x86_64"), Some("amd64"));
        assert_eq!(juju_arch("riscv64"), None);
    }

    #[test]
    fn crate_version_is_read_from_the_package_section() {
        let v = crate_version(&workspace_root()).unwrap();
        assert!(v.split('.').count() == 3, "{v}");
    }
}
