//! What an import is asked for and what it reports: the duplicates policy, the request,
//! the live counters and the summary whose counts reconcile.

use self::batch::RejectReason;
use self::mapping::ColumnMapping;
use self::source::{ReadCounters, SourceOptions};
use super::*;
use crate::intake::phone::Region;
use crate::platform::TenantId;
use crate::platform::audit::Actor;
use crate::platform::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// What to do with a number that is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDuplicate {
    /// Leave the stored number as it is; the row is counted as a duplicate.
    #[default]
    Skip,
    /// Refresh the stored number's attributes (and geo, when the file has a geo column);
    /// never its project, status or history.
    Update,
}

impl<'de> Deserialize<'de> for OnDuplicate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        OnDuplicate::parse(&value).map_err(serde::de::Error::custom)
    }
}

impl OnDuplicate {
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "skip" => Ok(OnDuplicate::Skip),
            "update" => Ok(OnDuplicate::Update),
            other => Err(Error::invalid("on-duplicate", format!("'{other}' is not skip or update"))),
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            OnDuplicate::Skip => "skip",
            OnDuplicate::Update => "update",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub tenant: TenantId,
    pub provider_code: String,
    pub path: PathBuf,
    /// The name the user knows the file by (an upload's original name); the path's file
    /// name when absent.
    pub display_name: Option<String>,
    pub source: SourceOptions,
    pub region: Option<Region>,
    /// Overrides the provider's saved mapping when not empty.
    pub mapping: ColumnMapping,
    pub on_duplicate: OnDuplicate,
    /// Where the rejects file goes; `FILE.rejects.csv` beside the file when absent.
    pub rejects_path: Option<PathBuf>,
    pub actor: Actor,
    /// Rows per batch; [`BATCH_ROWS`] when absent. Tests make it small to cross batch
    /// boundaries with small files.
    pub batch_rows: Option<usize>,
    /// The installation's secret key, to recognise erased numbers by their tombstones.
    /// An import without it is refused when the tenant has tombstones.
    pub secret: Option<crate::platform::secret::SecretKey>,
    /// Overrides the provider's re-entry rule (look-back window) for this import.
    pub reentry: Option<super::reentry::ReentryRule>,
}

/// Live counters of a running import, for a progress bar or a progress event stream.
#[derive(Debug, Clone, Default)]
pub struct ImportProgress {
    pub read: Arc<ReadCounters>,
    pub rows_read: Arc<AtomicU64>,
    pub rows_merged: Arc<AtomicU64>,
}

/// What an import did. The counts reconcile:
/// `total = inserted + updated + refreshed + duplicate_in_file + duplicate_existing + invalid + dnc + erased`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub total: i64,
    pub inserted: i64,
    pub updated: i64,
    /// Stored numbers the re-entry rule brought back to the pool fresh.
    pub refreshed: i64,
    pub duplicate_in_file: i64,
    pub duplicate_existing: i64,
    pub invalid: i64,
    pub dnc: i64,
    pub erased: i64,
}

impl Counts {
    pub(super) fn add_reject(&mut self, reason: RejectReason) {
        match reason {
            RejectReason::Invalid => self.invalid += 1,
            RejectReason::DuplicateInFile => self.duplicate_in_file += 1,
            RejectReason::DuplicateExisting => self.duplicate_existing += 1,
            RejectReason::Dnc => self.dnc += 1,
            RejectReason::Erased => self.erased += 1,
        }
    }

    pub fn reconciles(&self) -> bool {
        self.total
            == self.inserted
                + self.updated
                + self.refreshed
                + self.duplicate_in_file
                + self.duplicate_existing
                + self.invalid
                + self.dnc
                + self.erased
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub import_id: i64,
    pub file: String,
    pub provider: String,
    pub format: &'static str,
    pub encoding: Option<&'static str>,
    pub on_duplicate: OnDuplicate,
    /// The re-entry rule that applied, in words (`skip`, `refresh after 30 days (system)`).
    pub reentry: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub rejects_file: Option<String>,
    pub seconds: f64,
}
