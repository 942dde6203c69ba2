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
}
