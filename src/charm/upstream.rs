//! A pull-through cache's upstream (`cache-remoteurl`) after the registry refused a
//! config because of it (docs/operating.md#pull-through-cache).
//!
//! The registry (2.8) sends `GET <remoteurl>/v2/` when it starts as a cache and exits when
//! that gets no answer; `refusal` then goes back to the last good config and blocks, and
//! does not try the refused config again by itself (no restart loop). While the refusal
//! names `cache-remoteurl` alone, each hook asks the upstream the same question, the way
//! the registry will (same proxy settings, the system's CAs), which costs no restart.
//! Once the charm has itself seen the upstream give no answer and then answer, the
//! refused config is tried again, once: a registry that still refuses it (for a reason
//! the charm's question does not see) is rolled back and waits for the next such turn
//! instead of looping.

use std::time::Duration;

use crate::config::{CharmConfig, HttpUrl};
use crate::registry_client::{Client, ClientOptions, Error as ClientError};

use super::local::Refused;

/// How long the question may take: short, since it is asked at each hook while refused.
pub const ASK_WITHIN: Duration = Duration::from_secs(5);

/// Where to ask, and through which proxy (the registry's own environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `cache-remoteurl`.
    pub url: HttpUrl,
    /// `registry-http-proxy`.
    pub http_proxy: Option<String>,
    /// `registry-https-proxy`.
    pub https_proxy: Option<String>,
}

/// What the upstream said to `GET /v2/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer: the registry would start on it.
    Answered,
    /// No answer; why, on one line.
    Unreachable(String),
}

/// The upstream to ask this hook: only while the registry's refusal names
/// `cache-remoteurl` alone and the config still has one.
pub fn due(refused: Option<&Refused>, config: Option<&CharmConfig>) -> Option<Target> {
    let refused = refused?;
    if refused.options != ["cache-remoteurl"] {
        return None;
    }
    let config = config?;
    let proxy = config.proxy.as_ref()?;
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    Some(Target {
        url: proxy.remote_url.clone(),
        http_proxy: nonempty(&config.registry_http_proxy),
        https_proxy: nonempty(&config.registry_https_proxy),
    })
}

/// What a refusal leads to, given this hook's answer (if asked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The upstream answers after the charm saw it give none: try the config again.
    Retry,
    /// Stay refused, remembering this.
    Stay(Refused),
}

/// Decides whether a refused cache config is tried again (pure).
pub fn next(refused: &Refused, answer: Option<&Answer>) -> Next {
    match answer {
        Some(Answer::Answered) if refused.upstream_down => Next::Retry,
        Some(Answer::Unreachable(_)) => Next::Stay(Refused {
            upstream_down: true,
            ..refused.clone()
        }),
        _ => Next::Stay(refused.clone()),
    }
}

/// Asks the upstream `GET /v2/` as the registry will at start (real effect).
pub fn ask(target: &Target) -> Answer {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return Answer::Unreachable(format!("cannot start the HTTP client: {e}")),
    };
    let opts = ClientOptions {
        scheme: Some(target.url.scheme()),
        http_proxy: target.http_proxy.clone(),
        https_proxy: target.https_proxy.clone(),
        ..ClientOptions::new()
    };
    let host = target.url.netloc();
    let asked = runtime
        .block_on(async { tokio::time::timeout(ASK_WITHIN, Client::connect(&host, opts)).await });
    match asked {
        Err(_) => Answer::Unreachable(format!("no answer within {}s", ASK_WITHIN.as_secs())),
        Ok(Ok(_)) => Answer::Answered,
        Ok(Err(ClientError::Unreachable { detail, .. })) => {
            Answer::Unreachable(root_cause(&detail))
        }
        Ok(Err(ClientError::Tls { detail, .. })) => {
            Answer::Unreachable(format!("TLS: {}", root_cause(&detail)))
        }
        // It answered, if oddly (a 5xx, a challenge): the registry starts on that.
        Ok(Err(_)) => Answer::Answered,
    }
}

/// The last two causes of an error chain (`a: b: c: d` gives `c: d`): what failed,
/// without the URL and the library's wrapping.
fn root_cause(chain: &str) -> String {
    let parts: Vec<&str> = chain.split(": ").collect();
    parts[parts.len().saturating_sub(2)..].join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(down: bool) -> Refused {
        Refused {
            running: "r".into(),
            config_sha256: "c".into(),
            message: "m".into(),
            options: vec!["cache-remoteurl".into()],
            upstream_down: down,
        }
    }

    #[test]
    fn root_cause_keeps_what_failed() {
        let chain = "error sending request for url (http://10.0.0.5:5999/v2/): client error \
                     (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(
            root_cause(chain),
            "tcp connect error: Connection refused (os error 111)"
        );
        assert_eq!(root_cause("refused"), "refused");
    }

    #[test]
    fn retried_only_after_seeing_the_upstream_down_then_answering() {
        let down = Answer::Unreachable("refused".into());
        assert_eq!(
            next(&refused(false), Some(&Answer::Answered)),
            Next::Stay(refused(false))
        );
        assert_eq!(
            next(&refused(false), Some(&down)),
            Next::Stay(refused(true))
        );
        assert_eq!(next(&refused(true), Some(&down)), Next::Stay(refused(true)));
        assert_eq!(next(&refused(true), None), Next::Stay(refused(true)));
        assert_eq!(next(&refused(true), Some(&Answer::Answered)), Next::Retry);
    }
}
