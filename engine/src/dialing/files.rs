//! Outcome files: Asterisk's `cdr-csv` `Master.csv` and a generic CSV, read into the same
//! path as posted outcomes ([`super::outcome`]). A file is one transaction: its good rows
//! are applied, its bad rows are reported with row, column and reason, and a file sent
//! twice changes nothing the second time (calls are keyed by `call_id`).

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio::sync::mpsc;

use super::outcome::{self, ApplySummary, Rejected, Staged};
use crate::intake::phone::{self, Region};
use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::progress::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    /// Asterisk `cdr-csv` `Master.csv`: no header; 16 columns, 17 with `loguniqueid`,
    /// 18 with `loguniqueid` and `loguserfield`.
    Asterisk,
    /// A CSV with a header: `phone`, `call_id`, `disposition`, `at`, and optionally
    /// `project_id`, `ended_at`, `duration_s`, `agent`, `notes`.
    Csv,
    /// VICIdial's calls export (`call_report_export.php`), the file VICIdial gives status
    /// updates in: tab-separated (or `|` for ALTERNATE_1) with a header; `call_date`,
    /// `phone_number_dialed`, `status` and, when present, `phone_code`, `user`,
    /// `length_in_sec`, `lead_id`, `uniqueid` (EXTENDED), `comments`/`call_notes`.
    Vicidial,
}

impl Format {
    pub fn parse(name: &str) -> Result<Format> {
        match name {
            "asterisk" => Ok(Format::Asterisk),
            "csv" => Ok(Format::Csv),
            "vicidial" => Ok(Format::Vicidial),
            other => {
                Err(Error::invalid("format", format!("'{other}' is not a format: asterisk, vicidial or csv")))
            }
        }
    }
}

impl<'de> serde::Deserialize<'de> for Format {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Format::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// How to read an outcome file, as a remote host's `import_options` or a job gives it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeFileOptions {
    #[serde(default)]
    pub format: Format,
    pub time_zone: Option<String>,
    pub region: Option<Region>,
    pub project_id: Option<i64>,
}

/// The `outcome_import` job: a dialer's file of call outcomes.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct OutcomeImportJob {
    /// The file; a relative path is under the data directory.
    pub path: PathBuf,
    pub file_name: Option<String>,
    #[serde(flatten)]
    pub options: OutcomeFileOptions,
    /// For a file pulled from a remote host: where it and its summary go afterwards.
    pub deliver: Option<crate::intake::import::Deliver>,
}

impl OutcomeFileOptions {
    /// Stored options (a remote's `import_options`), refusing what they cannot mean;
    /// `field` names them in the error.
    pub fn from_json(field: &'static str, value: &serde_json::Value) -> Result<OutcomeFileOptions> {
        crate::intake::import::stored_options(field, value)
    }
}

impl crate::platform::job::JobArgs for OutcomeImportJob {
    const KIND: crate::platform::job::JobKind = crate::platform::job::JobKind::OutcomeImport;
}

