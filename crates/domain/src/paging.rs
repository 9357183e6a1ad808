//! Keyset paging: a cursor names the last row seen, so a page costs the same at any depth.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Invalid;

pub const DEFAULT_LIMIT: u32 = 25;
pub const MAX_LIMIT: u32 = 100;

/// Position after the last row of a page: its sort key and id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}:{}", self.key, self.id))
    }

    pub fn decode(s: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::field("cursor", "is not a cursor returned by this API");
        if s.len() > 64 {
            return Err(bad());
        }
        let raw = URL_SAFE_NO_PAD.decode(s).map_err(|_| bad())?;
        let raw = String::from_utf8(raw).map_err(|_| bad())?;
        let (key, id) = raw.split_once(':').ok_or_else(bad)?;
        Ok(Self {
            key: key.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

/// A page request: how many rows, after which cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub after: Option<Cursor>,
}

impl PageRequest {
    pub fn parse(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, Invalid> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Invalid::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let after = cursor
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()?;
        Ok(Self { limit, after })
    }
}

/// One page of results and the cursor for the next, if there is one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says that more exist.
    pub fn from_overfetch(mut rows: Vec<T>, limit: u32, cursor_of: impl Fn(&T) -> Cursor) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        Self { items: rows, next }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        let c = Cursor {
            key: 1_700_000_000_000,
            id: 42,
        };
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        assert!(Cursor::decode("garbage!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("1:x")).is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(101), None).is_err());
        assert_eq!(
            PageRequest::parse(None, None).map(|p| p.limit),
            Ok(DEFAULT_LIMIT)
        );
    }

    #[test]
    fn overfetch_sets_next() {
        let p = Page::from_overfetch(vec![1, 2, 3], 2, |x| Cursor { key: *x, id: *x });
        assert_eq!(p.items, vec![1, 2]);
        assert_eq!(p.next, Some(Cursor { key: 2, id: 2 }));
        let p = Page::from_overfetch(vec![1, 2], 2, |x| Cursor { key: *x, id: *x });
        assert_eq!(p.next, None);
    }
}
