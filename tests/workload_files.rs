//! `HostFiles` against a real temp directory: modes from creation, no-op rewrites, owners,
//! atomic replacement without leftovers.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use charm::workload::{prepare_data_dir, service_user, Changed, FileSpec, Files, HostFiles};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

#[test]
fn new_file_gets_exact_mode_and_content() {
    let dir = tempdir();
    let p = dir.path().join("registry.key");
    assert_eq!(
        HostFiles
            .write(&p, b"secret", FileSpec::mode(0o600))
            .unwrap(),
        Changed::Yes
    );
    assert_eq!(fs::read(&p).unwrap(), b"secret");
    assert_eq!(mode(&p), 0o600);
    // A mode the umask (022) would cut is still applied exactly.
    let q = dir.path().join("shared");
    HostFiles.write(&q, b"x", FileSpec::mode(0o664)).unwrap();
    assert_eq!(mode(&q), 0o664);
    assert_eq!(listing(dir.path()), ["registry.key", "shared"]);
}

#[test]
fn temp_file_is_never_more_open_than_the_final_mode() {
    // A big write keeps the temp file around long enough for a watcher to see it.
    let dir = tempdir();
    let p = dir.path().join("big.key");
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (dir, done) = (dir.path().to_path_buf(), done.clone());
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !done.load(Ordering::SeqCst) {
                for e in fs::read_dir(&dir).unwrap().flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name.contains(".tmp-") {
                        if let Ok(m) = fs::symlink_metadata(e.path()) {
                            seen.push(m.mode() & 0o7777);
                        }
                    }
                }
            }
            seen
        })
    };
    let contents = vec![b'k'; 64 << 20];
    HostFiles
        .write(&p, &contents, FileSpec::mode(0o600))
        .unwrap();
    done.store(true, Ordering::SeqCst);
    let seen = watcher.join().unwrap();
    assert!(!seen.is_empty(), "the watcher never saw the temp file");
    assert!(
        seen.iter().all(|m| *m == 0o600),
        "temp modes seen: {seen:?}"
    );
    assert_eq!(listing(dir.path()), ["big.key"]);
}

#[test]
fn unchanged_write_touches_nothing() {
    let dir = tempdir();
    let p = dir.path().join("config.yml");
    HostFiles
        .write(&p, b"version: 0.1\n", FileSpec::mode(0o640))
        .unwrap();
    // Back-date the file so any rewrite would show, whatever the timestamp granularity.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let before = fs::metadata(&p).unwrap();

    assert_eq!(
        HostFiles
            .write(&p, b"version: 0.1\n", FileSpec::mode(0o640))
            .unwrap(),
        Changed::No
    );

    let after = fs::metadata(&p).unwrap();
    assert_eq!(after.ino(), before.ino());
    assert_eq!(after.modified().unwrap(), old);
    assert_eq!(after.ctime(), before.ctime());
}

#[test]
fn changed_content_replaces_the_file_atomically() {
    let dir = tempdir();
    let p = dir.path().join("config.yml");
    HostFiles.write(&p, b"a", FileSpec::mode(0o600)).unwrap();
    let ino = fs::metadata(&p).unwrap().ino();
    assert_eq!(
        HostFiles.write(&p, b"bb", FileSpec::mode(0o600)).unwrap(),
        Changed::Yes
    );
    assert_eq!(fs::read(&p).unwrap(), b"bb");
    assert_ne!(
        fs::metadata(&p).unwrap().ino(),
        ino,
        "content changes go through rename"
    );
    // Same length, different bytes.
    assert_eq!(
        HostFiles.write(&p, b"cc", FileSpec::mode(0o600)).unwrap(),
        Changed::Yes
    );
    assert_eq!(fs::read(&p).unwrap(), b"cc");
    assert_eq!(listing(dir.path()), ["config.yml"]);
}

#[test]
fn mode_only_change_is_applied_in_place() {
    let dir = tempdir();
    let p = dir.path().join("registry.key");
    HostFiles.write(&p, b"k", FileSpec::mode(0o644)).unwrap();
    let ino = fs::metadata(&p).unwrap().ino();
    assert_eq!(
        HostFiles.write(&p, b"k", FileSpec::mode(0o600)).unwrap(),
        Changed::Yes
    );
    assert_eq!(mode(&p), 0o600);
    assert_eq!(fs::metadata(&p).unwrap().ino(), ino);
    assert_eq!(
        HostFiles.write(&p, b"k", FileSpec::mode(0o600)).unwrap(),
        Changed::No
    );
}

