//! Reading rows out of a provider's file, whatever its format and encoding: CSV/TSV with a
//! sniffed delimiter, XLSX (streamed), XLS, in UTF-8, UTF-16 or Windows-1251. The reader
//! only hands out rows of text cells; what the cells mean is decided in `layout`.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use calamine::{DataRef, Reader as _};
use encoding_rs::Encoding;
use sha2::{Digest, Sha256};

use crate::platform::error::{Error, Location, Result};

/// How many bytes a line may have; a longer one is refused before it is held in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// How far an XLSX may expand when unzipped, in all and for the shared-strings table
/// (which calamine holds in memory whole).
pub const MAX_XLSX_EXPANDED_BYTES: u64 = 2 << 30;
pub const MAX_XLSX_SHARED_STRINGS_BYTES: u64 = 256 << 20;
/// XLS has no streaming reader; it is read whole, so its size is bounded. (The format
/// holds at most 65,536 rows a sheet anyway.)
pub const MAX_XLS_BYTES: u64 = 64 << 20;
const SAMPLE_BYTES: usize = 64 << 10;

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

    fn clear(&mut self, number: u64) {
        self.number = number;
        self.len = 0;
    }

    fn slot(&mut self, index: usize) -> &mut String {
        while self.cells.len() <= index {
            self.cells.push(String::new());
        }
        while self.len <= index {
            self.cells[self.len].clear();
            self.len += 1;
        }
        &mut self.cells[index]
    }

    fn push(&mut self, value: &str) {
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

/// Looks at the first bytes of a file and decides its format, encoding and delimiter.
pub fn detect(path: &Path, display_name: &str, options: &SourceOptions) -> Result<Detected> {
    let at = |message: String| {
        Error::bad_file(Location { file: display_name.to_owned(), ..Location::default() }, message)
    };
    let mut file = open(path, display_name)?;
    let mut sample = Vec::with_capacity(SAMPLE_BYTES);
    file.by_ref()
        .take(SAMPLE_BYTES as u64)
        .read_to_end(&mut sample)
        .map_err(|e| Error::io(format!("reading {display_name}"), e))?;
    if sample.is_empty() {
        return Err(at("the file is empty".into()));
    }
    let magic = if sample.starts_with(b"PK\x03\x04") {
        Some(Format::Xlsx)
    } else if sample.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some(Format::Xls)
    } else {
        None
    };
    let format = match (options.format, magic) {
        (None, Some(found)) => found,
        (Some(wanted), Some(found)) if wanted == found => found,
        (Some(wanted), Some(found)) => {
            return Err(at(format!("the file is {} but --format {} was given", found.name(), wanted.name())));
        }
        (Some(Format::Xlsx | Format::Xls), None) => {
            return Err(at("the file is not a spreadsheet (no XLSX or XLS signature): it may be truncated or a text file".into()));
        }
        (Some(text @ (Format::Csv | Format::Vicidial)), None) => text,
        (None, None) => Format::Csv,
    };
    if matches!(format, Format::Xlsx | Format::Xls) {
        return Ok(Detected { format, encoding: None, delimiter: b',' });
    }
    let encoding = detect_encoding(&sample, options.encoding.as_deref()).map_err(|e| match e {
        Error::BadFile { message, .. } => at(message),
        other => other,
    })?;
    let (text, _, _) = encoding.decode(&sample);
    check_text(&text).map_err(at)?;
    let delimiter = sniff_delimiter(&text, format);
    Ok(Detected { format, encoding: Some(encoding), delimiter })
}

/// [`detect`] on a blocking thread, for async callers.
pub async fn detect_off_thread(path: &Path, display_name: &str, options: &SourceOptions) -> Result<Detected> {
    let (path, name, options) = (path.to_owned(), display_name.to_owned(), options.clone());
    tokio::task::spawn_blocking(move || detect(&path, &name, &options))
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
}

fn open(path: &Path, display_name: &str) -> Result<File> {
    File::open(path).map_err(|e| Error::io(format!("opening {display_name}"), e))
}

