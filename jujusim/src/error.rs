//! The error convention shared by every module: each module has its own `thiserror`
//! enum; a variant that wraps a cause either returns it from `source()` and leaves it out
//! of its message, or (a plain value such as an errno, or Juju's own text) prints it and
//! has no `source()`, never both. Wrappers that add nothing are `#[error(transparent)]`.
//! The exit points print [`chain`], so every cause shows exactly once.
use std::error::Error;

/// The message of `e` and of each cause below it, joined with `: `.
pub fn chain(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("reading /x")]
        Read {
            #[source]
            cause: std::io::Error,
        },
        #[error(transparent)]
        Inner(#[from] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("inner step")]
    struct Inner {
        #[source]
        cause: std::io::Error,
    }

    fn denied() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied")
    }

    #[test]
    fn each_cause_prints_once() {
        assert_eq!(
            chain(&Outer::Read { cause: denied() }),
            "reading /x: denied"
        );
        let wrapped = Outer::from(Inner { cause: denied() });
        assert_eq!(chain(&wrapped), "inner step: denied");
    }
}