#[derive(Debug, Clone)]
pub struct OutcomeFileRequest {
    pub tenant: TenantId,
    /// What the caller may touch: numbers in other projects are rejected row by row.
    pub scope: Scope,
    pub path: PathBuf,
    /// The name reports and the audit log show; the path's file name by default.
    pub display_name: Option<String>,
    pub format: Format,
    /// The zone of times written without one (Asterisk's local time); UTC by default.
    pub time_zone: Option<String>,
    /// Region for numbers written without a country code.
    pub region: Option<Region>,
    /// The project every call belongs to; by default the project holding each number.
    pub project_id: Option<i64>,
    pub actor: Actor,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutcomeFileSummary {
    pub file: String,
    #[serde(flatten)]
    pub applied: ApplySummary,
}

/// Rows read off the file, or a row that could not be read.
enum Read {
    Rows(Vec<Staged>),
    Bad(Rejected),
}

const CHUNK: usize = 20_000;
/// Rejections kept in the summary; the counts cover all of them.
const REJECTIONS_SHOWN: usize = 100;

pub async fn import(pool: &Pool, request: OutcomeFileRequest) -> Result<OutcomeFileSummary> {
    import_for(pool, request, None, &Progress::default()).await
}

/// [`import`], telling `progress` the rows read, then that they are being applied.
pub async fn import_with_progress(
    pool: &Pool,
    request: OutcomeFileRequest,
    progress: &Progress,
) -> Result<OutcomeFileSummary> {
    import_for(pool, request, None, progress).await
}

/// [`import`] as the work of a queued job, marked succeeded in the file's transaction.
pub async fn import_as_job(
    pool: &Pool,
    request: OutcomeFileRequest,
    claim: &crate::platform::job::Claim,
) -> Result<OutcomeFileSummary> {
    import_for(pool, request, Some(claim), &Progress::default()).await
}

async fn import_for(
    pool: &Pool,
    request: OutcomeFileRequest,
    job: Option<&crate::platform::job::Claim>,
    progress: &Progress,
) -> Result<OutcomeFileSummary> {
    progress.stage("reading calls", None);
    let file = request.display_name.clone().unwrap_or_else(|| {
        request
            .path
            .file_name()
            .map_or_else(|| request.path.display().to_string(), |n| n.to_string_lossy().into())
    });
    let zone = request.time_zone.clone().unwrap_or_else(|| "UTC".into());
    let mut pooled = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut pooled;
    crate::intake::geo::validate_time_zone(&*client, &zone).await?;
    let tx = client.transaction().await?;
    tx.batch_execute(outcome::STAGING).await?;
    let (sender, mut receiver) = mpsc::channel::<Read>(4);
    let (path, format, region, project, name) =
        (request.path.clone(), request.format, request.region, request.project_id, file.clone());
    let reader =
        tokio::task::spawn_blocking(move || read_file(&path, &name, format, region, project, &sender));
    let mut bad: Vec<Rejected> = Vec::new();
    let mut bad_count = 0i64;
    // Each chunk is one COPY through the same staging path as a posted outcome.
    let copied = async {
        while let Some(read) = receiver.recv().await {
            match read {
                Read::Rows(rows) => {
                    outcome::stage(&tx, &rows).await?;
                    progress.add(rows.len() as u64);
                }
                Read::Bad(rejected) => {
                    bad_count += 1;
                    if bad.len() < REJECTIONS_SHOWN {
                        bad.push(rejected);
                    }
                }
            }
        }
        Ok::<_, Error>(())
    }
    .await;
    drop(receiver);
    reader.await.map_err(|e| Error::Worker(e.to_string()))??;
    copied?;
    // A million rows sort and hash in memory rather than in temporary files.
    tx.batch_execute("SET LOCAL work_mem = '128MB'").await?;
    progress.stage("applying calls", None);
    let mut applied =
        outcome::apply(&tx, request.tenant, &request.scope, &request.actor, &file, &zone).await?;
    applied.received += bad_count;
    applied.rejected += bad_count;
    bad.append(&mut applied.rejections);
    bad.sort_by_key(|r| r.line);
    bad.truncate(REJECTIONS_SHOWN);
    applied.rejections = bad;
    let summary = OutcomeFileSummary { file: file.clone(), applied };
    audit::record(
        &tx,
        request.tenant,
        &request.actor,
        Change {
            action: "outcomes.import",
            entity: "outcome_file",
            entity_id: file,
            before: None,
            after: Some(serde_json::json!({
                "format": request.format, "received": summary.applied.received, "applied": summary.applied.applied,
                "duplicates": summary.applied.duplicates, "rejected": summary.applied.rejected,
            })),
        },
    )
    .await?;
    if let Some(claim) = job {
        crate::platform::job::complete_in(&tx, claim, &serde_json::to_value(&summary).unwrap_or_default())
            .await?;
    }
    tx.commit().await?;
    if let Err(error) =
        crate::platform::db::refresh_number_statistics(&*client, summary.applied.applied.max(0) as u64).await
    {
        tracing::warn!(%error, "analyzing phone_numbers after an outcome file");
    }
    Ok(summary)
}

fn read_file(
    path: &Path,
    name: &str,
    format: Format,
    region: Option<Region>,
    project_id: Option<i64>,
    sender: &mpsc::Sender<Read>,
) -> Result<()> {
    let open =
        || std::fs::File::open(path).map_err(|e| Error::io(format!("cannot open {}", path.display()), e));
    let mut builder = csv::ReaderBuilder::new();
    builder.has_headers(format != Format::Asterisk).flexible(true);
    if format == Format::Vicidial {
        // VICIdial strips tabs from the data and never quotes, so a quote is data.
        let mut first_line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(open()?), &mut first_line)
            .map_err(|e| Error::io(format!("reading {name}"), e))?;
        let delimiter = if first_line.contains('\t') { b'\t' } else { b'|' };
        builder.delimiter(delimiter).quoting(false);
    }
    let mut reader = builder.from_reader(std::io::BufReader::with_capacity(1 << 20, open()?));
    let columns = match format {
        Format::Asterisk => Columns::Asterisk,
        Format::Csv => {
            Columns::Csv(CsvColumns::find(reader.headers().map_err(|e| csv_error(name, e))?, name)?)
        }
        Format::Vicidial => {
            Columns::Vicidial(VicidialColumns::find(reader.headers().map_err(|e| csv_error(name, e))?, name)?)
        }
    };
    let mut chunk = Vec::with_capacity(CHUNK);
    let mut record = csv::StringRecord::new();
    // Rows as a person counts them in an editor: the header is row 1.
    let mut line = if format == Format::Asterisk { 0 } else { 1 };
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(name, e)),
        }
        line += 1;
        let parsed = match &columns {
            Columns::Asterisk => asterisk_row(&record, line, region),
            Columns::Csv(c) => c.row(&record, line, region),
            Columns::Vicidial(c) => c.row(&record, line, region),
        };
        match parsed {
            Ok(mut staged) => {
                staged.project_id = staged.project_id.or(project_id);
                chunk.push(staged);
                if chunk.len() == CHUNK
                    && sender.blocking_send(Read::Rows(std::mem::take(&mut chunk))).is_err()
                {
                    return Ok(());
                }
            }
            Err((column, reason)) => {
                let reason = format!("column {column}: {reason}");
                let bad = Rejected { line, call_id: String::new(), reason, field: column };
                if sender.blocking_send(Read::Bad(bad)).is_err() {
                    return Ok(());
                }
            }
        }
    }
    if !chunk.is_empty() {
        let _ = sender.blocking_send(Read::Rows(chunk));
    }
    Ok(())
}