fn detect_encoding(sample: &[u8], forced: Option<&str>) -> Result<&'static Encoding> {
    if let Some((encoding, _)) = Encoding::for_bom(sample) {
        return Ok(encoding);
    }
    if let Some(label) = forced {
        return Encoding::for_label(label.trim().as_bytes()).ok_or_else(|| {
            Error::invalid(
                "encoding",
                format!("'{label}' is not an encoding label such as utf-8, utf-16le, windows-1251"),
            )
        });
    }
    // NUL bytes are valid UTF-8 but never in text: a sample with them is UTF-16 (tried
    // below) or binary (refused later), not UTF-8.
    let is_utf8 = !sample.contains(&0)
        && match std::str::from_utf8(sample) {
            Ok(_) => true,
            // A sample cut inside a multi-byte character is still UTF-8.
            Err(e) => e.error_len().is_none(),
        };
    if is_utf8 {
        return Ok(encoding_rs::UTF_8);
    }
    // UTF-16 without a BOM: every other byte is zero in Latin or Cyrillic text.
    let zeros_at = |parity: usize| sample.iter().skip(parity).step_by(2).filter(|b| **b == 0).count();
    let half = sample.len() / 2;
    if half > 8 && zeros_at(1) * 10 > half * 3 && zeros_at(0) * 10 < half {
        return Ok(encoding_rs::UTF_16LE);
    }
    if half > 8 && zeros_at(0) * 10 > half * 3 && zeros_at(1) * 10 < half {
        return Ok(encoding_rs::UTF_16BE);
    }
    // Text that is not UTF-8 comes, in this trade, from old Russian Excel.
    Ok(encoding_rs::WINDOWS_1251)
}

/// Refuses binary files: text has almost no control characters and never NUL.
fn check_text(text: &str) -> Result<(), String> {
    let mut controls = 0usize;
    let mut chars = 0usize;
    for (offset, c) in text.char_indices() {
        chars += 1;
        if c == '\0' {
            return Err(format!(
                "the file is not text (a NUL byte near byte {offset}): is it binary or a spreadsheet saved under the wrong name?"
            ));
        }
        if c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{c}') {
            controls += 1;
        }
    }
    if controls * 100 > chars.max(1) {
        return Err(format!(
            "the file is not text ({controls} control characters in its first {chars}): is it binary?"
        ));
    }
    if text.trim().is_empty() {
        return Err("the file holds no rows, only blank space".into());
    }
    Ok(())
}

/// Picks the delimiter that splits the sample's lines most consistently.
fn sniff_delimiter(text: &str, format: Format) -> u8 {
    let candidates: &[u8] = if format == Format::Vicidial { b"|\t" } else { b",;\t|" };
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(50).collect();
    // A sample cut mid-line would count one line short.
    let lines = if lines.len() > 1 { &lines[..lines.len() - 1] } else { &lines[..] };
    let mut best = (candidates[0], 0usize, 0usize);
    for &delimiter in candidates {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, delimiter)).collect();
        let Some(&typical) = mode(&counts) else { continue };
        if typical == 0 {
            continue;
        }
        let consistent = counts.iter().filter(|c| **c == typical).count();
        if (consistent, typical) > (best.1, best.2) {
            best = (delimiter, consistent, typical);
        }
    }
    best.0
}

fn count_outside_quotes(line: &str, delimiter: u8) -> usize {
    let mut quoted = false;
    line.bytes()
        .filter(|&b| {
            if b == b'"' {
                quoted = !quoted;
            }
            !quoted && b == delimiter
        })
        .count()
}

fn mode(values: &[usize]) -> Option<&usize> {
    values.iter().max_by_key(|v| (values.iter().filter(|w| w == v).count(), **v))
}

/// Streams the file's rows into `sink`, in order; stops at the first error, the sink's
/// included. Returns the file's SHA-256.
pub fn read_rows(
    path: &Path,
    display_name: &str,
    detected: &Detected,
    options: &SourceOptions,
    counters: &Arc<ReadCounters>,
    sink: &mut dyn FnMut(&Row) -> Result<()>,
) -> Result<[u8; 32]> {
    let file = open(path, display_name)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    counters.bytes_total.store(size, Ordering::Relaxed);
    match detected.format {
        Format::Csv | Format::Vicidial => read_text(file, display_name, detected, counters, sink),
        Format::Xlsx => {
            let digest = hash_file(path, display_name)?;
            read_xlsx(path, display_name, options, counters, sink)?;
            Ok(digest)
        }
        Format::Xls => {
            let digest = hash_file(path, display_name)?;
            read_xls(path, display_name, size, options, counters, sink)?;
            Ok(digest)
        }
    }
}

fn hash_file(path: &Path, display_name: &str) -> Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut file = open(path, display_name)?;
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buffer).map_err(|e| Error::io(format!("reading {display_name}"), e))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(hasher.finalize().into())
}

