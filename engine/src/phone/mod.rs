//! Phone numbers to E.164: whatever way a provider wrote them, a number is stored as its
//! E.164 digits in a `bigint`, and what is not a valid number is rejected with a reason.

use std::fmt;
use std::str::FromStr;

use phonenumber::country;

use crate::error::{Error, Result};

/// An ISO 3166 alpha-2 region, used to read numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(country::Id);

impl Region {
    pub fn parse(code: &str) -> Result<Region> {
        country::Id::from_str(&code.trim().to_ascii_uppercase()).map(Region).map_err(|_| {
            Error::invalid("region", format!("'{code}' is not an ISO 3166 country code such as RU or US"))
        })
    }

    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_ref())
    }
}

/// A valid number: its E.164 digits and the country it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalised {
    pub e164: i64,
    pub country: Option<country::Id>,
}

impl Normalised {
    pub fn country_code(&self) -> Option<&str> {
        self.country.as_ref().map(|c| c.as_ref())
    }
}

/// Why a value is not a phone number; the message goes into the rejects file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    Empty,
    NotANumber(char),
    TooShort,
    TooLong,
    UnknownCountryCode,
    NoRegion,
    Invalid { region: Option<Region> },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Empty => f.write_str("empty phone"),
            Rejection::NotANumber(c) => write!(f, "not a phone number: contains '{c}'"),
            Rejection::TooShort => f.write_str("too short to be a phone number"),
            Rejection::TooLong => f.write_str("too long to be a phone number"),
            Rejection::UnknownCountryCode => f.write_str("unknown country calling code"),
            Rejection::NoRegion => {
                f.write_str("no country code and no default region: write it as +CC... or set --region")
            }
            Rejection::Invalid { region: Some(r) } => write!(f, "not a valid number (read with region {r})"),
            Rejection::Invalid { region: None } => f.write_str("not a valid number"),
        }
    }
}

