//! What an export is asked for: the filter, the format and its options.

use crate::platform::TenantId;
use crate::platform::audit::Actor;
use crate::platform::error::{Error, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which of the project's numbers to export.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportFilter {
    pub status: Option<i16>,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    /// Allocated to the project from this instant on.
    pub allocated_from: Option<DateTime<Utc>>,
    /// Allocated before this instant.
    pub allocated_to: Option<DateTime<Utc>>,
    pub attempts_min: Option<i16>,
    pub attempts_max: Option<i16>,
    /// Only numbers no earlier export of this project has taken.
    #[serde(default)]
    pub never_exported: bool,
    /// At most this many rows (in phone order).
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// Delimiter and encoding selectable; a header row.
    #[default]
    Csv,
    /// Excel 2007+, written in constant memory; a new sheet every 1,048,575 rows.
    Xlsx,
    /// VICIdial's standard lead-loader layout: 25 tab-separated fields, no header.
    Vicidial,
    /// For analysts: the spreadsheet columns, typed and unescaped, Zstandard-compressed.
    Parquet,
}

impl ExportFormat {
    pub fn parse(name: &str) -> Result<ExportFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Ok(ExportFormat::Csv),
            "xlsx" => Ok(ExportFormat::Xlsx),
            "vicidial" => Ok(ExportFormat::Vicidial),
            "parquet" => Ok(ExportFormat::Parquet),
            other => {
                Err(Error::invalid("format", format!("'{other}' is not csv, xlsx, vicidial or parquet")))
            }
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Vicidial => "vicidial",
            ExportFormat::Parquet => "parquet",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Vicidial => "txt",
            ExportFormat::Parquet => "parquet",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv",
            ExportFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ExportFormat::Vicidial => "text/tab-separated-values",
            ExportFormat::Parquet => "application/vnd.apache.parquet",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Encoding {
    #[serde(rename = "utf-8")]
    Utf8,
    /// For old Excel on Russian Windows; a number's attributes that Windows-1251 cannot
    /// hold make the export fail rather than turn into question marks.
    #[serde(rename = "windows-1251")]
    Windows1251,
}

impl Encoding {
    pub fn parse(name: &str) -> Result<Encoding> {
        match name.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1251" | "cp1251" | "win1251" => Ok(Encoding::Windows1251),
            other => Err(Error::invalid("encoding", format!("'{other}' is not utf-8 or windows-1251"))),
        }
    }

    pub(super) fn postgres_name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF8",
            Encoding::Windows1251 => "WIN1251",
        }
    }
}

/// CSV layout: the delimiter is one of `,` `;` TAB `|`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    pub delimiter: char,
    pub encoding: Encoding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: ',', encoding: Encoding::Utf8 }
    }
}

impl CsvOptions {
    pub(super) fn delimiter_sql(self) -> Result<&'static str> {
        match self.delimiter {
            ',' => Ok(","),
            ';' => Ok(";"),
            '\t' => Ok("\t"),
            '|' => Ok("|"),
            other => Err(Error::invalid("delimiter", format!("'{other}' is not one of , ; TAB |"))),
        }
    }
}

/// How the file is written, and what the export does to its numbers besides recording them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportOptions {
    #[serde(default)]
    pub format: ExportFormat,
    /// CSV only.
    #[serde(default)]
    pub csv: CsvOptions,
    /// VICIdial only: the list the leads load into (default: the project's id).
    pub vicidial_list_id: Option<i64>,
    /// Move the exported numbers to this status (e.g. an in-work status), with an event each.
    pub set_status: Option<i16>,
}

/// The `export` job: a project's numbers to a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportJob {
    pub project_id: i64,
    /// Under the data directory; or, with `sftp_account_id` or `sftp_remote_id`, a file
    /// name in that partner's or remote's `outbox/`.
    pub out: String,
    pub sftp_account_id: Option<i64>,
    /// The export is pushed to this remote host once written.
    pub sftp_remote_id: Option<i64>,
    /// An export already recorded (started over HTTP): run it, kept for download under
    /// `out` until `keep_until`.
    pub export_id: Option<i64>,
    pub keep_until: Option<DateTime<Utc>>,
    #[serde(default)]
    pub filter: ExportFilter,
    #[serde(default)]
    pub options: ExportOptions,
}

impl crate::platform::job::JobArgs for ExportJob {
    const KIND: crate::platform::job::JobKind = crate::platform::job::JobKind::Export;
}

#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub tenant: TenantId,
    pub project_id: i64,
    pub filter: ExportFilter,
    pub options: ExportOptions,
    /// Where the file goes.
    pub out: PathBuf,
    /// For a file the server keeps for download: its path under the data directory, and
    /// until when it is kept.
    pub stored_path: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub actor: Actor,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportSummary {
    pub export_id: i64,
    pub rows: i64,
    pub bytes: i64,
    pub file: String,
    /// Numbers moved to the requested status (those already in it are not counted).
    pub status_changed: i64,
    /// Numbers the filter matched that were left out because they are on the do-not-call
    /// list (or hold a DNC status).
    pub withheld_dnc: i64,
}