fn csv_error(file: &str, e: csv::Error) -> Error {
    let row = e.position().map(|p| p.line());
    Error::bad_file(
        crate::platform::error::Location { file: file.to_owned(), row, column: None },
        e.to_string(),
    )
}

type RowError = (&'static str, String);

/// A time and whether it was written without a zone (a wall clock). A row's times are
/// all one or all the other, as dialers write them.
fn time(column: &'static str, value: &str) -> Result<Option<(DateTime<Utc>, bool)>, RowError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some((t.with_timezone(&Utc), false)));
    }
    NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S")
        .map(|t| Some((t.and_utc(), true)))
        .map_err(|_| (column, format!("'{value}' is not a time (YYYY-MM-DD HH:MM:SS or RFC 3339)")))
}

fn phone_of(column: &'static str, value: &str, region: Option<Region>) -> Result<i64, RowError> {
    if let Some(e164) = phone::e164_digits(value) {
        return Ok(e164);
    }
    phone::normalise(value, region).map(|n| n.e164).map_err(|r| (column, format!("'{value}': {r}")))
}

fn seconds(column: &'static str, value: &str) -> Result<Option<i32>, RowError> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<i32>()
        .ok()
        .filter(|s| *s >= 0)
        .map(Some)
        .ok_or_else(|| (column, format!("'{value}' is not a number of seconds")))
}