/// Counts and hashes the raw bytes on their way to the decoder.
struct Tap<R> {
    inner: R,
    hasher: Sha256,
    counters: Arc<ReadCounters>,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.counters.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Refuses a line longer than [`MAX_LINE_BYTES`] before the CSV parser buffers it.
struct LineLimit<R> {
    inner: R,
    line: u64,
    line_bytes: usize,
}

#[derive(Debug)]
struct LineTooLong {
    line: u64,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {} is longer than {} bytes", self.line, MAX_LINE_BYTES)
    }
}

impl std::error::Error for LineTooLong {}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        for chunk in buf[..n].split_inclusive(|b| *b == b'\n') {
            if chunk.last() == Some(&b'\n') {
                self.line_bytes = 0;
                self.line += 1;
            } else {
                self.line_bytes += chunk.len();
                if self.line_bytes > MAX_LINE_BYTES {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, LineTooLong { line: self.line }));
                }
            }
        }
        Ok(n)
    }
}

fn read_text(
    file: File,
    display_name: &str,
    detected: &Detected,
    counters: &Arc<ReadCounters>,
    sink: &mut dyn FnMut(&Row) -> Result<()>,
) -> Result<[u8; 32]> {
    let location = |row: Option<u64>| Location { file: display_name.to_owned(), row, column: None };
    let mut tap = Tap {
        inner: BufReader::with_capacity(256 << 10, file),
        hasher: Sha256::new(),
        counters: counters.clone(),
    };
    let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(detected.encoding)
        .strip_bom(true)
        .build(&mut tap);
    let limited = LineLimit { inner: decoded, line: 1, line_bytes: 0 };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detected.delimiter)
        .has_headers(false)
        .flexible(true)
        // With the default CR-or-LF terminator the parser reports a CRLF file's record
        // lines one short; ending records at LF alone keeps row numbers exact, and the CR
        // left at the end of the last cell is trimmed with the rest of its blank space.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(256 << 10)
        .from_reader(limited);
    let mut record = csv::StringRecord::new();
    let mut row = Row::default();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                row.clear(record.position().map_or(0, |p| p.line()));
                for field in record.iter() {
                    row.push(field);
                }
                sink(&row)?;
            }
            Err(e) => {
                let line = e.position().map(|p| p.line());
                return Err(match e.into_kind() {
                    csv::ErrorKind::Io(io) => {
                        match io.get_ref().and_then(|inner| inner.downcast_ref::<LineTooLong>()) {
                            Some(too_long) => Error::bad_file(
                                location(Some(too_long.line)),
                                format!(
                                    "the line is longer than {} MiB: is this really a CSV file?",
                                    MAX_LINE_BYTES >> 20
                                ),
                            ),
                            None => Error::io(format!("reading {display_name}"), io),
                        }
                    }
                    other => Error::bad_file(location(line), format!("malformed CSV: {other:?}")),
                });
            }
        }
    }
    drop(reader);
    Ok(tap.hasher.finalize().into())
}

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

fn read_xlsx(
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

fn read_xls(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delimiter_is_the_one_that_splits_lines_consistently() {
        assert_eq!(sniff_delimiter("a;b;c\n1;2,5;3\n4;5;6\n", Format::Csv), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n3\t4\n", Format::Csv), b'\t');
        assert_eq!(sniff_delimiter("a|b|c\n1|2|3\n", Format::Csv), b'|');
        assert_eq!(
            sniff_delimiter(
                "name,phone\n\"Ivanov; Ivan\",79161234567\n\"Petrov; P\",79161234568\n",
                Format::Csv
            ),
            b','
        );
    }

    #[test]
    fn encodings_are_told_apart_from_their_bytes() {
        assert_eq!(detect_encoding("телефон\n".as_bytes(), None).unwrap(), encoding_rs::UTF_8);
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("телефон;имя\n79161234567;Иван\n");
        assert_eq!(detect_encoding(&cp1251, None).unwrap(), encoding_rs::WINDOWS_1251);
        assert_eq!(detect_encoding(b"\xFF\xFEp\0h\0", None).unwrap(), encoding_rs::UTF_16LE);
        assert_eq!(detect_encoding(b"\xFE\xFF\0p\0h", None).unwrap(), encoding_rs::UTF_16BE);
        let no_bom: Vec<u8> =
            "phone;name\n+79161234567;Иван\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(detect_encoding(&no_bom, None).unwrap(), encoding_rs::UTF_16LE);
        assert!(detect_encoding(b"abc", Some("klingon")).is_err());
    }

    #[test]
    fn binary_content_is_not_taken_for_text() {
        assert!(check_text("phone\n79161234567\n").is_ok());
        assert!(check_text("ab\0cd").is_err());
        assert!(check_text(&"\u{1}\u{2}\u{3}x".repeat(100)).is_err());
    }
}
