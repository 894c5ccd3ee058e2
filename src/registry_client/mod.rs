//! A native client for the OCI distribution API (registry v2), knowing nothing of Juju.
//!
//! - [`reference`]: image references, Docker Hub normalisation, digests, IPv6 hosts;
//! - [`manifest`]: Docker v2 and OCI manifests and indexes, media types, platforms;
//! - [`client`]: one registry endpoint (rustls, CA, proxy, Basic and Bearer auth);
//! - [`blobs`], [`manifests`], [`catalog`]: one file per group of endpoints;
//! - [`source`]: reading images from registries, OCI layouts and archives in place;
//! - [`copy`]: streaming, concurrent, digest-checked copies, manifest last.

pub mod auth;
pub mod blobs;
pub mod catalog;
pub mod client;
pub mod copy;
pub mod digest;
pub mod error;
pub mod manifest;
pub mod manifests;
pub mod reference;
pub mod source;

pub use auth::Credentials;
pub use client::{Client, ClientOptions, Scheme};
pub use copy::{Copier, CopyReport, CopyRequest, Progress};
pub use digest::Digest;
pub use error::{Error, Result};
pub use manifest::{Descriptor, Manifest, Platform};
pub use manifests::RawManifest;
pub use reference::Reference;
pub use source::{Source, SourceSpec};
