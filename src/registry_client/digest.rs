//! Content digests (`sha256:<64 hex>`), and hashing bytes as they stream past.
//!
//! # Format
//! ```text
//! sha256:928d22ed126285e42173e257cd891cc7fb4d1a4debef294f3f33280e16a03998
//! ```
//! Only sha256 is supported: it is what every registry and image tool writes.

use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use sha2::{Digest as _, Sha256};

/// A sha256 content digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

/// A string that is not a `sha256:<64 lowercase hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: {problem} (expected sha256:<64 lowercase hex digits>)")]
pub struct DigestError {
    /// The rejected input.
    pub input: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl Digest {
    /// Parses `sha256:<hex>`.
    pub fn parse(input: &str) -> Result<Digest, DigestError> {
        let err = |problem| DigestError {
            input: input.to_string(),
            problem,
        };
        let (algo, hex) = input
            .split_once(':')
            .ok_or_else(|| err("no algorithm prefix"))?;
        if algo != "sha256" {
            return Err(err("unsupported algorithm"));
        }
        if hex.len() != 64 {
            return Err(err("wrong length"));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err("not lowercase hex"));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    fn from_hasher(hasher: Sha256) -> Digest {
        Digest {
            hex: hex(&hasher.finalize()),
        }
    }

    /// The 64 hex digits, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// A short form for progress lines: `sha256:928d22ed1262`.
    pub fn short(&self) -> String {
        format!("sha256:{}", &self.hex[..12])
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a [`Hashing`] stream saw once its inner stream ended: digest and byte count.
pub type Seen = (Digest, u64);

/// Passes a byte stream through unchanged while computing its sha256 and counting bytes
/// (also into a shared progress counter). When the inner stream ends, the digest and
/// count are sent on the oneshot; if the stream is dropped before its end, nothing is
/// sent, so the receiver learns the upload did not complete.
pub struct Hashing<S> {
    inner: S,
    hasher: Sha256,
    count: u64,
    expected: Option<u64>,
    progress: Arc<AtomicU64>,
    done: Option<tokio::sync::oneshot::Sender<Seen>>,
}

impl<S> Hashing<S> {
    /// Wraps `inner`; returns the stream and the receiver of its final digest. With
    /// `expected` bytes, the digest is sent as soon as that many have passed: an HTTP
    /// body with a Content-Length is not polled again after its last byte.
    pub fn new(
        inner: S,
        expected: Option<u64>,
        progress: Arc<AtomicU64>,
    ) -> (Hashing<S>, tokio::sync::oneshot::Receiver<Seen>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let stream = Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
            expected,
            progress,
            done: Some(tx),
        };
        (stream, rx)
    }

    fn finish(&mut self) {
        if let Some(tx) = self.done.take() {
            let hasher = std::mem::take(&mut self.hasher);
            let _ = tx.send((Digest::from_hasher(hasher), self.count));
        }
    }
}

impl<S, E> Stream for Hashing<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    type Item = Result<Bytes, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if this.done.is_some() {
                    this.hasher.update(&chunk);
                }
                this.count += chunk.len() as u64;
                this.progress
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                if this.expected == Some(this.count) {
                    this.finish();
                } else if this.expected.is_some_and(|e| this.count > e) {
                    // Too long: drop the sender so the upload is not committed.
                    this.done = None;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert_eq!(d.short(), "sha256:e3b0c44298fc");
    }

    #[test]
    fn rejects_with_the_input_named() {
        for bad in ["", "sha256", "md5:abc", "sha256:ABC", "sha256:1234"] {
            let e = Digest::parse(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[tokio::test]
    async fn hashing_stream_reports_digest_and_count() {
        use futures_util::StreamExt;
        let chunks = vec![
            Ok::<_, std::io::Error>(Bytes::from_static(b"hello ")),
            Ok(Bytes::from_static(b"world")),
        ];
        let progress = Arc::new(AtomicU64::new(0));
        let (s, rx) = Hashing::new(futures_util::stream::iter(chunks), None, progress.clone());
        let out: Vec<_> = s.collect().await;
        assert_eq!(out.len(), 2);
        let (d, n) = rx.await.unwrap();
        assert_eq!(d, Digest::of(b"hello world"));
        assert_eq!(n, 11);
        assert_eq!(progress.load(Ordering::Relaxed), 11);
    }
}