/// `accountcode, src, dst, dcontext, clid, channel, dstchannel, lastapp, lastdata, start,
/// answer, end, duration, billsec, disposition, amaflags[, uniqueid[, userfield]]`.
fn asterisk_row(r: &csv::StringRecord, line: i64, region: Option<Region>) -> Result<Staged, RowError> {
    if !(16..=18).contains(&r.len()) {
        return Err(("1", format!("{} columns; a Master.csv row has 16, 17 or 18", r.len())));
    }
    let (started_at, wall_clock) = time("start (10)", &r[9])?.ok_or(("start (10)", "empty".to_owned()))?;
    // A call is known by its channel and start, which Asterisk never repeats and which
    // every layout carries: the same calls sent again, with or without loguniqueid,
    // change nothing. (The uniqueid only the longer layouts hold cannot be the key: the
    // 16-column copy of the same call would be counted a second time.)
    let call_id = format!("{}@{}", r[5].trim(), r[9].trim());
    // With loguserfield, a dialplan's `Set(CDR(userfield)=SALE)` is the agent's result
    // and says more than Asterisk's own disposition.
    let disposition = r.get(17).map(str::trim).filter(|u| !u.is_empty()).unwrap_or(r[14].trim());
    Ok(Staged {
        line,
        call_id,
        phone: phone_of("dst (3)", &r[2], region)?,
        project_id: None,
        disposition: disposition.to_uppercase(),
        started_at,
        answered_at: time("answer (11)", &r[10])?.map(|t| t.0),
        ended_at: time("end (12)", &r[11])?.map(|t| t.0),
        duration_s: seconds("billsec (14)", &r[13])?,
        agent: Some(r[6].trim().to_owned()).filter(|a| !a.is_empty()),
        notes: None,
        wall_clock,
    })
}

enum Columns {
    Asterisk,
    Csv(CsvColumns),
    Vicidial(VicidialColumns),
}

fn missing_column(file: &str, name: &str, needs: &str) -> Error {
    Error::bad_file(
        crate::platform::error::Location {
            file: file.to_owned(),
            row: Some(1),
            column: Some(name.to_owned()),
        },
        format!("the header has no '{name}' column (needs {needs})"),
    )
}

struct VicidialColumns {
    call_date: usize,
    phone: usize,
    status: usize,
    phone_code: Option<usize>,
    user: Option<usize>,
    length: Option<usize>,
    lead_id: Option<usize>,
    uniqueid: Option<usize>,
    notes: Option<usize>,
}

impl VicidialColumns {
    fn find(headers: &csv::StringRecord, file: &str) -> Result<VicidialColumns> {
        let find = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
        let needs = "call_date, phone_number_dialed, status";
        let need = |name: &str| find(name).ok_or_else(|| missing_column(file, name, needs));
        Ok(VicidialColumns {
            call_date: need("call_date")?,
            phone: find("phone_number_dialed")
                .or_else(|| find("phone_number"))
                .ok_or_else(|| missing_column(file, "phone_number_dialed", needs))?,
            status: need("status")?,
            phone_code: find("phone_code"),
            user: find("user"),
            length: find("length_in_sec"),
            lead_id: find("lead_id"),
            uniqueid: find("uniqueid"),
            notes: find("call_notes").or_else(|| find("comments")),
        })
    }

