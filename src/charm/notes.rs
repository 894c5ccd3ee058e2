//! Log lines a decision asks for: pure code never logs, it notes what the plan should say.

/// How loud a log line is (`juju-log` levels the charm uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Details for `juju debug-log --level DEBUG`.
    Debug,
    /// What the charm did.
    Info,
    /// Something an operator should look at.
    Warn,
    /// Something that keeps the unit from working.
    Error,
}

/// A log line the plan asks for; emitted where it stands among the steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its text (never a secret).
    pub message: String,
}

impl LogLine {
    /// A warning.
    pub fn warn(message: impl Into<String>) -> Self {
        LogLine {
            level: Level::Warn,
            message: message.into(),
        }
    }

    /// An info line.
    pub fn info(message: impl Into<String>) -> Self {
        LogLine {
            level: Level::Info,
            message: message.into(),
        }
    }

    /// An error line.
    pub fn error(message: impl Into<String>) -> Self {
        LogLine {
            level: Level::Error,
            message: message.into(),
        }
    }

    /// A debug line.
    pub fn debug(message: impl Into<String>) -> Self {
        LogLine {
            level: Level::Debug,
            message: message.into(),
        }
    }
}

/// A pure helper's answer with the log lines it noted on the way (garbage it skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted<T> {
    /// The answer.
    pub value: T,
    /// What the plan should log.
    pub notes: Vec<LogLine>,
}

impl<T> Noted<T> {
    /// An answer with nothing to log.
    pub fn plain(value: T) -> Self {
        Noted {
            value,
            notes: Vec::new(),
        }
    }
}
