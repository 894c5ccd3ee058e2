//! How a plan is built: [`Builder`] collects steps in order and keeps [`Disk`] (the files
//! as they will be) and the unit's record in step with them, so each concern decides from
//! the plan so far; [`PlanError`] is why no plan can be made.

use std::path::{Path, PathBuf};

use crate::juju::{Databag, Port, PortRange, RelationId, Status};
use crate::relations::changes;
use crate::workload::files::{FileMeta, FileSpec, Owner};
use crate::workload::users::UsersError;

use super::local::LocalState;
use super::notes::LogLine;
use super::steps::{
    Candidate, Contents, FileStep, Plan, Probe, RelationWrite, Serving, Step, Then,
};
use super::view::{Entry, Observed};

/// A plan that cannot be made: a fault of the machine, or a bug in the charm.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plan needed a path the view did not read (a bug in the charm).
    #[error("the plan needs {}, which the view did not read (a bug in the charm)", .0.display())]
    Unobserved(PathBuf),
    /// The plan needed entropy the view did not draw (a bug in the charm).
    #[error("the plan needs a fresh {0}, which the view did not draw (a bug in the charm)")]
    NoEntropy(&'static str),
    /// The service user was not read although the package is installed (a bug in the charm).
    #[error("the plan needs the service user, which the view did not read (a bug in the charm)")]
    NoAccount,
    /// The registry's data directory is unusable.
    #[error(transparent)]
    DataDir(#[from] UsersError),
    /// config.yml could not be rendered (a bug in the charm).
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    /// The htpasswd entry could not be made.
    #[error(transparent)]
    Htpasswd(#[from] crate::htpasswd::HtpasswdError),
}

/// Builds a [`Plan`]: steps in order, with the files and the unit's record kept in step.
#[derive(Debug)]
pub struct Builder {
    steps: Vec<Step>,
    statuses: Vec<Status>,
    probe: Option<Probe>,
    then: Then,
    serving: Option<Serving>,
    candidate: Option<Candidate>,
    /// What the unit will remember; concerns update it as they decide.
    pub local: LocalState,
    /// The files as they will be after the steps so far.
    pub disk: Disk,
}

impl Builder {
    /// A plan starting from what the unit remembers and the files the view read.
    pub fn new(local: LocalState, files: &Observed) -> Self {
        Builder {
            steps: Vec::new(),
            statuses: Vec::new(),
            probe: None,
            then: Then::Report,
            serving: None,
            candidate: None,
            local,
            disk: Disk::new(files),
        }
    }

    /// Adds a step.
    pub fn step(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Adds a log line.
    pub fn log(&mut self, line: LogLine) {
        self.steps.push(Step::Log(line));
    }

    /// Adds log lines a pure helper noted.
    pub fn logs(&mut self, lines: Vec<LogLine>) {
        self.steps.extend(lines.into_iter().map(Step::Log));
    }

    /// Adds a warning.
    pub fn warn(&mut self, message: impl Into<String>) {
        self.log(LogLine::warn(message));
    }

    /// Adds an info line.
    pub fn info(&mut self, message: impl Into<String>) {
        self.log(LogLine::info(message));
    }

    /// Adds a debug line.
    pub fn debug(&mut self, message: impl Into<String>) {
        self.log(LogLine::debug(message));
    }

    /// Contributes a status (the report picks by priority).
    pub fn status(&mut self, status: Status) {
        self.statuses.push(status);
    }

    /// Asks the registry after the steps.
    pub fn probe(&mut self, probe: Probe) {
        self.probe = Some(probe);
    }

    /// Records what the unit serves afterwards.
    pub fn serving(&mut self, serving: Serving) {
        self.serving = Some(serving);
    }

    /// Records what the registry runs afterwards (a last good config once it answers).
    pub fn candidate(&mut self, candidate: Candidate) {
        self.candidate = Some(candidate);
    }

    /// Ends the plan with a new read instead of the report.
    pub fn read_again(&mut self) {
        self.then = Then::ReadAgain;
    }

    /// Sets the status now (before a long step), unless it is already the unit's.
    pub fn status_now(&mut self, status: Status) {
        if self.local.status.as_ref() != Some(&status) {
            self.local.status = Some(status.clone());
            self.step(Step::Status(status));
        }
    }

    /// Writes to one of our bags only the keys of `desired` that differ from `current`,
    /// and records the write (unconfirmed until the next hook reads it back).
    pub fn relation(&mut self, id: &RelationId, app: bool, current: &Databag, desired: &Databag) {
        let data = changes(current, desired);
        if !data.is_empty() {
            if let Some(model) = &mut self.local.model {
                model.wrote(id, app, &data);
            }
            self.step(Step::Relation(RelationWrite {
                relation: id.clone(),
                app,
                data,
            }));
        }
    }

    /// Closes `close` and opens `open` (ports open for this unit afterwards: `opened`),
    /// and records them (unconfirmed until the next hook reads them back).
    pub fn ports(&mut self, close: Vec<PortRange>, open: Vec<Port>, opened: Vec<PortRange>) {
        if close.is_empty() && open.is_empty() {
            return;
        }
        if let Some(model) = &mut self.local.model {
            model.ports_set(opened);
        }
        for range in close {
            self.step(Step::ClosePort(Port {
                number: range.from,
                protocol: range.protocol,
            }));
        }
        for port in open {
            self.step(Step::OpenPort(port));
        }
    }

    /// Saves the unit's record at this point of the steps.
    pub fn checkpoint(&mut self) {
        self.step(Step::SaveState(Box::new(self.local.clone())));
    }

    /// Writes a file when that changes it; true when it does.
    pub fn write(&mut self, path: &Path, contents: &[u8], spec: FileSpec) -> bool {
        let changed = self.disk.write(path, contents, spec);
        if changed {
            self.step(Step::File(FileStep::Write {
                path: path.to_path_buf(),
                contents: Contents(contents.to_vec()),
                spec,
            }));
        }
        changed
    }

    /// Removes a file when there is one; true when there was.
    pub fn remove(&mut self, path: &Path) -> bool {
        let there = self.disk.remove(path);
        if there {
            self.step(Step::File(FileStep::Remove {
                path: path.to_path_buf(),
            }));
        }
        there
    }

    /// Makes a directory with this mode (and owner) when it is not one already.
    pub fn ensure_dir(&mut self, path: &Path, mode: u32, owner: Option<Owner>) -> bool {
        let changed = self.disk.ensure_dir(path, mode, owner);
        if changed {
            self.step(Step::File(FileStep::EnsureDir {
                path: path.to_path_buf(),
                mode,
                owner,
            }));
        }
        changed
    }

    /// Gives a directory tree a new owner.
    pub fn chown_tree(&mut self, path: &Path, owner: Owner) {
        self.disk.chown(path, owner);
        self.step(Step::File(FileStep::ChownTree {
            path: path.to_path_buf(),
            owner,
        }));
    }

    /// The plan, keeping the unit's record.
    pub fn finish(self) -> Plan {
        Plan {
            steps: self.steps,
            statuses: self.statuses,
            probe: self.probe,
            local: Some(self.local),
            then: self.then,
            serving: self.serving,
            candidate: self.candidate,
        }
    }

    /// The plan, when its steps remove the unit's record themselves.
    pub fn finish_without_state(self) -> Plan {
        Plan {
            local: None,
            ..self.finish()
        }
    }
}

/// The files the plan decides from, as they will be after the steps planned so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    entries: Observed,
}

impl Disk {
    /// The files as the view read them.
    pub fn new(observed: &Observed) -> Self {
        Disk {
            entries: observed.clone(),
        }
    }

    fn entry(&self, path: &Path) -> Result<Option<&Entry>, PlanError> {
        match self.entries.get(path) {
            Some(e) => Ok(e.as_ref()),
            None => Err(PlanError::Unobserved(path.to_path_buf())),
        }
    }

    /// The contents of a file (`None`: nothing readable there).
    pub fn read(&self, path: &Path) -> Result<Option<&[u8]>, PlanError> {
        Ok(self.entry(path)?.and_then(|e| e.contents.as_deref()))
    }

    /// Kind, mode and owner of a path (`None`: nothing there).
    pub fn stat(&self, path: &Path) -> Result<Option<FileMeta>, PlanError> {
        Ok(self.entry(path)?.map(|e| e.meta))
    }

    /// Whether something is there (a link counts when it leads somewhere readable).
    pub fn exists(&self, path: &Path) -> Result<bool, PlanError> {
        Ok(self
            .entry(path)?
            .is_some_and(|e| !(e.meta.is_symlink && e.contents.is_none())))
    }

    /// Records a write; true when it changes what is there. A path the view did not read
    /// counts as changed (writing it again is harmless; deciding from it would not be).
    pub fn write(&mut self, path: &Path, contents: &[u8], spec: FileSpec) -> bool {
        let before = self.entries.get(path).cloned().flatten();
        let same = before.as_ref().is_some_and(|e| {
            !e.meta.is_symlink
                && e.contents.as_deref() == Some(contents)
                && e.meta.mode == spec.mode & 0o7777
                && spec.owner.is_none_or(|o| o == (e.meta.uid, e.meta.gid))
        });
        let owner = spec
            .owner
            .or(before.map(|e| (e.meta.uid, e.meta.gid)))
            .unwrap_or((0, 0));
        self.entries.insert(
            path.to_path_buf(),
            Some(Entry::file(contents, spec.mode & 0o7777, owner)),
        );
        !same
    }

    /// Records a removal; true when something was there.
    pub fn remove(&mut self, path: &Path) -> bool {
        let there = self.entries.get(path).is_some_and(Option::is_some);
        self.entries.insert(path.to_path_buf(), None);
        there
    }

    /// Records a directory with this mode (and owner); true when that changes anything.
    pub fn ensure_dir(&mut self, path: &Path, mode: u32, owner: Option<Owner>) -> bool {
        let before = self.entries.get(path).cloned().flatten();
        let same = before.as_ref().is_some_and(|e| {
            e.meta.is_dir
                && e.meta.mode == mode
                && owner.is_none_or(|o| o == (e.meta.uid, e.meta.gid))
        });
        let owner = owner
            .or(before.map(|e| (e.meta.uid, e.meta.gid)))
            .unwrap_or((0, 0));
        self.entries
            .insert(path.to_path_buf(), Some(Entry::dir(mode, owner)));
        !same
    }

    /// Records a new owner for a directory tree (only its root is known here).
    pub fn chown(&mut self, path: &Path, owner: Owner) {
        if let Some(Some(e)) = self.entries.get_mut(path) {
            (e.meta.uid, e.meta.gid) = owner;
        }
    }
}
