//! The rejects file: one CSV row for every row an import did not store, with the reason.
//! It is written under a temporary name and appears under its own only when the import
//! commits, so a failed import leaves no rejects file that describes nothing.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use super::batch::RejectReason;
use crate::cells::escape_formula;
use crate::error::{Error, Result};

pub struct RejectsFile {
    path: PathBuf,
    partial: PathBuf,
    file_label: String,
    writer: Option<csv::Writer<BufWriter<File>>>,
}

impl RejectsFile {
    pub fn new(path: PathBuf, file_label: &str) -> Self {
        let mut partial = path.clone().into_os_string();
        partial.push(".partial");
        RejectsFile { path, partial: partial.into(), file_label: file_label.to_owned(), writer: None }
    }

    pub fn write(&mut self, row: u64, raw: &str, reason: RejectReason, detail: &str) -> Result<()> {
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
        let Some(writer) = self.writer.take() else { return Ok(None) };
        let context = format!("writing the rejects file of {}", self.file_label);
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
