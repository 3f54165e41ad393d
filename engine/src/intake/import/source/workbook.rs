//! Workbooks: XLSX checked against what it would expand to before it is opened, then
//! streamed; XLS read whole within its size limit.

use super::*;
use crate::platform::error::{Error, Location, Result};
use calamine::{DataRef, Reader as _};
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Refuses an XLSX that would expand past our limits, judged by the sizes its ZIP
/// directory declares, before anything is decompressed.
fn check_xlsx_expansion(path: &Path, display_name: &str) -> Result<()> {
    let at = |message: String| {
        Error::bad_file(Location { file: display_name.to_owned(), ..Location::default() }, message)
    };
    let corrupt = |e: zip::result::ZipError| at(format!("the XLSX is damaged or truncated ({e})"));
    let mut archive = zip::ZipArchive::new(BufReader::new(open(path, display_name)?)).map_err(corrupt)?;
    let mut total = 0u64;
    let mut has_workbook = false;
    for index in 0..archive.len() {
        let entry = archive.by_index_raw(index).map_err(corrupt)?;
        let name = entry.name().map_err(corrupt)?.into_owned();
        total = total.saturating_add(entry.size());
        has_workbook |= name == "xl/workbook.xml";
        if name == "xl/sharedStrings.xml" && entry.size() > MAX_XLSX_SHARED_STRINGS_BYTES {
            return Err(at(format!(
                "the XLSX's shared strings expand to {} MiB (limit {} MiB): save it as CSV instead",
                entry.size() >> 20,
                MAX_XLSX_SHARED_STRINGS_BYTES >> 20
            )));
        }
    }
    if total > MAX_XLSX_EXPANDED_BYTES {
        return Err(at(format!(
            "the XLSX expands to {} MiB when unzipped (limit {} MiB): it is a ZIP bomb or far larger than a sheet can be",
            total >> 20,
            MAX_XLSX_EXPANDED_BYTES >> 20
        )));
    }
    if !has_workbook {
        return Err(at("the file is a ZIP archive but not an XLSX workbook (no xl/workbook.xml)".into()));
    }
    check_xlsx_text(&mut archive, display_name)
}

/// The longest run of bytes between two XML tags an XLSX part may hold: Excel's cells
/// hold at most 32,767 characters. calamine's XML reader holds a run whole, so a sheet of
/// a gigabyte of NUL bytes (a 1 MB file) would take gigabytes of memory.
pub const MAX_XLSX_TEXT_RUN: usize = 1 << 20;

/// Reads the sheets and the shared strings through once, decompressing in small chunks,
/// and refuses a NUL byte (never valid XML) or a run of text longer than
/// [`MAX_XLSX_TEXT_RUN`], before calamine parses anything.
fn check_xlsx_text<R: Read + std::io::Seek>(
    archive: &mut zip::ZipArchive<R>,
    display_name: &str,
) -> Result<()> {
    let at = |message: String| {
        Error::bad_file(Location { file: display_name.to_owned(), ..Location::default() }, message)
    };
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(std::borrow::Cow::into_owned))
        .filter(|n| (n.starts_with("xl/worksheets/") && n.ends_with(".xml")) || n == "xl/sharedStrings.xml")
        .collect();
    let mut buffer = vec![0u8; 64 << 10];
    for name in names {
        let mut part =
            archive.by_name(&name).map_err(|e| at(format!("the XLSX is damaged or truncated ({e})")))?;
        let mut run = 0usize;
        loop {
            let read =
                part.read(&mut buffer).map_err(|e| at(format!("the XLSX is damaged or truncated ({e})")))?;
            if read == 0 {
                break;
            }
            for &byte in &buffer[..read] {
                match byte {
                    0 => {
                        return Err(at(format!(
                            "{name} holds a NUL byte: the XLSX is damaged or is not a workbook"
                        )));
                    }
                    b'<' | b'>' => run = 0,
                    _ => run += 1,
                }
            }
            if run > MAX_XLSX_TEXT_RUN {
                return Err(at(format!(
                    "{name} holds more than {} MiB of text in one place, where a cell holds at most 32,767 characters: the XLSX is damaged or hostile",
                    MAX_XLSX_TEXT_RUN >> 20
                )));
            }
        }
    }
    Ok(())
}

fn pick_sheet(names: &[String], wanted: Option<&str>, display_name: &str) -> Result<String> {
    let at = |message: String| {
        Error::bad_file(Location { file: display_name.to_owned(), ..Location::default() }, message)
    };
    let Some(wanted) = wanted else {
        return names.first().cloned().ok_or_else(|| at("the workbook has no sheets".into()));
    };
    if let Some(name) = names.iter().find(|n| n.as_str() == wanted) {
        return Ok(name.clone());
    }
    if let Ok(position) = wanted.parse::<usize>()
        && position >= 1
        && position <= names.len()
    {
        return Ok(names[position - 1].clone());
    }
    Err(at(format!("no sheet '{wanted}'; the sheets are: {}", names.join(", "))))
}

