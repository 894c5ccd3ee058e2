//! Catalog and tag listing, following `Link` pages.
//!
//! # Format
//! ```text
//! GET /v2/_catalog?n=100           {"repositories":["a","b"]}   Link: </v2/_catalog?last=b&n=100>; rel="next"
//! GET /v2/<repo>/tags/list?n=100   {"name":"a","tags":["v1"]}   (tags may be null)
//! ```

use reqwest::header::LINK;
use reqwest::Url;

use super::auth::Scope;
use super::client::Client;
use super::error::Result;

/// Page size asked for.
const PAGE: u32 = 100;
/// At most this many pages are followed (100 000 entries): a bound on a broken `Link`.
const MAX_PAGES: usize = 1000;

#[derive(serde::Deserialize)]
struct CatalogPage {
    #[serde(default)]
    repositories: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// The `rel="next"` target of a `Link` header, if any.
pub fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next");
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        is_next.then_some(target)
    })
}

impl Client {
    async fn pages<T: serde::de::DeserializeOwned>(
        &self,
        first: Url,
        what: &str,
        scope: Scope,
        mut take: impl FnMut(T),
    ) -> Result<()> {
        let mut url = first;
        for _ in 0..MAX_PAGES {
            let resp = self
                .send(what, std::slice::from_ref(&scope), || {
                    self.http.get(url.clone())
                })
                .await?;
            if !resp.status().is_success() {
                return Err(self.failure(what, resp).await);
            }
            let next = resp
                .headers()
                .get(LINK)
                .and_then(|h| h.to_str().ok())
                .and_then(next_link)
                .map(|l| self.resolve(l));
            let body = resp
                .bytes()
                .await
                .map_err(|e| super::error::transport(self.host(), &e))?;
            let page: T =
                serde_json::from_slice(&body).map_err(|e| super::error::Error::Status {
                    registry: self.host().to_string(),
                    what: what.to_string(),
                    status: 200,
                    detail: format!(": the answer is not the expected JSON: {e}"),
                })?;
            take(page);
            match next {
                Some(n) => url = n?,
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// Every repository in the registry.
    pub async fn catalog(&self) -> Result<Vec<String>> {
        let mut url = self.url("_catalog")?;
        url.query_pairs_mut().append_pair("n", &PAGE.to_string());
        let mut out = Vec::new();
        let what = format!("listing the catalog of {}", self.host());
        self.pages(url, &what, Scope::catalog(), |p: CatalogPage| {
            out.extend(p.repositories.unwrap_or_default())
        })
        .await?;
        Ok(out)
    }

    /// Every tag of `repo`.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let mut url = self.url(&format!("{repo}/tags/list"))?;
        url.query_pairs_mut().append_pair("n", &PAGE.to_string());
        let mut out = Vec::new();
        let what = format!("tags of {}/{repo}", self.host());
        self.pages(url, &what, self.scope(repo), |p: TagsPage| {
            out.extend(p.tags.unwrap_or_default())
        })
        .await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header() {
        assert_eq!(
            next_link(r#"</v2/_catalog?last=test%2Fhello&n=2>; rel="next""#),
            Some("/v2/_catalog?last=test%2Fhello&n=2")
        );
        assert_eq!(next_link(r#"</x>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }
}