/// Normalises one number. `region` reads numbers without a country code (national
/// formats, trunk prefixes such as Russia's 8); `+` and the `00` international prefix
/// always mean a country code follows.
pub fn normalise(raw: &str, region: Option<Region>) -> Result<Normalised, Rejection> {
    let mut digits = [0u8; 24];
    let mut len = 0usize;
    let mut plus = false;
    let mut seen_digit = false;
    for c in raw.chars() {
        match c {
            '0'..='9' => {
                if len == digits.len() {
                    return Err(Rejection::TooLong);
                }
                digits[len] = c as u8;
                len += 1;
                seen_digit = true;
            }
            '+' if !seen_digit && !plus => plus = true,
            ' ' | '\u{a0}' | '\t' | '(' | ')' | '-' | '.' | '/' | '\u{2010}'..='\u{2015}' => {}
            other => return Err(Rejection::NotANumber(other)),
        }
    }
    let mut digits = std::str::from_utf8(&digits[..len]).unwrap_or_default();
    if digits.is_empty() {
        return Err(Rejection::Empty);
    }
    if !plus && digits.len() > 2 && digits.starts_with("00") {
        plus = true;
        digits = &digits[2..];
    }
    if digits.len() < 4 {
        return Err(Rejection::TooShort);
    }
    if digits.len() > 17 {
        return Err(Rejection::TooLong);
    }
    // Digits with no country code and no region to read them with can only be tried as
    // international; if that fails, the missing region is what the user needs to hear.
    let guessed_international = !plus && region.is_none();
    let invalid = || {
        if guessed_international {
            Rejection::NoRegion
        } else {
            Rejection::Invalid { region: if plus { None } else { region } }
        }
    };
    let parsed = if plus || region.is_none() {
        let mut international = String::with_capacity(digits.len() + 1);
        international.push('+');
        international.push_str(digits);
        phonenumber::parse(None, &international)
    } else {
        phonenumber::parse(region.map(|r| r.0), digits)
    };
    let number = parsed.map_err(|e| match e {
        _ if guessed_international => Rejection::NoRegion,
        phonenumber::ParseError::InvalidCountryCode => Rejection::UnknownCountryCode,
        phonenumber::ParseError::TooShortNsn | phonenumber::ParseError::TooShortAfterIdd => {
            Rejection::TooShort
        }
        phonenumber::ParseError::TooLong => Rejection::TooLong,
        _ => invalid(),
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    let national = number.national();
    let national_digits =
        national.value().checked_ilog10().map_or(1, |l| l + 1) + u32::from(national.zeros());
    let e164 = u64::from(number.code().value())
        .checked_mul(10u64.pow(national_digits))
        .and_then(|v| v.checked_add(national.value()))
        .filter(|v| *v <= 999_999_999_999_999)
        .ok_or(Rejection::TooLong)?;
    Ok(Normalised { e164: e164 as i64, country: country_of(&number) })
}

/// The number's country; where the metadata names none for a valid number (it does so
/// for some Italian fixed lines), the main country of its calling code.
fn country_of(number: &phonenumber::PhoneNumber) -> Option<country::Id> {
    number.country().id().or_else(|| {
        phonenumber::metadata::DATABASE
            .by_code(&number.code().value())
            .and_then(|regions| regions.first().and_then(|m| m.id().parse().ok()))
    })
}

/// Reads one number a caller typed (an API field, a CLI argument): its E.164 digits, or
/// an invalid-argument error naming `field` and the value.
pub fn parse_input(field: &'static str, raw: &str, region: Option<Region>) -> Result<i64> {
    normalise(raw, region)
        .map(|n| n.e164)
        .map_err(|rejection| Error::invalid(field, format!("'{raw}': {rejection}")))
}

/// A number already written in E.164 (`+` and 8 to 15 digits) as its digits, without the
/// full parse. For looking up numbers Dialpool holds (a dialer's CDR): one that is not a
/// real number is simply not found, so validating it again would only cost time (~3 µs,
/// three seconds a million).
pub fn e164_digits(raw: &str) -> Option<i64> {
    let digits = raw.trim().strip_prefix('+')?;
    let plausible = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if plausible { digits.parse().ok() } else { None }
}

/// Formats stored E.164 digits for people: `+79161234567`.
pub fn format_e164(e164: i64) -> String {
    format!("+{e164}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ru() -> Option<Region> {
        Some(Region::parse("RU").unwrap())
    }

    #[test]
    fn e164_digits_takes_only_what_is_already_e164() {
        assert_eq!(e164_digits(" +79161234567 "), Some(79161234567));
        for not_e164 in ["79161234567", "+7 916 123-45-67", "+0161234567", "+1234567", "+1234567890123456"] {
            assert_eq!(e164_digits(not_e164), None, "{not_e164}");
        }
    }

    #[test]
    fn the_ways_people_write_a_russian_mobile_all_become_one_e164_number() {
        for raw in [
            "8 (916) 123-45-67",
            "+7 916 123 45 67",
            "79161234567",
            "9161234567",
            "916.123.45.67",
            "+7(916)123-45-67",
            "007 916 123 45 67",
            "8-916-123-45-67",
            "\u{a0}8 916 123\u{a0}45 67 ",
        ] {
            assert_eq!(normalise(raw, ru()).map(|n| n.e164), Ok(79161234567), "{raw}");
        }
    }

    #[test]
    fn international_prefixes_work_whatever_the_default_region() {
        assert_eq!(normalise("0044 20 7946 0958", ru()).unwrap().e164, 442079460958);
        assert_eq!(normalise("+44 20 7946 0958", None).unwrap().e164, 442079460958);
        assert_eq!(normalise("8-10-44-20-7946-0958", ru()).unwrap().e164, 442079460958);
        assert_eq!(normalise("442079460958", None).unwrap().e164, 442079460958);
    }

    #[test]
    fn italian_leading_zeros_survive() {
        let n = normalise("+39 06 1234 5678", None).unwrap();
        assert_eq!(n.e164, 390612345678);
        assert_eq!(n.country_code(), Some("IT"));
    }

    #[test]
    fn the_country_comes_from_the_number_not_the_default_region() {
        assert_eq!(normalise("+77012345678", ru()).unwrap().country_code(), Some("KZ"));
        assert_eq!(normalise("89161234567", ru()).unwrap().country_code(), Some("RU"));
    }

    #[test]
    fn what_is_not_a_number_is_rejected_with_a_reason() {
        assert_eq!(normalise("", ru()), Err(Rejection::Empty));
        assert_eq!(normalise(" - ", ru()), Err(Rejection::Empty));
        assert_eq!(normalise("call me", ru()), Err(Rejection::NotANumber('c')));
        assert_eq!(normalise("123", ru()), Err(Rejection::TooShort));
        assert_eq!(normalise("12345678901234567890", ru()), Err(Rejection::TooLong));
        assert!(matches!(normalise("+7 000 000 00 00", ru()), Err(Rejection::Invalid { .. })));
        assert_eq!(normalise("9161234567", None), Err(Rejection::NoRegion));
        assert!(normalise("12345", ru()).is_err());
    }

    #[test]
    fn normalising_an_e164_number_again_gives_the_same_number() {
        for raw in ["8 (916) 123-45-67", "+1 202 555 0143", "+39 06 1234 5678", "+44 7911 123456"] {
            let once = normalise(raw, ru()).unwrap();
            let twice = normalise(&format_e164(once.e164), None).unwrap();
            assert_eq!(once, twice, "{raw}");
        }
    }
}
