//! Phone numbers to E.164: whatever way a provider wrote them, a number is stored as its
//! E.164 digits in a `bigint`, and what is not a valid number is rejected with a reason.
//!
//! Parsing and validity are libphonenumber's, through `rlibphonenumber` (a port that
//! follows libphonenumber's metadata releases closely and parses several times faster
//! than the `phonenumber` crate, whose metadata had fallen a year behind); the zones a
//! number rings in are libphonenumber's too ([`zones`]).

pub mod zones;

use std::fmt;

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumber};

use crate::platform::error::{Error, Result};

pub use self::zones::ZoneSet;

/// An ISO 3166 alpha-2 region, used to read numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region(rlibphonenumber::Region);

impl Region {
    pub fn parse(code: &str) -> Result<Region> {
        let invalid =
            || Error::invalid("region", format!("'{code}' is not an ISO 3166 country code such as RU or US"));
        let region =
            rlibphonenumber::Region::from_code(&code.trim().to_ascii_uppercase()).map_err(|_| invalid())?;
        // Any two letters make a `Region`; only those with numbering metadata read numbers.
        PHONE_NUMBER_UTIL.get_country_code_for_region(region).ok_or_else(invalid)?;
        Ok(Region(region))
    }

    pub fn code(&self) -> String {
        self.0.as_region_str().to_string()
    }
}

/// Written as its code (`RU`), as users write it; read through [`Region::parse`].
impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Region::parse(&code).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

/// A valid number: its E.164 digits, the country it belongs to and the time zones it may
/// ring in (`None` where libphonenumber knows none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalised {
    pub e164: i64,
    pub country: Option<rlibphonenumber::Region>,
    pub zones: Option<&'static ZoneSet>,
}

impl Normalised {
    /// `RU`, `US` …: held on the stack, as the import asks it of every row.
    pub fn country_code(&self) -> Option<rlibphonenumber::RegionStr> {
        self.country.map(|c| c.as_region_str())
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
        PHONE_NUMBER_UTIL.parse(&international, None)
    } else {
        PHONE_NUMBER_UTIL.parse(digits, region.map(|r| r.0))
    };
    let number = parsed.map_err(|e| match e {
        _ if guessed_international => Rejection::NoRegion,
        rlibphonenumber::ParseError::InvalidCountryCode => Rejection::UnknownCountryCode,
        rlibphonenumber::ParseError::TooShortNsn | rlibphonenumber::ParseError::TooShortAfterIdd => {
            Rejection::TooShort
        }
        rlibphonenumber::ParseError::TooLongNsn => Rejection::TooLong,
        _ => invalid(),
    })?;
    if !number.is_valid() {
        return Err(invalid());
    }
    let e164 = e164_of(&number).ok_or(Rejection::TooLong)?;
    Ok(Normalised { e164, country: country_of(&number), zones: zones::of_number(&number, e164) })
}

/// The E.164 digits of a parsed number (the national number keeps Italian leading zeros).
fn e164_of(number: &PhoneNumber) -> Option<i64> {
    let national = number.national_number;
    let zeros =
        if number.italian_leading_zero() { number.number_of_leading_zeros().max(1) as u32 } else { 0 };
    let national_digits = national.checked_ilog10().map_or(1, |l| l + 1) + zeros;
    u64::try_from(number.country_code)
        .ok()?
        .checked_mul(10u64.checked_pow(national_digits)?)
        .and_then(|v| v.checked_add(national))
        .filter(|v| *v <= 999_999_999_999_999)
        .map(|v| v as i64)
}

/// The number's country; where the metadata names none for a valid number, the main
/// country of its calling code.
fn country_of(number: &PhoneNumber) -> Option<rlibphonenumber::Region> {
    number.get_region_code().or_else(|| PHONE_NUMBER_UTIL.get_region_for_country_code(number.country_code))
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
        assert_eq!(n.country_code().as_deref(), Some("IT"));
    }

    #[test]
    fn the_country_comes_from_the_number_not_the_default_region() {
        assert_eq!(normalise("+77012345678", ru()).unwrap().country_code().as_deref(), Some("KZ"));
        assert_eq!(normalise("89161234567", ru()).unwrap().country_code().as_deref(), Some("RU"));
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
