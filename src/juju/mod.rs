//! The only code that talks to Juju: hook-tool client and the event read from the environment.
