//! htpasswd entries (bcrypt, `$2y$`) for the registry's basic auth.
//!
//! bcrypt salts are random, so a fresh entry never equals the old one: the charm calls
//! [`verify_file`] first and rewrites the file only when the credentials changed.

/// bcrypt cost: 5, like `htpasswd -B` (and so the Python charm). distribution re-verifies
/// the hash on EVERY authenticated request, with no cache. Measured with docker-registry
/// 2.8.2 on a 2-vCPU machine: an authenticated `GET /v2/` takes about 99 ms at cost 10 and
/// 15 ms at cost 5, so cost 10 would cap a unit at roughly 20 authenticated requests per
/// second per core (a cluster's nodes pulling at once make dozens each). The password is
/// in plain text in the Juju config and relation data anyway (B29 in
/// docs/python-charm-bugs.md), so a higher cost buys little against offline cracking of
/// this file (which is 0640 root:registry).
pub const COST: u32 = 5;

/// Why an entry could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    /// The user name cannot appear in an htpasswd line.
    #[error("auth-basic-user: {0:?} contains ':' or a line break, which htpasswd cannot store")]
    BadUser(String),
    /// Empty user or password.
    #[error("auth-basic-user/auth-basic-password: both must be non-empty")]
    Empty,
    /// bcrypt failed (e.g. bad cost).
    #[error("bcrypt failed: {0}")]
    Bcrypt(bcrypt::BcryptError),
}

/// One htpasswd line `user:$2y$10$...` (no newline).
pub fn entry(user: &str, password: &str) -> Result<String, HtpasswdError> {
    check(user, password)?;
    let hash = bcrypt::hash_with_result(password, COST).map_err(HtpasswdError::Bcrypt)?;
    Ok(format!(
        "{user}:{}",
        hash.format_for_version(bcrypt::Version::TwoY)
    ))
}

/// The whole file content for one user (one line plus newline).
pub fn file(user: &str, password: &str) -> Result<String, HtpasswdError> {
    Ok(format!("{}\n", entry(user, password)?))
}

/// [`file()`] with the bcrypt salt given (the charm draws it with its other entropy, so
/// deciding the file stays pure).
pub fn file_with_salt(user: &str, password: &str, salt: [u8; 16]) -> Result<String, HtpasswdError> {
    check(user, password)?;
    let hash = bcrypt::hash_with_salt(password, COST, salt).map_err(HtpasswdError::Bcrypt)?;
    Ok(format!(
        "{user}:{}\n",
        hash.format_for_version(bcrypt::Version::TwoY)
    ))
}

fn check(user: &str, password: &str) -> Result<(), HtpasswdError> {
    if user.is_empty() || password.is_empty() {
        return Err(HtpasswdError::Empty);
    }
    if user.contains([':', '\n', '\r']) {
        return Err(HtpasswdError::BadUser(user.to_string()));
    }
    Ok(())
}

/// True when `contents` holds exactly one entry, for `user`, whose hash accepts `password`.
///
/// Any other line (another user, garbage) makes it false so the charm rewrites the file.
pub fn verify_file(contents: &str, user: &str, password: &str) -> bool {
    let mut lines = contents.lines().filter(|l| !l.trim().is_empty());
    let (Some(line), None) = (lines.next(), lines.next()) else {
        return false;
    };
    let Some((u, hash)) = line.trim_end_matches('\r').split_once(':') else {
        return false;
    };
    u == user && bcrypt::verify(password, hash).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trips() {
        let e = entry("admin", "s3:cr#t\"").unwrap();
        assert!(e.starts_with("admin:$2y$05$"), "{e}");
        assert!(verify_file(&format!("{e}\n"), "admin", "s3:cr#t\""));
        assert!(!verify_file(&e, "admin", "other"));
        assert!(!verify_file(&e, "root", "s3:cr#t\""));
        assert!(!verify_file(&format!("{e}\nx:y\n"), "admin", "s3:cr#t\""));
        assert!(!verify_file("", "admin", "x"));
        assert!(!verify_file("garbage", "admin", "x"));
    }

    #[test]
    fn a_given_salt_makes_the_same_entry_and_it_verifies() {
        let a = file_with_salt("admin", "pw", [7; 16]).unwrap();
        assert_eq!(a, file_with_salt("admin", "pw", [7; 16]).unwrap());
        assert_ne!(a, file_with_salt("admin", "pw", [8; 16]).unwrap());
        assert!(a.starts_with("admin:$2y$05$"), "{a}");
        assert!(verify_file(&a, "admin", "pw"));
        assert!(file_with_salt("a:b", "pw", [7; 16]).is_err());
    }

    #[test]
    fn rejects_bad_users() {
        assert!(matches!(entry("a:b", "p"), Err(HtpasswdError::BadUser(_))));
        assert!(matches!(entry("", "p"), Err(HtpasswdError::Empty)));
        assert!(matches!(entry("u", ""), Err(HtpasswdError::Empty)));
    }

    fn htpasswd(args: &[&str]) -> std::process::Output {
        std::process::Command::new("htpasswd")
            .args(args)
            .output()
            .expect("htpasswd (apache2-utils) must be installed")
    }

    #[test]
    fn apache_htpasswd_accepts_our_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("htpasswd");
        let pw = "p@ss w:rd\"#";
        std::fs::write(&path, file("admin", pw).unwrap()).unwrap();
        let p = path.to_str().unwrap();
        let ok = htpasswd(&["-vb", p, "admin", pw]);
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        assert!(!htpasswd(&["-vb", p, "admin", "wrong"]).status.success());
    }

    #[test]
    fn we_verify_apache_htpasswd_output() {
        let out = htpasswd(&["-Bbn", "admin", "s3cret:#"]);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.starts_with("admin:$2y$"), "{text}");
        assert!(verify_file(&text, "admin", "s3cret:#"));
        assert!(!verify_file(&text, "admin", "s3cret"));
    }
}
