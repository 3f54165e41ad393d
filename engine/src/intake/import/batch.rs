//! The reader side of an import, run on its own thread: rows in, normalised and
//! de-duplicated batches out, so that parsing the next batch overlaps the database
//! merging the last one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustc_hash::FxHashMap;
use tokio::sync::mpsc;

use super::layout::{self, HEADER_SEARCH_ROWS, Layout};
use super::mapping::{ColumnMapping, normalise_header};
use super::source::{self, Detected, ReadCounters, Row, SourceOptions};
use crate::intake::phone::{self, Region, ZoneSet, zones};
use crate::platform::error::{Error, Location, Result};

/// Why a row was not stored; the name is what the rejects file and the counts say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    Invalid,
    DuplicateInFile,
    DuplicateExisting,
    Dnc,
    /// Erased at the subject's request: a tombstone holds its hash.
    Erased,
}

impl RejectReason {
    pub fn parse(value: &str) -> Option<RejectReason> {
        match value {
            "invalid" => Some(RejectReason::Invalid),
            "duplicate_in_file" => Some(RejectReason::DuplicateInFile),
            "duplicate_existing" => Some(RejectReason::DuplicateExisting),
            "dnc" => Some(RejectReason::Dnc),
            "erased" => Some(RejectReason::Erased),
            _ => None,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RejectReason::Invalid => "not a valid phone number",
            RejectReason::DuplicateInFile => "duplicate: the same number is earlier in this file",
            RejectReason::DuplicateExisting => "duplicate: the number is already stored",
            RejectReason::Dnc => "on the do-not-call list",
            RejectReason::Erased => "erased at the subject's request",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Reject {
    pub row: u64,
    pub raw: String,
    pub reason: RejectReason,
    pub detail: String,
}

/// A row ready for staging. `attributes` is a JSON object's text.
#[derive(Debug, Clone)]
pub struct Staged {
    pub phone: i64,
    pub geo_id: Option<i64>,
    /// Where it rings: a region geo's zone, else the number's own zones, else its
    /// country geo's zone.
    pub zones: Option<&'static ZoneSet>,
    pub attributes: Vec<u8>,
    pub row: u64,
    pub raw: String,
}

#[derive(Debug, Default)]
pub struct Batch {
    pub staged: Vec<Staged>,
    pub rejects: Vec<Reject>,
    /// Data rows this batch accounts for: staged plus rejected.
    pub rows: u64,
    /// Whether geos came from a column of the file (so an update may change them).
    pub has_geo_column: bool,
    /// The distinct zone sets of `staged`, to record before they are stored.
    pub zone_sets: Vec<&'static ZoneSet>,
    /// Staged rows (by index) whose hash matched a tombstone's prefix, with the hash, to
    /// be confirmed before the batch is stored.
    pub erasure_candidates: Vec<(usize, [u8; 32])>,
}

/// Tenant geos by code (`RU`, `RU-MOW`) and by name, and the country geo for each country.
#[derive(Debug, Default, Clone)]
pub struct GeoDirectory {
    pub by_key: HashMap<String, i64>,
    pub by_country: HashMap<String, i64>,
    /// Each geo's zone, and whether it is a region's (more precise than a number's prefix).
    pub zones: HashMap<i64, (bool, &'static ZoneSet)>,
}

impl GeoDirectory {
    pub fn insert(
        &mut self,
        id: i64,
        code: &str,
        country: &str,
        region: Option<&str>,
        name: &str,
        zone: &str,
    ) {
        self.by_key.insert(code.to_ascii_uppercase(), id);
        self.by_key.entry(normalise_header(name)).or_insert(id);
        if region.is_none() {
            self.by_country.insert(country.to_owned(), id);
        }
        self.zones.insert(id, (region.is_some(), zones::single(zone)));
    }

    /// Where a number of `geo` rings: the region's zone when the geo is a region (the
    /// file named it), else the number's own zones, else the country's zone.
    fn zones_of(&self, geo: Option<i64>, own: Option<&'static ZoneSet>) -> Option<&'static ZoneSet> {
        match geo.and_then(|g| self.zones.get(&g)) {
            Some((true, region)) => Some(region),
            Some((false, country)) => own.or(Some(country)),
            None => own,
        }
    }

    /// The geo a value names (a code, a name, or a region code within the number's
    /// country); `None` when it names none.
    fn lookup(&self, value: &str, country: Option<&str>) -> Option<i64> {
        let upper = value.to_uppercase();
        self.by_key
            .get(&upper)
            .or_else(|| country.and_then(|c| self.by_key.get(&format!("{c}-{upper}"))))
            .or_else(|| self.by_key.get(&normalise_header(value)))
            .copied()
    }
}

/// A consent time as RFC 3339 in UTC, read from the forms files use (RFC 3339, ISO
/// without a zone as UTC, `2026-11-30 14:05[:09]`, `30.11.2026 14:05`, `11/30/2026
/// 14:05`, a bare date); `None` keeps the text as written.
pub fn consent_instant(value: &str) -> Option<String> {
    use chrono::{NaiveDate, NaiveDateTime, SecondsFormat};
    let value = value.trim();
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(value) {
        return Some(at.with_timezone(&chrono::Utc).to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    const TIMES: [&str; 6] = [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%d.%m.%Y %H:%M:%S",
        "%d.%m.%Y %H:%M",
        "%m/%d/%Y %H:%M",
    ];
    let naive = TIMES.iter().find_map(|f| NaiveDateTime::parse_from_str(value, f).ok()).or_else(|| {
        ["%Y-%m-%d", "%d.%m.%Y", "%m/%d/%Y"]
            .iter()
            .find_map(|f| NaiveDate::parse_from_str(value, f).ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })?;
    Some(naive.and_utc().to_rfc3339_opts(SecondsFormat::Secs, true))
}

pub struct ReaderContext {
    pub path: PathBuf,
    pub display_name: String,
    pub source: SourceOptions,
    pub mapping: ColumnMapping,
    pub region: Option<Region>,
    pub geos: Arc<GeoDirectory>,
    pub counters: Arc<ReadCounters>,
    pub rows_read: Arc<AtomicU64>,
    pub batch_size: usize,
    /// The tenant's tombstones; `None` when it has none.
    pub tombstones: Option<Arc<crate::intake::tombstone::TombstoneFilter>>,
}

#[derive(Debug, Clone)]
pub struct ReadOutcome {
    pub sha256: [u8; 32],
    pub detected: Detected,
    pub layout: Layout,
}

/// Reads the whole file, sending batches of `batch_size` staged rows. Blocking: run it on
/// a blocking thread. Stops early (with [`Error::Worker`]) when the receiver is gone.
pub fn read_file(
    context: ReaderContext,
    detected: Detected,
    sender: mpsc::Sender<Batch>,
) -> Result<ReadOutcome> {
    let mut builder = BatchBuilder {
        context: &context,
        detected: &detected,
        layout: None,
        pending: Vec::new(),
        batch: Batch::default(),
        seen: FxHashMap::default(),
        data_rows: 0,
        sender: &sender,
    };
    let sha256 = source::read_rows(
        &context.path,
        &context.display_name,
        &detected,
        &context.source,
        &context.counters,
        &mut |row| builder.accept(row),
    )?;
    builder.finish()?;
    let layout = builder.layout.take().expect("finish decides the layout");
    Ok(ReadOutcome { sha256, detected, layout })
}

struct BatchBuilder<'a> {
    context: &'a ReaderContext,
    detected: &'a Detected,
    layout: Option<Layout>,
    /// Rows held back until the header has been found.
    pending: Vec<Row>,
    batch: Batch,
    /// The numbers of this batch and where each first appeared.
    seen: FxHashMap<i64, u64>,
    data_rows: u64,
    sender: &'a mpsc::Sender<Batch>,
}

impl BatchBuilder<'_> {
    fn accept(&mut self, row: &Row) -> Result<()> {
        if self.layout.is_none() {
            if !row.is_empty() {
                self.pending.push(row.clone());
            }
            if self.pending.len() < HEADER_SEARCH_ROWS {
                return Ok(());
            }
            self.decide_layout()?;
            return Ok(());
        }
        self.process(row)
    }

    fn decide_layout(&mut self) -> Result<()> {
        let layout = layout::decide(
            &self.context.display_name,
            self.detected.format,
            &self.context.mapping,
            self.context.region,
            &self.pending,
        )?;
        self.layout = Some(layout);
        for row in std::mem::take(&mut self.pending) {
            self.process(&row)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.layout.is_none() {
            self.decide_layout()?;
        }
        if self.data_rows == 0 {
            let layout = self.layout.as_ref().expect("decided above");
            let message = match layout.header_row {
                Some(row) => format!("the file has a header (row {row}) but no data rows"),
                None => "the file holds no data rows".to_owned(),
            };
            return Err(Error::bad_file(
                Location { file: self.context.display_name.clone(), ..Location::default() },
                message,
            ));
        }
        self.flush()
    }

    fn process(&mut self, row: &Row) -> Result<()> {
        let layout = self.layout.as_ref().expect("layout decided before rows are processed");
        if !layout.is_data(row) {
            return Ok(());
        }
        self.data_rows += 1;
        self.batch.rows += 1;
        let raw = row.cell(layout.phone);
        let code = layout.phone_code.map(|c| row.cell(c)).filter(|c| !c.is_empty());
        let normalised = match code {
            Some(code) if !raw.starts_with('+') && !raw.starts_with("00") => {
                phone::normalise(&format!("+{code}{raw}"), None)
                    .or_else(|_| phone::normalise(raw, self.context.region))
            }
            _ => phone::normalise(raw, self.context.region),
        };
        let number = match normalised {
            Ok(number) => number,
            Err(rejection) => {
                self.batch.rejects.push(Reject {
                    row: row.number,
                    raw: raw.to_owned(),
                    reason: RejectReason::Invalid,
                    detail: rejection.to_string(),
                });
                return self.maybe_flush();
            }
        };
        if let Some(first) = self.seen.get(&number.e164) {
            self.batch.rejects.push(Reject {
                row: row.number,
                raw: raw.to_owned(),
                reason: RejectReason::DuplicateInFile,
                detail: format!("duplicate: the same number as row {first}"),
            });
            return self.maybe_flush();
        }
        self.seen.insert(number.e164, row.number);

        let geos = &self.context.geos;
        let geo_value = layout.geo.map(|c| row.cell(c)).filter(|v| !v.is_empty());
        let country = number.country_code();
        let country = country.as_deref();
        let named_geo = geo_value.and_then(|v| geos.lookup(v, country));
        let geo_id = named_geo.or_else(|| country.and_then(|c| geos.by_country.get(c).copied()));

        let mut attributes = Vec::with_capacity(64);
        attributes.push(b'{');
        for (column, key) in &layout.attribute_names {
            let value = row.cell(*column);
            // A geo that resolved lives in geo_id; one that did not is kept as written.
            if value.is_empty() || (Some(*column) == layout.geo && named_geo.is_some()) {
                continue;
            }
            if attributes.len() > 1 {
                attributes.push(b',');
            }
            serde_json::to_writer(&mut attributes, key).map_err(|e| Error::Worker(e.to_string()))?;
            attributes.push(b':');
            let consent = if key == "consent_at" { consent_instant(value) } else { None };
            let value = consent.as_deref().unwrap_or(value);
            serde_json::to_writer(&mut attributes, value).map_err(|e| Error::Worker(e.to_string()))?;
        }
        attributes.push(b'}');

        let zones = geos.zones_of(geo_id, number.zones);
        if let Some(set) = zones
            && !self.batch.zone_sets.iter().any(|s| s.id == set.id)
        {
            self.batch.zone_sets.push(set);
        }
        if let Some(hash) = self.context.tombstones.as_ref().and_then(|t| t.candidate(number.e164)) {
            self.batch.erasure_candidates.push((self.batch.staged.len(), hash));
        }
        self.batch.staged.push(Staged {
            phone: number.e164,
            geo_id,
            zones,
            attributes,
            row: row.number,
            raw: raw.to_owned(),
        });
        self.maybe_flush()
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.batch.staged.len() + self.batch.rejects.len() >= self.context.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.context.rows_read.fetch_add(self.batch.rows, Ordering::Relaxed);
        self.seen.clear();
        let mut batch = std::mem::take(&mut self.batch);
        batch.has_geo_column = self.layout.as_ref().is_some_and(|l| l.geo.is_some());
        self.sender
            .blocking_send(batch)
            .map_err(|_| Error::Worker("the database side stopped reading batches".into()))
    }
}
