//! Recognising a file: its format, its encoding (BOM, UTF-8 or the forced one) and, for
//! text, its delimiter.

use super::*;
use crate::platform::error::{Error, Location, Result};
use encoding_rs::Encoding;
use std::fs::File;
use std::io::Read;
use std::path::Path;

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

pub(super) fn open(path: &Path, display_name: &str) -> Result<File> {
    File::open(path).map_err(|e| Error::io(format!("opening {display_name}"), e))
}

pub(super) fn detect_encoding(sample: &[u8], forced: Option<&str>) -> Result<&'static Encoding> {
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
pub(super) fn check_text(text: &str) -> Result<(), String> {
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
pub(super) fn sniff_delimiter(text: &str, format: Format) -> u8 {
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
