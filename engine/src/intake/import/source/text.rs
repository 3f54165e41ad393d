//! Rows out of a file: the entry point, and text files read line by line, each line
//! bounded before it is held in memory.

use super::*;
use crate::platform::error::{Error, Location, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

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