    fn row(&self, r: &csv::StringRecord, line: i64, region: Option<Region>) -> Result<Staged, RowError> {
        let get = |i: usize| r.get(i).unwrap_or("").trim();
        let optional = |i: Option<usize>| i.map(get).filter(|v| !v.is_empty());
        let call_date = get(self.call_date);
        let (started_at, wall_clock) =
            time("call_date", call_date)?.ok_or(("call_date", "empty".to_owned()))?;
        let status = get(self.status);
        if status.is_empty() {
            return Err(("status", "empty".into()));
        }
        // VICIdial dials the national number and keeps the country code apart.
        let dialed = get(self.phone);
        let phone = match optional(self.phone_code) {
            Some(code) if !dialed.starts_with('+') => {
                phone_of("phone_number_dialed", &format!("+{code}{dialed}"), None)?
            }
            _ => phone_of("phone_number_dialed", dialed, region)?,
        };
        // A call is its uniqueid (EXTENDED export); without one, its lead and start,
        // which VICIdial never repeats.
        let call_id = match (optional(self.uniqueid), optional(self.lead_id)) {
            (Some(uniqueid), _) => uniqueid.to_owned(),
            (None, Some(lead)) => format!("vicidial:{lead}@{call_date}"),
            (None, None) => format!("vicidial:{phone}@{call_date}"),
        };
        Ok(Staged {
            line,
            call_id,
            phone,
            project_id: None,
            disposition: status.to_uppercase(),
            started_at,
            answered_at: None,
            ended_at: None,
            duration_s: match self.length {
                Some(i) => seconds("length_in_sec", get(i))?,
                None => None,
            },
            agent: optional(self.user).map(str::to_owned),
            notes: optional(self.notes).map(str::to_owned),
            wall_clock,
        })
    }
}

struct CsvColumns {
    phone: usize,
    call_id: usize,
    disposition: usize,
    at: usize,
    project_id: Option<usize>,
    ended_at: Option<usize>,
    duration_s: Option<usize>,
    agent: Option<usize>,
    notes: Option<usize>,
}

impl CsvColumns {
    fn find(headers: &csv::StringRecord, file: &str) -> Result<CsvColumns> {
        let find = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
        let need = |name: &str| {
            find(name).ok_or_else(|| missing_column(file, name, "phone, call_id, disposition, at"))
        };
        Ok(CsvColumns {
            phone: need("phone")?,
            call_id: need("call_id")?,
            disposition: need("disposition")?,
            at: need("at")?,
            project_id: find("project_id"),
            ended_at: find("ended_at"),
            duration_s: find("duration_s"),
            agent: find("agent"),
            notes: find("notes"),
        })
    }

    fn row(&self, r: &csv::StringRecord, line: i64, region: Option<Region>) -> Result<Staged, RowError> {
        let get = |i: usize| r.get(i).unwrap_or("").trim();
        let optional = |i: Option<usize>| i.map(get).filter(|v| !v.is_empty()).map(str::to_owned);
        let call_id = get(self.call_id);
        if call_id.is_empty() || call_id.len() > 200 {
            return Err(("call_id", "must be 1 to 200 characters".into()));
        }
        let disposition = get(self.disposition);
        if disposition.is_empty() {
            return Err(("disposition", "empty".into()));
        }
        let project_id = match optional(self.project_id) {
            None => None,
            Some(v) => {
                Some(v.parse::<i64>().map_err(|_| ("project_id", format!("'{v}' is not a project id")))?)
            }
        };
        let (started_at, wall_clock) = time("at", get(self.at))?.ok_or(("at", "empty".to_owned()))?;
        Ok(Staged {
            line,
            call_id: call_id.to_owned(),
            phone: phone_of("phone", get(self.phone), region)?,
            project_id,
            disposition: disposition.to_uppercase(),
            started_at,
            answered_at: None,
            ended_at: match self.ended_at {
                Some(i) => time("ended_at", get(i))?.map(|t| t.0),
                None => None,
            },
            duration_s: match self.duration_s {
                Some(i) => seconds("duration_s", get(i))?,
                None => None,
            },
            agent: optional(self.agent),
            notes: optional(self.notes),
            wall_clock,
        })
    }
}
