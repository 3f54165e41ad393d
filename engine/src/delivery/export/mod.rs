//! Exports: a project's numbers out to a file for a dialer or an analyst. An export is a
//! row in `exports` from the moment it starts (status `running`, with progress), then one
//! transaction: one `COPY … TO STDOUT` of the selection (filters bound through settings)
//! streams into the file's writer, the export's numbers are collected on the way and
//! recorded as sorted batches of phones (what "never exported" and a number's history
//! read), and the export is recorded as succeeded. The file replaces its
//! destination only after commit. Exporting never changes which project holds a number;
//! it changes a number's status only when asked to.
//!
//! The parts: what is asked ([`options`]), the history of exports ([`history`]), which
//! numbers leave ([`select`]), the run ([`run`]), and the writers ([`write`] with one
//! module per format that needs its own).

mod history;
mod options;
mod parquet;
mod run;
mod select;
mod vicidial;
mod write;
mod xlsx;

pub use history::*;
pub use options::*;
pub use run::*;
use select::*;
use write::*;
