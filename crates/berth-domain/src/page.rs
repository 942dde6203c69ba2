use crate::ValidationError;

/// A page request: `limit` (default 20, at most 100) and `offset`. Lists are newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    limit: u64,
    offset: u64,
}

impl Page {
    pub const DEFAULT_LIMIT: u64 = 20;
    pub const MAX_LIMIT: u64 = 100;

    pub fn parse(limit: Option<i64>, offset: Option<i64>) -> Result<Self, ValidationError> {
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            Some(l) if (1..=Self::MAX_LIMIT as i64).contains(&l) => l as u64,
            Some(_) => {
                return Err(ValidationError::field(
                    "limit",
                    format!("must be between 1 and {}", Self::MAX_LIMIT),
                ))
            }
        };
        let offset = match offset {
            None => 0,
            Some(o) if o >= 0 => o as u64,
            Some(_) => return Err(ValidationError::field("offset", "must not be negative")),
        };
        Ok(Self { limit, offset })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            limit: Self::DEFAULT_LIMIT,
            offset: 0,
        }
    }
}

/// One page of a list, with the total number of items the list has.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub limit: u64,
    pub offset: u64,
}

impl<T> Paginated<T> {
    pub fn new(items: Vec<T>, total: u64, page: Page) -> Self {
        Self {
            items,
            total,
            limit: page.limit(),
            offset: page.offset(),
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paginated<U> {
        Paginated {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            limit: self.limit,
            offset: self.offset,
        }
    }
}

/// Where a list read newest first goes on: the time and id of the last entry a page showed.
/// A client passes it back as it came (its text form is berth's, not a contract), so a page
/// costs the same wherever it is in the list, and entries added meanwhile do not shift it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub at: chrono::DateTime<chrono::Utc>,
    pub id: i64,
}

impl Cursor {
    /// The form every cursor has, for the API's document: microseconds since 1970 (at most 17
    /// digits, so always a time berth can hold), `_`, the entry's id.
    pub const PATTERN: &'static str = "^-?[0-9]{1,17}_[0-9]{1,18}$";

    /// Reads a cursor of the form [`Self::PATTERN`]; anything else is an error of `field`.
    pub fn parse(field: &str, s: &str) -> Result<Self, ValidationError> {
        let bad = || ValidationError::field(field, "is not a cursor a page of this list gave");
        let (at, id) = s.split_once('_').ok_or_else(bad)?;
        let digits = |d: &str, most: usize| {
            (1..=most).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(at.strip_prefix('-').unwrap_or(at), 17) || !digits(id, 18) {
            return Err(bad());
        }
        let at = at.parse::<i64>().map_err(|_| bad())?;
        let id = id.parse::<i64>().map_err(|_| bad())?;
        let at = chrono::DateTime::from_timestamp_micros(at).ok_or_else(bad)?;
        Ok(Self { at, id })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.at.timestamp_micros(), self.id)
    }
}

/// One page of a list read by [`Cursor`]: the items, and the cursor of the next page when
/// there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorPage<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Page::parse(None, None).unwrap(), Page::default());
        assert_eq!(Page::parse(Some(100), Some(5)).unwrap().limit(), 100);
        assert!(Page::parse(Some(101), None).is_err());
        assert!(Page::parse(Some(0), None).is_err());
        let e = Page::parse(None, Some(-1)).unwrap_err();
        assert_eq!(e.errors[0].field, "offset");
    }

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_nothing_else() {
        let c = Cursor {
            at: chrono::DateTime::from_timestamp_micros(1_764_626_400_123_456).unwrap(),
            id: 42,
        };
        assert_eq!(Cursor::parse("cursor", &c.to_string()).unwrap(), c);
        // The widest a pattern-shaped cursor gets is a time berth can hold.
        for edge in [
            "-99999999999999999_1",
            "99999999999999999_999999999999999999",
        ] {
            assert!(Cursor::parse("cursor", edge).is_ok(), "{edge}");
        }
        for bad in [
            "",
            "42",
            "x_1",
            "1_x",
            "1_2_3",
            "99999999999999999999_1",
            "123456789012345678_1",
            "+1_2",
            "1_-2",
            "1_+2",
            " 1_2",
        ] {
            let e = Cursor::parse("cursor", bad).unwrap_err();
            assert_eq!(e.errors[0].field, "cursor", "{bad}");
        }
    }
}
