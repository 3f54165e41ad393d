//! VICIdial's standard lead-loader layout (`admin_listloader`): vendor_lead_code,
//! source_id, list_id, phone_code, phone_number, title, first_name, middle_initial,
//! last_name, address1, address2, address3, city, state, province, postal_code,
//! country_code, gender, date_of_birth, alt_phone, email, security_phrase, comments, rank,
//! owner — tab-separated, no header. The loader strips quotes and splits on the
//! delimiter, so those characters are blanked out of every value.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;

use crate::platform::error::{Error, Result};

const FIELDS: usize = 25;

/// The lead fields taken from attributes: position in the layout, other attribute
/// names that mean the same, and the width of VICIdial's `vicidial_list` column.
const LEAD_FIELDS: &[(usize, &[&str], usize)] = &[
    (5, &[], 4),
    (6, &[], 30),
    (7, &[], 1),
    (8, &[], 30),
    (9, &["address"], 100),
    (10, &[], 100),
    (11, &[], 100),
    (12, &[], 50),
    (13, &[], 2),
    (14, &[], 50),
    (15, &["zip"], 10),
    (16, &[], 3),
    (17, &[], 1),
    (18, &["birth_date"], 10),
    (19, &[], 12),
    (20, &[], 70),
    (21, &[], 100),
    (22, &["note", "notes"], 255),
];

/// Country calling codes are prefix-free, so the first 1–3 digits that are one split
/// an E.164 number into VICIdial's phone_code and phone_number.
fn calling_codes() -> HashSet<u16> {
    rlibphonenumber::PHONE_NUMBER_UTIL
        .get_supported_calling_codes()
        .filter_map(|c| u16::try_from(c).ok())
        .collect()
}

fn split(e164: i64, codes: &HashSet<u16>) -> (String, String) {
    let digits = e164.to_string();
    for len in 1..=3.min(digits.len() - 1) {
        if let Ok(code) = digits[..len].parse::<u16>()
            && codes.contains(&code)
        {
            return (digits[..len].to_owned(), digits[len..].to_owned());
        }
    }
    (String::new(), digits)
}

fn clean(value: &str, width: usize) -> String {
    value
        .chars()
        .map(|c| if matches!(c, '\t' | '\r' | '\n' | '|' | '\'' | '"') { ' ' } else { c })
        .take(width)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn attribute<'a>(attributes: &'a serde_json::Value, keys: &[&str]) -> &'a str {
    keys.iter().find_map(|k| attributes.get(*k).and_then(|v| v.as_str())).unwrap_or("")
}

pub(super) fn write(
    path: &Path,
    list_id: i64,
    mut rows: super::Chunks<tokio_postgres::binary_copy::BinaryCopyOutRow>,
) -> Result<()> {
    let failed = |e: std::io::Error| Error::io(format!("writing {}", path.display()), e);
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).map_err(failed)?);
    let codes = calling_codes();
    let list_id = list_id.to_string();
    let empty = serde_json::Value::Null;
    let mut fields: Vec<String> = vec![String::new(); FIELDS];
    while let Some(chunk) = rows.blocking_recv() {
        for row in chunk {
            let phone: i64 = row.get(0);
            let attributes: Option<serde_json::Value> = row.get(4);
            let attributes = attributes.as_ref().unwrap_or(&empty);
            let (phone_code, national) = split(phone, &codes);
            let name = attribute(attributes, &["name", "full_name"]);
            let (first, last) = name.trim().split_once(' ').unwrap_or((name.trim(), ""));
            fields.iter_mut().for_each(String::clear);
            fields[0] = phone.to_string();
            fields[1] = clean(row.get::<&str>(1), 50);
            fields[2].clone_from(&list_id);
            fields[3] = phone_code;
            fields[4] = national;
            // Every lead field a VICIdial file brought comes back under its own
            // name (an import keeps them as attributes); the common other names and
            // the number's geo fill in where it brought none.
            for &(index, aliases, width) in LEAD_FIELDS {
                let name = crate::intake::import::layout::VICIDIAL_FIELDS[index];
                let value = match attribute(attributes, &[name]) {
                    "" => attribute(attributes, aliases),
                    value => value,
                };
                fields[index] = clean(value, width);
            }
            if fields[6].is_empty() && fields[8].is_empty() {
                fields[6] = clean(first, 30);
                fields[8] = clean(last, 30);
            }
            if fields[13].is_empty() {
                fields[13] = clean(row.get::<Option<&str>>(3).unwrap_or(""), 2);
            }
            if fields[16].is_empty() {
                fields[16] = row.get::<Option<&str>>(2).unwrap_or("").to_owned();
            }
            out.write_all(fields.join("\t").as_bytes()).map_err(failed)?;
            out.write_all(b"\r\n").map_err(failed)?;
        }
    }
    out.flush().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_split_at_their_calling_code() {
        let codes = calling_codes();
        assert_eq!(split(79161234567, &codes), ("7".into(), "9161234567".into()));
        assert_eq!(split(14155550100, &codes), ("1".into(), "4155550100".into()));
        assert_eq!(split(998901234567, &codes), ("998".into(), "901234567".into()));
        assert_eq!(split(442071234567, &codes), ("44".into(), "2071234567".into()));
    }

    #[test]
    fn values_lose_what_the_loader_would_split_or_strip() {
        assert_eq!(clean("O'Brien\t|x\"", 30), "O Brien  x");
        assert_eq!(clean("Анна Петрова", 4), "Анна");
    }
}
