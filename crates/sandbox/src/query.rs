//! The query strings of the `/v3` GET routes: parameters (the last value winning), `limit`, and
//! paging by opaque cursors with `_links.next`, in Constant Contact's style.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Query parameters, the last value winning.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first parameter whose name is not in `known`.
    pub fn unknown(&self, known: &[&str]) -> Option<&str> {
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !known.contains(n))
    }

    /// `limit`: 1..=max, default 50.
    pub fn limit(&self, max: usize) -> Result<usize, String> {
        match self.get("limit") {
            None => Ok(50),
            Some(raw) => match raw.parse::<usize>() {
                Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
                _ => Err(format!("limit must be an integer from 1 to {max}")),
            },
        }
    }
}

/// A request for one page of a paged route: `limit`, and where the page starts with which query.
pub struct PageRequest<Q> {
    pub limit: usize,
    pub offset: usize,
    pub query: Q,
}

/// What a page's cursor carries: where the next page starts, and the first page's query whole,
/// so that following `_links.next.href` gives the same kind of page.
#[derive(Deserialize, Serialize)]
struct Cursor<Q> {
    offset: usize,
    #[serde(flatten)]
    query: Q,
}

impl<Q: Serialize + DeserializeOwned> PageRequest<Q> {
    /// `limit` (1..=`max`, default 50), then a `cursor` from an earlier page or, without one,
    /// the first page's query as `first` reads it.
    pub fn parse(
        params: &QueryParams,
        max: usize,
        first: impl FnOnce(&QueryParams) -> Result<Q, String>,
    ) -> Result<Self, String> {
        let limit = params.limit(max)?;
        let (offset, query) = match params.get("cursor") {
            Some(cursor) => {
                let Cursor { offset, query } =
                    decode_cursor(cursor).ok_or("cursor does not have a valid value")?;
                (offset, query)
            }
            None => (0, first(params)?),
        };
        Ok(Self {
            limit,
            offset,
            query,
        })
    }

    /// This page of `items`, and the `_links` to the next page of `path` if there is more
    /// (relative to the API host, like CC's).
    pub fn page<T>(&self, items: Vec<T>, path: &str) -> (Vec<T>, Option<Value>) {
        let total = items.len();
        let page: Vec<T> = items
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        let end = self.offset.saturating_add(self.limit);
        let links = (end < total).then(|| {
            let cursor = encode_cursor(&Cursor {
                offset: end,
                query: &self.query,
            });
            let limit = self.limit;
            json!({ "next": { "href": format!("{path}?cursor={cursor}&limit={limit}") } })
        });
        (page, links)
    }
}

/// An opaque cursor (base64url JSON: URL-safe as it stands).
pub fn encode_cursor(query: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(query).expect("a cursor serializes"))
}

pub fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

/// The query of a paged route that takes no filters.
#[derive(Deserialize, Serialize)]
pub struct NoFilters {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query string of a page's `_links.next.href`, and the JSON inside its cursor.
    fn next(links: Option<Value>) -> (String, Value) {
        let links = links.expect("a next page");
        let href = links["next"]["href"].as_str().unwrap();
        let query = href.split_once('?').unwrap().1.to_owned();
        let cursor = QueryParams::parse(Some(&query))
            .get("cursor")
            .map(|c| URL_SAFE_NO_PAD.decode(c).unwrap())
            .unwrap();
        (query, serde_json::from_slice(&cursor).unwrap())
    }

    /// A later page: everything it needs is in its cursor.
    fn later<Q: Serialize + DeserializeOwned>(query: &str) -> PageRequest<Q> {
        PageRequest::parse(&QueryParams::parse(Some(query)), 100, |_| {
            Err("a cursor page reads no other parameter".to_owned())
        })
        .unwrap()
    }

    #[test]
    fn following_next_links_walks_every_item_once_at_the_same_limit() {
        let items = || vec![1, 2, 3, 4, 5];
        let first = PageRequest::parse(&QueryParams::parse(Some("limit=2")), 100, |_| {
            Ok(NoFilters {})
        })
        .unwrap();
        let (page, links) = first.page(items(), "/v3/things");
        assert_eq!(page, [1, 2]);
        let (query, cursor) = next(links);
        assert!(
            query.starts_with("cursor=") && query.ends_with("&limit=2"),
            "{query}"
        );
        assert_eq!(cursor, json!({ "offset": 2 }));

        let (page, links) = later::<NoFilters>(&query).page(items(), "/v3/things");
        assert_eq!(page, [3, 4]);
        let (query, _) = next(links);
        let (page, links) = later::<NoFilters>(&query).page(items(), "/v3/things");
        assert_eq!(page, [5]);
        assert!(links.is_none());
    }

    #[test]
    fn a_cursor_carries_the_first_pages_query_whole() {
        #[derive(Deserialize, Serialize)]
        struct Filter {
            name: Option<String>,
            deleted_only: bool,
        }
        let params = QueryParams::parse(Some("limit=1&name=Events"));
        let first = PageRequest::parse(&params, 100, |p| {
            Ok(Filter {
                name: p.get("name").map(str::to_owned),
                deleted_only: false,
            })
        })
        .unwrap();
        let (_, links) = first.page(vec!["a", "b"], "/v3/lists");
        let (query, cursor) = next(links);
        assert_eq!(
            cursor,
            json!({ "offset": 1, "name": "Events", "deleted_only": false })
        );
        let second = later::<Filter>(&query);
        assert_eq!((second.offset, second.limit), (1, 1));
        assert_eq!(second.query.name.as_deref(), Some("Events"));
    }

    #[test]
    fn a_bad_limit_or_cursor_is_refused() {
        for query in ["limit=0", "limit=101", "limit=x", "cursor=not-a-cursor"] {
            let parsed =
                PageRequest::parse(&QueryParams::parse(Some(query)), 100, |_| Ok(NoFilters {}));
            assert!(parsed.is_err(), "{query}");
        }
    }
}
