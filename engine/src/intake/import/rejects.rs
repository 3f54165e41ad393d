//! The rejects file: one CSV row for every row an import did not store, with the reason,
//! up to [`MAX_ROWS`]; past that a last row says how many more there were (the import's
//! summary counts them all, by reason). A hostile file of millions of bad rows thus
//! cannot make the server write gigabytes. It is written under a temporary name and
//! appears under its own only when the import commits, so a failed import leaves no
//! rejects file that describes nothing.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use super::batch::RejectReason;
use crate::platform::cells::escape_formula;
use crate::platform::error::{Error, Result};

/// Rejected rows listed in a rejects file, at most.
pub const MAX_ROWS: u64 = 100_000;

pub struct RejectsFile {
    path: PathBuf,
    partial: PathBuf,
    file_label: String,
    writer: Option<csv::Writer<BufWriter<File>>>,
    written: u64,
    /// Rejected rows past [`MAX_ROWS`], counted but not listed.
    unlisted: u64,
}

impl RejectsFile {
    pub fn new(path: PathBuf, file_label: &str) -> Self {
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        RejectsFile {
            path,
            partial: partial.into(),
            file_label: file_label.to_owned(),
            writer: None,
            written: 0,
            unlisted: 0,
        }
    }

    pub fn write(&mut self, row: u64, raw: &str, reason: RejectReason, detail: &str) -> Result<()> {
        if self.written >= MAX_ROWS {
            self.unlisted += 1;
            return Ok(());
        }
        self.written += 1;
        let context = || format!("writing the rejects file of {}", self.file_label);
        if self.writer.is_none() {
            let file = File::create(&self.partial).map_err(|e| Error::io(context(), e))?;
            let mut writer = csv::Writer::from_writer(BufWriter::new(file));
            writer
                .write_record(["row", "raw_value", "reason", "detail"])
                .map_err(|e| Error::io(context(), e.into()))?;
            self.writer = Some(writer);
        }
        let writer = self.writer.as_mut().expect("created above");
        let reason =
            serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        writer
            .write_record([row.to_string().as_str(), &escape_formula(raw), &reason, &escape_formula(detail)])
            .map_err(|e| Error::io(context(), e.into()))
    }

    /// Puts the file in place; `None` when nothing was rejected.
    pub fn finish(mut self) -> Result<Option<PathBuf>> {
        let Some(mut writer) = self.writer.take() else { return Ok(None) };
        let context = format!("writing the rejects file of {}", self.file_label);
        if self.unlisted > 0 {
            let detail = format!(
                "{} more rejected rows are not listed (a rejects file lists the first {MAX_ROWS}); the import's summary counts them all by reason",
                self.unlisted
            );
            writer
                .write_record(["", "", "not_listed", detail.as_str()])
                .map_err(|e| Error::io(context.clone(), e.into()))?;
        }
        let mut inner = writer.into_inner().map_err(|e| Error::io(context.clone(), e.into_error()))?;
        std::io::Write::flush(&mut inner).map_err(|e| Error::io(context.clone(), e))?;
        std::fs::rename(&self.partial, &self.path).map_err(|e| Error::io(context, e))?;
        Ok(Some(self.path.clone()))
    }

    pub fn discard(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

impl Drop for RejectsFile {
    fn drop(&mut self) {
        self.discard();
    }
}
