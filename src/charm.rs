//! STUB: the charm's event handler. The lead replaces this file with the reconciler.

use crate::juju::{Context, Event, HookToolError, HookTools, ToolRunner};

/// Why handling an event failed; the hook then exits 1 and Juju retries it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A hook tool failed.
    #[error("a hook tool call failed")]
    Tool(#[from] HookToolError),
}

/// Handles one event. The stub only logs it.
pub fn handle<R: ToolRunner>(ctx: &Context, _tools: &HookTools<R>) -> Result<(), Error> {
    match &ctx.event {
        Event::Unknown(hook) => tracing::debug!("ignoring unknown hook {hook}"),
        event => tracing::info!("{} handling {event}", ctx.unit),
    }
    Ok(())
}
