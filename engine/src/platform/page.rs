//! Keyset pagination. A list is ordered by one whitelisted column and the row id; the
//! cursor carries the last row's (value, id), so page 10,000 costs what page 1 does.
//! Column names come from each list's fixed table of sort keys, never from the caller.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tokio_postgres::Row;

use crate::platform::error::{Error, Result};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// One way a list can be ordered: the name a caller uses and the SQL behind it.
#[derive(Debug, Clone, Copy)]
pub struct SortKey {
    pub name: &'static str,
    /// A column expression of the list's query, e.g. `lower(u.email)`; never NULL.
    pub column: &'static str,
    /// The type the cursor's text value is cast back to, e.g. `text`, `timestamptz`.
    pub sql_type: &'static str,
}

/// A page as the caller asked for it: `sort` is `name` or `-name` (descending).
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub sort: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Cursor {
    /// The sort it was made for; a cursor is refused under another sort.
    s: String,
    /// The last row's sort value as PostgreSQL prints it (`column::text`).
    v: Option<String>,
    id: i64,
}

/// A resolved page: what a list query needs to build its ORDER BY and keyset clause.
#[derive(Debug, Clone)]
pub struct Keyset {
    pub key: SortKey,
    pub descending: bool,
    pub limit: i64,
    after: Option<Cursor>,
    sort_label: String,
}

impl Keyset {
    /// Checks the request against the list's sort keys; the first is the default.
    pub fn resolve(request: &PageRequest, keys: &[SortKey]) -> Result<Keyset> {
        let sort_label = request.sort.clone().unwrap_or_else(|| keys[0].name.to_owned());
        let (descending, name) = match sort_label.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, sort_label.as_str()),
        };
        let key = *keys.iter().find(|k| k.name == name).ok_or_else(|| {
            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
            Error::invalid(
                "sort",
                format!("'{name}' is not one of {} (prefix - to reverse)", names.join(", ")),
            )
        })?;
        let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let after = match &request.cursor {
            None => None,
            Some(text) => {
                let cursor: Cursor = URL_SAFE_NO_PAD
                    .decode(text)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                    .ok_or_else(|| Error::invalid("cursor", "is not a cursor this list gave out"))?;
                if cursor.s != sort_label {
                    return Err(Error::invalid("cursor", "was made for another sort order"));
                }
                Some(cursor)
            }
        };
        Ok(Keyset { key, descending, limit, after, sort_label })
    }

    /// `(value, id)` of the cursor, to bind as the two parameters [`Keyset::clause`] names.
    pub fn after(&self) -> (Option<String>, Option<i64>) {
        match &self.after {
            Some(c) => (c.v.clone(), Some(c.id)),
            None => (None, None),
        }
    }

    /// `AND (...)` that starts the page after the cursor; `$v` and `$id` are the
    /// placeholders the caller binds to [`Keyset::after`]. True when there is no cursor.
    /// Sort columns are NOT NULL, so the clause is a plain (row) comparison the planner
    /// turns into an index range: anything fancier (NULL branches, ORs) makes PostgreSQL
    /// 15 read the whole table to find page 10,000.
    pub fn clause(&self, id_column: &str, v: usize, id: usize) -> String {
        let col = self.key.column;
        let ty = self.key.sql_type;
        let cmp = if self.descending { '<' } else { '>' };
        if col == id_column {
            // `$v` is the same value as `$id` here; it is still typed so that every list
            // binds the same parameters, and PostgreSQL folds the test away.
            format!("AND (${v}::text IS NULL OR TRUE) AND (${id}::bigint IS NULL OR {col} {cmp} ${id})")
        } else {
            format!("AND (${id}::bigint IS NULL OR ({col}, {id_column}) {cmp} (${v}::text::{ty}, ${id}))")
        }
    }

    pub fn order_by(&self, id_column: &str) -> String {
        let dir = if self.descending { "DESC" } else { "ASC" };
        format!("ORDER BY {} {dir}, {id_column} {dir}", self.key.column)
    }

    /// Fetch one row more than the page holds to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.limit + 1
    }

    /// Cuts the extra row off, converts the rest and makes the next cursor from the last
    /// row kept. Every list query selects its sort column as text in `sort_value`.
    pub fn page_of<T>(
        &self,
        rows: &[Row],
        id_column: &str,
        convert: impl Fn(&Row) -> Result<T>,
    ) -> Result<Page<T>> {
        let more = rows.len() as i64 > self.limit;
        let kept = &rows[..rows.len().min(self.limit as usize)];
        let next_cursor = match kept.last() {
            Some(last) if more => {
                let cursor =
                    Cursor { s: self.sort_label.clone(), v: last.get("sort_value"), id: last.get(id_column) };
                Some(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&cursor).unwrap_or_default()))
            }
            _ => None,
        };
        Ok(Page { items: kept.iter().map(convert).collect::<Result<_>>()?, next_cursor })
    }
}

/// One page of a list and the cursor of the next, absent on the last page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