#[test]
fn owner_is_set_and_then_left_alone() {
    let dir = tempdir();
    let svc = service_user().unwrap();
    let p = dir.path().join("htpasswd");
    HostFiles
        .write(&p, b"admin:$2y$...", FileSpec::mode(0o640))
        .unwrap();
    assert_eq!(fs::metadata(&p).unwrap().uid(), 0);

    let spec = FileSpec::mode(0o640).owned_by(svc);
    assert_eq!(
        HostFiles.write(&p, b"admin:$2y$...", spec).unwrap(),
        Changed::Yes
    );
    let m = fs::metadata(&p).unwrap();
    assert_eq!((m.uid(), m.gid()), svc);
    assert_eq!(
        HostFiles.write(&p, b"admin:$2y$...", spec).unwrap(),
        Changed::No
    );
    // No owner requirement: the existing owner is kept.
    assert_eq!(
        HostFiles
            .write(&p, b"admin:$2y$...", FileSpec::mode(0o640))
            .unwrap(),
        Changed::No
    );
    // A new file created with an owner has it from the start.
    let q = dir.path().join("new");
    HostFiles.write(&q, b"x", spec).unwrap();
    let m = fs::metadata(&q).unwrap();
    assert_eq!((m.uid(), m.gid(), m.mode() & 0o7777), (svc.0, svc.1, 0o640));
}

#[test]
fn a_symlink_target_is_replaced_by_a_file() {
    let dir = tempdir();
    let real = dir.path().join("real");
    fs::write(&real, b"old").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(
        HostFiles
            .write(&link, b"old", FileSpec::mode(0o644))
            .unwrap(),
        Changed::Yes
    );
    assert!(fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(fs::read(&real).unwrap(), b"old");
}

/// `stat` says when a path is a link (its mode is then the link's, not the target's).
#[test]
fn stat_tells_a_symlink_from_a_file() {
    let dir = tempdir();
    let real = dir.path().join("real");
    fs::write(&real, b"key").unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let file = HostFiles.stat(&real).unwrap().unwrap();
    assert!(!file.is_symlink && !file.is_dir);
    assert_eq!(file.mode, 0o600);
    assert!(HostFiles.stat(&link).unwrap().unwrap().is_symlink);
}

#[test]
fn errors_name_the_path_and_leave_no_temp() {
    let dir = tempdir();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let err = HostFiles
        .write(&sub, b"x", FileSpec::mode(0o600))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&*sub.to_string_lossy()) && err.contains("is a directory"),
        "{err}"
    );
    let missing = dir.path().join("nope/file");
    let err = HostFiles
        .write(&missing, b"x", FileSpec::mode(0o600))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    assert_eq!(listing(dir.path()), ["sub"]);
    assert!(listing(&sub).is_empty());
}

#[test]
fn remove_read_exists() {
    let dir = tempdir();
    let p = dir.path().join("f");
    assert_eq!(HostFiles.remove(&p).unwrap(), Changed::No);
    assert_eq!(HostFiles.read(&p).unwrap(), None);
    assert!(!HostFiles.exists(&p).unwrap());
    HostFiles.write(&p, b"x", FileSpec::mode(0o600)).unwrap();
    assert!(HostFiles.exists(&p).unwrap());
    assert_eq!(HostFiles.read(&p).unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(HostFiles.remove(&p).unwrap(), Changed::Yes);
    assert!(!p.exists());
    assert!(
        HostFiles.remove(dir.path()).is_err(),
        "directories are never removed"
    );
}

#[test]
fn ensure_dir_creates_and_fixes() {
    let dir = tempdir();
    let svc = service_user().unwrap();
    let d = dir.path().join("a/b/registry");
    assert_eq!(
        HostFiles.ensure_dir(&d, 0o750, Some(svc)).unwrap(),
        Changed::Yes
    );
    let m = fs::metadata(&d).unwrap();
    assert_eq!((m.mode() & 0o7777, m.uid(), m.gid()), (0o750, svc.0, svc.1));
    assert_eq!(
        HostFiles.ensure_dir(&d, 0o750, Some(svc)).unwrap(),
        Changed::No
    );
    fs::set_permissions(&d, fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(HostFiles.ensure_dir(&d, 0o750, None).unwrap(), Changed::Yes);
    assert_eq!(mode(&d), 0o750);
}

#[test]
fn data_dir_from_the_python_charm_is_reowned_without_losing_data() {
    let dir = tempdir();
    let svc = service_user().unwrap();
    let data = dir.path().join("srv-registry");
    let blob = data.join("docker/registry/v2/blobs/sha256/ab/abcd/data");
    fs::create_dir_all(blob.parent().unwrap()).unwrap();
    fs::write(&blob, b"layer bytes").unwrap();
    fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).unwrap();
    // A dangling symlink inside must be re-owned itself, not followed.
    std::os::unix::fs::symlink("/nonexistent", data.join("link")).unwrap();

    assert_eq!(
        prepare_data_dir(&HostFiles, &data, svc).unwrap(),
        Changed::Yes
    );
    for p in [
        &data,
        &blob,
        &blob.parent().unwrap().to_path_buf(),
        &data.join("link"),
    ] {
        let m = fs::symlink_metadata(p).unwrap();
        assert_eq!((m.uid(), m.gid()), svc, "{}", p.display());
    }
    assert_eq!(fs::read(&blob).unwrap(), b"layer bytes");
    assert_eq!(mode(&data), 0o755, "an existing data dir keeps its mode");
    assert_eq!(
        prepare_data_dir(&HostFiles, &data, svc).unwrap(),
        Changed::No
    );

    let fresh = dir.path().join("fresh");
    assert_eq!(
        prepare_data_dir(&HostFiles, &fresh, svc).unwrap(),
        Changed::Yes
    );
    assert_eq!(mode(&fresh), 0o750);
}