/// Writes a spreadsheet cell as text. Phone numbers typed into Excel are stored as
/// numbers (79161234567 becomes 7.9161234567E10): whole floats are written without a
/// fraction so they read back as the digits they were.
fn cell_text(value: &DataRef<'_>, out: &mut String) {
    use std::fmt::Write;
    match value {
        DataRef::Empty | DataRef::Error(_) => {}
        DataRef::String(s) => out.push_str(s),
        DataRef::SharedString(s) => out.push_str(s),
        DataRef::Int(i) => {
            let _ = write!(out, "{i}");
        }
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e17 => {
            let _ = write!(out, "{}", *f as i64);
        }
        DataRef::Float(f) => {
            let _ = write!(out, "{f}");
        }
        DataRef::Bool(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        DataRef::DateTime(d) => {
            let _ = write!(out, "{d}");
        }
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => out.push_str(s),
    }
}

pub(super) fn read_xlsx(
    path: &Path,
    display_name: &str,
    options: &SourceOptions,
    counters: &Arc<ReadCounters>,
    sink: &mut dyn FnMut(&Row) -> Result<()>,
) -> Result<()> {
    check_xlsx_expansion(path, display_name)?;
    let at = |row: Option<u64>, message: String| {
        Error::bad_file(Location { file: display_name.to_owned(), row, column: None }, message)
    };
    let mut workbook: calamine::Xlsx<_> = calamine::Xlsx::new(BufReader::new(open(path, display_name)?))
        .map_err(|e| at(None, format!("the XLSX is damaged or truncated ({e})")))?;
    let sheet = pick_sheet(&workbook.sheet_names(), options.sheet.as_deref(), display_name)?;
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(|e| at(None, format!("cannot read sheet '{sheet}' ({e})")))?;
    let mut row = Row::default();
    let mut current: Option<u32> = None;
    loop {
        let cell = cells.next_cell().map_err(|e| {
            at(current.map(|r| u64::from(r) + 1), format!("the XLSX is damaged or truncated ({e})"))
        })?;
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if current.is_some() {
                sink(&row)?;
            }
            row.clear(u64::from(r) + 1);
            current = Some(r);
        }
        // A sheet holds at most 1,048,576 rows; a file that says more is not one Excel
        // wrote, and reading on would only feed the rejects millions of rows.
        if r >= 1_048_576 {
            return Err(at(Some(u64::from(r) + 1), "more rows than a sheet can have (1,048,576)".into()));
        }
        // Row and column counts come from the file; a cell far to the right of any
        // header is not worth allocating a million empty cells for.
        if c > 16_384 {
            return Err(at(
                Some(u64::from(r) + 1),
                format!("cell in column {} is past the last column Excel has", c + 1),
            ));
        }
        cell_text(cell.get_value(), row.slot(c as usize));
    }
    if current.is_some() {
        sink(&row)?;
    }
    counters.bytes_read.store(counters.bytes_total.load(Ordering::Relaxed), Ordering::Relaxed);
    Ok(())
}

pub(super) fn read_xls(
    path: &Path,
    display_name: &str,
    size: u64,
    options: &SourceOptions,
    counters: &Arc<ReadCounters>,
    sink: &mut dyn FnMut(&Row) -> Result<()>,
) -> Result<()> {
    let at = |message: String| {
        Error::bad_file(Location { file: display_name.to_owned(), ..Location::default() }, message)
    };
    if size > MAX_XLS_BYTES {
        return Err(at(format!(
            "the XLS file is {} MiB (limit {} MiB): save it as XLSX or CSV",
            size >> 20,
            MAX_XLS_BYTES >> 20
        )));
    }
    let mut workbook: calamine::Xls<_> = calamine::Xls::new(BufReader::new(open(path, display_name)?))
        .map_err(|e| at(format!("the XLS is damaged or truncated ({e})")))?;
    let sheet = pick_sheet(&workbook.sheet_names(), options.sheet.as_deref(), display_name)?;
    let range =
        workbook.worksheet_range(&sheet).map_err(|e| at(format!("cannot read sheet '{sheet}' ({e})")))?;
    let (first_row, first_column) = range.start().unwrap_or((0, 0));
    let mut row = Row::default();
    for (offset, cells) in range.rows().enumerate() {
        row.clear(u64::from(first_row) + offset as u64 + 1);
        for (c, value) in cells.iter().enumerate() {
            let value: DataRef<'_> = match value {
                calamine::Data::Int(i) => DataRef::Int(*i),
                calamine::Data::Float(f) => DataRef::Float(*f),
                calamine::Data::String(s) => DataRef::SharedString(s),
                calamine::Data::Bool(b) => DataRef::Bool(*b),
                calamine::Data::DateTime(d) => DataRef::DateTime(*d),
                calamine::Data::DateTimeIso(s) => DataRef::SharedString(s),
                calamine::Data::DurationIso(s) => DataRef::SharedString(s),
                calamine::Data::Error(_) | calamine::Data::Empty => DataRef::Empty,
            };
            cell_text(&value, row.slot(first_column as usize + c));
        }
        sink(&row)?;
    }
    counters.bytes_read.store(size, Ordering::Relaxed);
    Ok(())
}
