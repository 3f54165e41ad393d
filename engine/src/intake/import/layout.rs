//! Deciding what a file's columns mean from its first rows: where the header is (there
//! may be a title above it), which column holds the phone, the geo, the name, and what to
//! call every other column when it is kept as an attribute.

use std::collections::HashSet;

use super::mapping::{ColumnMapping, ColumnRef, Field, normalise_header};
use super::source::{Format, Row};
use crate::intake::phone::{self, Region};
use crate::platform::error::{Error, Location, Result};

/// How many rows are looked at to find the header.
pub const HEADER_SEARCH_ROWS: usize = 20;

/// VICIdial's standard lead layout, by 0-based position.
pub(crate) const VICIDIAL_FIELDS: [&str; 23] = [
    "vendor_lead_code",
    "source_id",
    "list_id",
    "phone_code",
    "phone_number",
    "title",
    "first_name",
    "middle_initial",
    "last_name",
    "address1",
    "address2",
    "address3",
    "city",
    "state",
    "province",
    "postal_code",
    "country_code",
    "gender",
    "date_of_birth",
    "alt_phone",
    "email",
    "security_phrase",
    "comments",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub phone: usize,
    pub phone_code: Option<usize>,
    pub geo: Option<usize>,
    /// Where the header is, if there is one; data starts below it.
    pub header_row: Option<u64>,
    /// The attribute name of every column other than phone and phone code, by position;
    /// the name column is called `name`.
    pub attribute_names: Vec<(usize, String)>,
}

impl Layout {
    /// Whether a row is data (below the header, not blank).
    pub fn is_data(&self, row: &Row) -> bool {
        self.header_row.is_none_or(|h| row.number > h) && !row.is_empty()
    }
}

/// Decides the layout from the first rows of the file (up to [`HEADER_SEARCH_ROWS`]
/// non-blank ones).
pub fn decide(
    file: &str,
    format: Format,
    mapping: &ColumnMapping,
    region: Option<Region>,
    first_rows: &[Row],
) -> Result<Layout> {
    let located = |row, column, message| bad_file_at(file, row, column, message);
    if first_rows.is_empty() {
        return Err(located(None, None, "the file holds no rows".into()));
    }
    if format == Format::Vicidial && mapping.is_empty() {
        let width = first_rows.iter().map(Row::len).max().unwrap_or(0);
        if width < 5 {
            return Err(located(
                Some(first_rows[0].number),
                None,
                format!(
                    "a VICIdial lead row has the phone at position 4 (0-based), but this row has {width} fields"
                ),
            ));
        }
        let names = (0..width)
            .filter(|c| *c != 3 && *c != 4)
            .map(|c| {
                (c, VICIDIAL_FIELDS.get(c).map_or_else(|| format!("column_{}", c + 1), |n| (*n).to_owned()))
            })
            .collect();
        return Ok(Layout {
            phone: 4,
            phone_code: Some(3),
            geo: None,
            header_row: None,
            attribute_names: names,
        });
    }

    if !mapping.is_empty() {
        return from_mapping(file, mapping, region, first_rows);
    }

    // A header row: the first row with a cell that names the phone field.
    for row in first_rows {
        if let Some(phone) = row.cells().position(|c| Field::recognise(c) == Some(Field::Phone)) {
            let recognised = |field: Field| row.cells().position(|c| Field::recognise(c) == Some(field));
            return Ok(with_header(
                row,
                phone,
                recognised(Field::PhoneCode),
                recognised(Field::Geo),
                attribute_fields(recognised),
            ));
        }
    }

    // No header names the phone: look for the column whose cells are phone numbers.
    let width = first_rows.iter().map(Row::len).max().unwrap_or(0);
    let phone_like = |row: &Row, column: usize| phone::normalise(row.cell(column), region).is_ok();
    let best = (0..width)
        .map(|column| (column, first_rows.iter().filter(|r| phone_like(r, column)).count()))
        .filter(|(_, hits)| *hits > 0)
        .max_by_key(|(column, hits)| (*hits, usize::MAX - column));
    if let Some((phone, hits)) = best {
        let first_data = first_rows.iter().position(|r| phone_like(r, phone)).unwrap_or(0);
        // Most rows after the first number must hold numbers too, or this is a stray value.
        if hits * 2 >= first_rows.len() - first_data {
            if first_data == 0 {
                let names =
                    (0..width).filter(|c| *c != phone).map(|c| (c, format!("column_{}", c + 1))).collect();
                return Ok(Layout {
                    phone,
                    phone_code: None,
                    geo: None,
                    header_row: None,
                    attribute_names: names,
                });
            }
            // The row just above the first number is a header whose words we do not know.
            let header = &first_rows[first_data - 1];
            let recognised = |field: Field| header.cells().position(|c| Field::recognise(c) == Some(field));
            return Ok(with_header(
                header,
                phone,
                None,
                recognised(Field::Geo),
                attribute_fields(recognised),
            ));
        }
    }

    let headers: Vec<&str> = first_rows[0].cells().filter(|c| !c.is_empty()).take(12).collect();
    Err(located(
        Some(first_rows[0].number),
        None,
        format!(
            "no phone column found: no header is a phone header (phone, telephone, tel, mobile, телефон, номер ...) and no column holds phone numbers; the first row reads [{}]. Name the column with --map phone=N",
            headers.join(" | ")
        ),
    ))
}

