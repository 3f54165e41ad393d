//! The limits every reader keeps, and what reading a file yields: its format, the
//! options it is read with, what detection found, and rows.

use crate::platform::error::{Error, Result};
use encoding_rs::Encoding;
use std::sync::atomic::AtomicU64;

/// How many bytes a line may have; a longer one is refused before it is held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// How far an XLSX may expand when unzipped, in all and for the shared-strings table
/// (which calamine holds in memory whole).
pub const MAX_XLSX_EXPANDED_BYTES: u64 = 2 << 30;
pub const MAX_XLSX_SHARED_STRINGS_BYTES: u64 = 256 << 20;
/// XLS has no streaming reader; it is read whole, so its size is bounded. (The format
/// holds at most 65,536 rows a sheet anyway.)
pub const MAX_XLS_BYTES: u64 = 64 << 20;
pub(super) const SAMPLE_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Csv,
    Xlsx,
    Xls,
    /// VICIdial's standard lead file: pipe- or TAB-separated, no header, phone at
    /// position 4 (0-based) after `phone_code`.
    Vicidial,
}

impl Format {
    pub fn parse(value: &str) -> Result<Option<Format>> {
        match value.to_ascii_lowercase().as_str() {
            "auto" => Ok(None),
            "csv" | "tsv" | "txt" => Ok(Some(Format::Csv)),
            "xlsx" => Ok(Some(Format::Xlsx)),
            "xls" => Ok(Some(Format::Xls)),
            "vicidial" => Ok(Some(Format::Vicidial)),
            other => Err(Error::invalid(
                "format",
                format!("'{other}' is not one of auto, csv, xlsx, xls, vicidial"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Vicidial => "vicidial",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    pub format: Option<Format>,
    /// A WHATWG encoding label (`utf-8`, `utf-16le`, `windows-1251`, `cp1251` ...).
    pub encoding: Option<String>,
    /// Sheet name or 1-based position; the first sheet by default.
    pub sheet: Option<String>,
}

/// What detection found out about a file.
#[derive(Debug, Clone)]
pub struct Detected {
    pub format: Format,
    pub encoding: Option<&'static Encoding>,
    pub delimiter: u8,
}

/// One row of a file as text cells. `number` is the line (text files) or sheet row where
/// the row starts, counted from 1.
#[derive(Debug, Default, Clone)]
pub struct Row {
    pub number: u64,
    cells: Vec<String>,
    len: usize,
}

impl Row {
    pub fn new(number: u64, cells: &[&str]) -> Row {
        let mut row = Row::default();
        row.clear(number);
        for cell in cells {
            row.push(cell);
        }
        row
    }

    pub fn cell(&self, index: usize) -> &str {
        if index < self.len { self.cells[index].trim() } else { "" }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.cells[..self.len].iter().all(|c| c.trim().is_empty())
    }

    pub fn cells(&self) -> impl Iterator<Item = &str> {
        self.cells[..self.len].iter().map(|c| c.trim())
    }

    pub(super) fn clear(&mut self, number: u64) {
        self.number = number;
        self.len = 0;
    }

    pub(super) fn slot(&mut self, index: usize) -> &mut String {
        while self.cells.len() <= index {
            self.cells.push(String::new());
        }
        while self.len <= index {
            self.cells[self.len].clear();
            self.len += 1;
        }
        &mut self.cells[index]
    }

    pub(super) fn push(&mut self, value: &str) {
        let index = self.len;
        self.slot(index).push_str(value);
    }
}

/// Progress a reader makes, read by whoever shows it.
#[derive(Debug, Default)]
pub struct ReadCounters {
    pub bytes_total: AtomicU64,
    pub bytes_read: AtomicU64,
}
