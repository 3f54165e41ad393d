//! Which column of a file holds which field: recognised from header names in English and
//! Russian, or given explicitly (`phone=3,geo=Region`), or saved on the provider.

use std::collections::BTreeMap;
use std::fmt;

use crate::platform::error::{Error, Result};

/// The fields an import understands; every other column is kept as an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    Phone,
    /// A separate country calling code column (VICIdial's `phone_code`).
    PhoneCode,
    Geo,
    Name,
    /// When the person agreed to be called (TCPA record keeping); kept as the attribute
    /// `consent_at`, in RFC 3339 when it reads as a date.
    ConsentAt,
    /// Where they agreed (a web form's URL); kept as the attribute `consent_source`.
    ConsentSource,
}

impl Field {
    pub const ALL: [Field; 6] =
        [Field::Phone, Field::PhoneCode, Field::Geo, Field::Name, Field::ConsentAt, Field::ConsentSource];

    /// Fields kept among the attributes under their own key, whatever the header says.
    pub const ATTRIBUTES: [Field; 3] = [Field::Name, Field::ConsentAt, Field::ConsentSource];

    pub fn key(self) -> &'static str {
        match self {
            Field::Phone => "phone",
            Field::PhoneCode => "phone_code",
            Field::Geo => "geo",
            Field::Name => "name",
            Field::ConsentAt => "consent_at",
            Field::ConsentSource => "consent_source",
        }
    }

    fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.key() == key)
    }

    /// Header names that mean this field, already in [`normalise_header`] form.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Field::Phone => &[
                "phone",
                "phonenumber",
                "phoneno",
                "telephone",
                "tel",
                "telno",
                "mobile",
                "mobilephone",
                "mobilenumber",
                "cell",
                "cellphone",
                "msisdn",
                "number",
                "msisdnnumber",
                "телефон",
                "тел",
                "номер",
                "номертелефона",
                "телефонныйномер",
                "мобильный",
                "мобильныйтелефон",
                "моб",
                "сотовый",
                "сотовыйтелефон",
                "контактныйтелефон",
            ],
            Field::PhoneCode => &["phonecode", "countrycode", "dialcode", "кодстраны"],
            Field::Geo => &[
                "geo",
                "region",
                "regioncode",
                "area",
                "state",
                "гео",
                "регион",
                "область",
                "субъект",
                "кодрегиона",
            ],
            Field::Name => &[
                "name",
                "fullname",
                "fio",
                "clientname",
                "customername",
                "contactname",
                "фио",
                "имя",
                "клиент",
                "полноеимя",
                "имяклиента",
            ],
            Field::ConsentAt => &[
                "consentat",
                "consentdate",
                "consenttime",
                "consenttimestamp",
                "optinat",
                "optindate",
                "optintimestamp",
                "датасогласия",
                "согласие",
            ],
            Field::ConsentSource => {
                &["consentsource", "consenturl", "optinurl", "optinsource", "sourceurl", "источниксогласия"]
            }
        }
    }

    /// Recognises a header cell as one of the fields.
    pub fn recognise(header: &str) -> Option<Field> {
        let normalised = normalise_header(header);
        if normalised.is_empty() {
            return None;
        }
        Field::ALL.into_iter().find(|f| f.synonyms().contains(&normalised.as_str()))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Lower-case letters and digits only, so "Phone Number", "phone_number" and "PHONE-NUMBER"
/// are the same header.
pub fn normalise_header(header: &str) -> String {
    header.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A column named by its 1-based position or by its header text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnRef {
    Position(usize),
    Header(String),
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnRef::Position(p) => write!(f, "{p}"),
            ColumnRef::Header(h) => f.write_str(h),
        }
    }
}

/// An explicit mapping of fields to columns. Empty means "recognise from the header".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping(pub BTreeMap<Field, ColumnRef>);

impl ColumnMapping {
    /// Parses `phone=3,geo=Region` (1-based positions or header names).
    pub fn parse(spec: &str) -> Result<Self> {
        let mut map = BTreeMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part.split_once('=').ok_or_else(|| {
                Error::invalid("mapping", format!("'{part}' is not field=column, e.g. phone=3"))
            })?;
            let field = Field::from_key(key.trim()).ok_or_else(|| {
                Error::invalid(
                    "mapping",
                    format!(
                        "unknown field '{}'; known fields: {}",
                        key.trim(),
                        Field::ALL.map(Field::key).join(", ")
                    ),
                )
            })?;
            let column = Self::parse_column(value.trim())?;
            if map.insert(field, column).is_some() {
                return Err(Error::invalid("mapping", format!("field '{field}' is given twice")));
            }
        }
        Ok(ColumnMapping(map))
    }

    fn parse_column(value: &str) -> Result<ColumnRef> {
        if value.is_empty() {
            return Err(Error::invalid("mapping", "a column is empty"));
        }
        match value.parse::<usize>() {
            Ok(0) => Err(Error::invalid("mapping", "columns are numbered from 1")),
            Ok(position) => Ok(ColumnRef::Position(position)),
            Err(_) => Ok(ColumnRef::Header(value.to_owned())),
        }
    }

    pub fn from_json(value: &serde_json::Value) -> Result<Self> {
        let object = value
            .as_object()
            .ok_or_else(|| Error::invalid("mapping", "the saved mapping is not a JSON object"))?;
        let spec = object
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string())))
            .collect::<Vec<_>>()
            .join(",");
        Self::parse(&spec)
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0.iter().map(|(f, c)| (f.key().to_owned(), c.to_string().into())).collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: Field) -> Option<&ColumnRef> {
        self.0.get(&field)
    }

    /// Whether every column is named by position, so the file needs no header row.
    pub fn is_positional(&self) -> bool {
        !self.0.is_empty() && self.0.values().all(|c| matches!(c, ColumnRef::Position(_)))
    }
}

/// Serialised as its spec (`phone=3,geo=Region`), the form users write it in.
impl serde::Serialize for ColumnMapping {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ColumnMapping {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let spec = String::deserialize(deserializer)?;
        ColumnMapping::parse(&spec).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ColumnMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_recognised_in_english_and_russian_whatever_their_spelling() {
        for (header, field) in [
            ("Phone Number", Field::Phone),
            ("ТЕЛЕФОН", Field::Phone),
            ("Номер", Field::Phone),
            ("tel.", Field::Phone),
            ("Mobile", Field::Phone),
            ("ФИО", Field::Name),
            ("Имя", Field::Name),
            ("Регион", Field::Geo),
            ("geo", Field::Geo),
            ("Гео", Field::Geo),
        ] {
            assert_eq!(Field::recognise(header), Some(field), "{header}");
        }
        assert_eq!(Field::recognise("email"), None);
    }

    #[test]
    fn a_mapping_takes_positions_and_header_names_and_refuses_nonsense() {
        let mapping = ColumnMapping::parse("phone=3, geo=Region").unwrap();
        assert_eq!(mapping.get(Field::Phone), Some(&ColumnRef::Position(3)));
        assert_eq!(mapping.get(Field::Geo), Some(&ColumnRef::Header("Region".into())));
        assert_eq!(ColumnMapping::from_json(&mapping.to_json()).unwrap(), mapping);
        assert!(ColumnMapping::parse("phone=0").is_err());
        assert!(ColumnMapping::parse("fone=1").is_err());
        assert!(ColumnMapping::parse("phone").is_err());
        assert!(ColumnMapping::parse("phone=1,phone=2").is_err());
    }
}