fn bad_file_at(file: &str, row: Option<u64>, column: Option<String>, message: String) -> Error {
    Error::bad_file(Location { file: file.to_owned(), row, column }, message)
}

/// The columns of the fields kept as attributes under their own key (name, consent).
fn attribute_fields(position: impl Fn(Field) -> Option<usize>) -> Vec<(usize, &'static str)> {
    Field::ATTRIBUTES.into_iter().filter_map(|f| position(f).map(|c| (c, f.key()))).collect()
}

fn with_header(
    header: &Row,
    phone: usize,
    phone_code: Option<usize>,
    geo: Option<usize>,
    named: Vec<(usize, &'static str)>,
) -> Layout {
    let mut used = HashSet::new();
    let attribute_names = (0..header.len())
        .filter(|c| *c != phone && Some(*c) != phone_code)
        .map(|c| {
            let base = if let Some((_, key)) = named.iter().find(|(column, _)| *column == c) {
                (*key).to_owned()
            } else {
                let text = header.cell(c);
                if text.is_empty() { format!("column_{}", c + 1) } else { text.to_owned() }
            };
            let mut key = base.clone();
            let mut n = 2;
            while !used.insert(key.clone()) {
                key = format!("{base}_{n}");
                n += 1;
            }
            (c, key)
        })
        .collect();
    Layout { phone, phone_code, geo, header_row: Some(header.number), attribute_names }
}

fn from_mapping(
    file: &str,
    mapping: &ColumnMapping,
    region: Option<Region>,
    first_rows: &[Row],
) -> Result<Layout> {
    let located = |row, column, message| bad_file_at(file, row, column, message);
    let Some(phone_ref) = mapping.get(Field::Phone) else {
        return Err(Error::invalid("mapping", "it must name the phone column, e.g. phone=3"));
    };
    let width = first_rows.iter().map(Row::len).max().unwrap_or(0);
    if mapping.is_positional() {
        let position = |field: Field| match mapping.get(field) {
            Some(ColumnRef::Position(p)) => Some(p - 1),
            _ => None,
        };
        let phone = position(Field::Phone).unwrap_or(0);
        if phone >= width {
            return Err(located(
                Some(first_rows[0].number),
                Some(phone_ref.to_string()),
                format!("the mapping puts the phone in column {}, but rows have {width} columns", phone + 1),
            ));
        }
        // The first row is a header when its phone cell is a word, not a number.
        let first = &first_rows[0];
        let header_like = phone::normalise(first.cell(phone), region).is_err()
            && first.cell(phone).chars().any(char::is_alphabetic);
        let (geo, code) = (position(Field::Geo), position(Field::PhoneCode));
        let named = attribute_fields(position);
        if header_like {
            return Ok(with_header(first, phone, code, geo, named));
        }
        let names = (0..width)
            .filter(|c| *c != phone && Some(*c) != code)
            .map(|c| {
                let key = named.iter().find(|(column, _)| *column == c).map(|(_, key)| (*key).to_owned());
                (c, key.unwrap_or_else(|| format!("column_{}", c + 1)))
            })
            .collect();
        return Ok(Layout { phone, phone_code: code, geo, header_row: None, attribute_names: names });
    }
    // Columns named by header: find the row that has the phone's header.
    let matches = |cell: &str, wanted: &ColumnRef| match wanted {
        ColumnRef::Header(h) => normalise_header(cell) == normalise_header(h),
        ColumnRef::Position(_) => false,
    };
    for row in first_rows {
        if let Some(phone) = row.cells().position(|c| matches(c, phone_ref)) {
            let find = |field: Field| match mapping.get(field) {
                Some(ColumnRef::Position(p)) => Some(p - 1),
                Some(header) => row.cells().position(|c| matches(c, header)),
                None => row.cells().position(|c| Field::recognise(c) == Some(field)),
            };
            for field in [Field::Geo, Field::Name, Field::PhoneCode, Field::ConsentAt, Field::ConsentSource] {
                if let (Some(wanted), None) = (mapping.get(field), find(field)) {
                    return Err(located(
                        Some(row.number),
                        Some(wanted.to_string()),
                        format!(
                            "the mapping names '{wanted}' for {field}, but the header has no such column"
                        ),
                    ));
                }
            }
            return Ok(with_header(
                row,
                phone,
                find(Field::PhoneCode),
                find(Field::Geo),
                attribute_fields(find),
            ));
        }
    }
    Err(located(
        Some(first_rows[0].number),
        Some(phone_ref.to_string()),
        format!("the mapping names '{phone_ref}' as the phone column, but no header row has it"),
    ))
}
