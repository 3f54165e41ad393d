//! Writing a batch: staged with a binary `COPY`, merged into `phone_numbers` with one
//! statement per batch, within the tenant's number limit.

use self::batch::{Batch, RejectReason};
use self::rejects::RejectsFile;
use super::*;
use crate::intake::phone::zones;
use crate::platform::TenantId;
use crate::platform::error::{Error, Result};
use bytes::{BufMut, BytesMut};
use futures_util::pin_mut;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Statement, Transaction};

/// Rows per batch: big enough that per-statement costs vanish and each partition's
/// index takes a run of sorted keys, small enough that the reader's head start before
/// the first merge is short and memory stays flat (~185 MB peak at 100k; 50k was 25%
/// slower, 200k no faster and 20% more memory; see docs/benchmarks.md).
pub const BATCH_ROWS: usize = 100_000;

const MERGE_SQL: &str = include_str!("merge.sql");
/// Skip: a conflict with a row of this import's earlier batches is touched so that it
/// comes back as an in-file duplicate; one with a row stored before is left alone.
const ON_CONFLICT_SKIP: &str = "ON CONFLICT (tenant_id, phone) DO UPDATE
        SET updated_at = clock_timestamp()
        WHERE p.last_import_id = $3";
/// Update: `$4` is whether the file has a geo column, so an update may change the geo.
const ON_CONFLICT_UPDATE: &str = "ON CONFLICT (tenant_id, phone) DO UPDATE
        SET attributes = p.attributes || EXCLUDED.attributes,
            geo_id = CASE WHEN $4 THEN EXCLUDED.geo_id ELSE p.geo_id END,
            zone_set = CASE WHEN $4 THEN EXCLUDED.zone_set ELSE COALESCE(p.zone_set, EXCLUDED.zone_set) END,
            last_import_id = EXCLUDED.last_import_id,
            updated_at = clock_timestamp()
        WHERE p.last_import_id <> $3";

pub(super) struct Statements {
    pub(super) copy: Statement,
    pub(super) mark_dnc: Statement,
    pub(super) merge: Statement,
    pub(super) on_duplicate: OnDuplicate,
    /// Brings back numbers the re-entry rule refreshes; absent when the rule is `skip`.
    pub(super) refresh: Option<Statement>,
}

impl Statements {
    pub(super) async fn prepare(
        tx: &Transaction<'_>,
        on_duplicate: OnDuplicate,
        reentry: &reentry::ReentryRule,
    ) -> Result<Self> {
        let (on_conflict, update_params, not_returned_reason, returned_rewrite_is_reject) = match on_duplicate
        {
            OnDuplicate::Skip => (ON_CONFLICT_SKIP, "", "'duplicate_existing'", "true"),
            OnDuplicate::Update => {
                (ON_CONFLICT_UPDATE, ", $4 whether the file has a geo column", "'duplicate_in_file'", "false")
            }
        };
        let merge = MERGE_SQL
            .replace("{on_conflict}", on_conflict)
            .replace("{update_params}", update_params)
            .replace("{not_returned_reason}", not_returned_reason)
            .replace("{returned_rewrite_is_reject}", returned_rewrite_is_reject);
        Ok(Statements {
            copy: tx
                .prepare("COPY import_staging (ord, phone, geo_id, zone_set, attributes) FROM STDIN (FORMAT binary)")
                .await?,
            mark_dnc: tx
                .prepare(
                    "UPDATE import_staging s SET dnc = true FROM dnc_numbers d
                     WHERE d.tenant_id = $1 AND d.phone = s.phone",
                )
                .await?,
            merge: tx.prepare(&merge).await?,
            on_duplicate,
            refresh: if reentry.is_skip() { None } else { Some(tx.prepare(reentry::REFRESH_SQL).await?) },
        })
    }
}

pub(super) struct MergeParams {
    pub(super) tenant: TenantId,
    pub(super) provider_id: i64,
    pub(super) import_id: i64,
    pub(super) tenant_has_dnc: bool,
    /// The tenant's group rules (ids, attribute names), when it has any.
    pub(super) groups: Option<(Vec<i64>, Vec<String>)>,
    pub(super) reentry: reentry::ReentryRule,
    /// Which refused rows to keep for the provider's returns: `dnc_at_delivery`,
    /// `duplicate`; usually none.
    pub(super) refusals: Vec<String>,
}

/// The staged rows of `batch` that are erased numbers, by index, with what their
/// tombstones say.
async fn erased_rows(
    tx: &Transaction<'_>,
    tenant: TenantId,
    batch: &Batch,
) -> Result<std::collections::HashMap<usize, String>> {
    if batch.erasure_candidates.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let hashes: Vec<[u8; 32]> = batch.erasure_candidates.iter().map(|(_, h)| *h).collect();
    let live = crate::intake::tombstone::confirm(tx, tenant, &hashes).await?;
    Ok(batch
        .erasure_candidates
        .iter()
        .filter_map(|(index, hash)| live.get(hash).map(|t| (*index, t.describe())))
        .collect())
}

/// A JSON object's text sent as `jsonb` in binary COPY without building a `Value`.
#[derive(Debug)]
struct RawJsonb<'a>(&'a [u8]);

impl ToSql for RawJsonb<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // jsonb's binary format: a version byte, then the text.
        out.put_u8(1);
        out.put_slice(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}

pub(super) async fn merge_batch(
    tx: &Transaction<'_>,
    statements: &Statements,
    params: &MergeParams,
    batch: &Batch,
    counts: &mut Counts,
    rejects: &mut RejectsFile,
) -> Result<()> {
    counts.total += batch.rows as i64;
    let mut batch_rejects: Vec<(u64, &str, RejectReason, &str)> =
        batch.rejects.iter().map(|r| (r.row, r.raw.as_str(), r.reason, r.detail.as_str())).collect();
    let erased = erased_rows(tx, params.tenant, batch).await?;
    for (index, detail) in &erased {
        let staged = &batch.staged[*index];
        batch_rejects.push((staged.row, &staged.raw, RejectReason::Erased, detail));
    }
    if batch.staged.len() > erased.len() {
        stage_and_merge(tx, statements, params, batch, &erased, counts, &mut batch_rejects).await?;
    }
    // The rejects file reads in file order within each batch.
    batch_rejects.sort_unstable_by_key(|r| r.0);
    for (row, raw, reason, detail) in batch_rejects {
        counts.add_reject(reason);
        rejects.write(row, raw, reason, detail)?;
    }
    counts.inserted = counts.total
        - counts.updated
        - counts.duplicate_in_file
        - counts.duplicate_existing
        - counts.invalid
        - counts.dnc
        - counts.erased
        - counts.refreshed;
    Ok(())
}

async fn stage_and_merge<'b>(
    tx: &Transaction<'_>,
    statements: &Statements,
    params: &MergeParams,
    batch: &'b Batch,
    erased: &std::collections::HashMap<usize, String>,
    counts: &mut Counts,
    batch_rejects: &mut Vec<(u64, &'b str, RejectReason, &'b str)>,
) -> Result<()> {
    tx.batch_execute("TRUNCATE import_staging").await?;
    zones::record(tx, &batch.zone_sets).await?;
    let sink = tx.copy_in(&statements.copy).await?;
    let writer =
        BinaryCopyInWriter::new(sink, &[Type::INT4, Type::INT8, Type::INT8, Type::INT4, Type::JSONB]);
    pin_mut!(writer);
    for (ord, staged) in batch.staged.iter().enumerate() {
        // An erased number is never stored, not even in the staging table.
        if erased.contains_key(&ord) {
            continue;
        }
        let ord = ord as i32;
        let zone_set = staged.zones.map(|z| z.id);
        writer
            .as_mut()
            .write(&[&ord, &staged.phone, &staged.geo_id, &zone_set, &RawJsonb(&staged.attributes)])
            .await?;
    }
    writer.finish().await?;
    if params.tenant_has_dnc {
        tx.execute(&statements.mark_dnc, &[&params.tenant.0]).await?;
    }
    if let Some(refresh) = &statements.refresh {
        let rule = &params.reentry;
        let categories =
            (rule.mode == reentry::ReentryMode::RefreshIfStatus).then(|| rule.categories.clone());
        let refreshed: i64 = tx
            .query_one(
                refresh,
                &[
                    &params.tenant.0,
                    &params.provider_id,
                    &params.import_id,
                    &rule.after_days,
                    &rule.scope.name(),
                    &categories,
                    &rule.describe(),
                ],
            )
            .await?
            .get(0);
        counts.refreshed += refreshed;
    }
    let rows = match statements.on_duplicate {
        OnDuplicate::Skip => {
            tx.query(&statements.merge, &[&params.tenant.0, &params.provider_id, &params.import_id]).await?
        }
        OnDuplicate::Update => {
            let params: [&(dyn ToSql + Sync); 4] =
                [&params.tenant.0, &params.provider_id, &params.import_id, &batch.has_geo_column];
            tx.query(&statements.merge, &params).await?
        }
    };
    let mut refused: (Vec<i64>, Vec<&str>) = (Vec::new(), Vec::new());
    for row in rows {
        match row.get::<_, Option<i32>>(0) {
            Some(ord) => {
                let reason: &str = row.get(1);
                let reason = RejectReason::parse(reason)
                    .ok_or_else(|| Error::Worker(format!("merge returned an unknown reason '{reason}'")))?;
                let staged = batch.staged.get(ord as usize).ok_or_else(|| {
                    Error::Worker(format!("merge returned row {ord} of {}", batch.staged.len()))
                })?;
                let kept = match reason {
                    RejectReason::Dnc => Some("dnc_at_delivery"),
                    RejectReason::DuplicateExisting => Some("duplicate"),
                    _ => None,
                };
                if let Some(kept) = kept.filter(|k| params.refusals.iter().any(|r| r == k)) {
                    refused.0.push(staged.phone);
                    refused.1.push(kept);
                }
                batch_rejects.push((staged.row, &staged.raw, reason, reason.describe()));
            }
            None => counts.updated += row.get::<_, i64>(2),
        }
    }
    // A duplicate qualifies only when this provider had sold the number before.
    if !refused.0.is_empty() {
        tx.execute(
            "INSERT INTO import_refusals (tenant_id, import_id, phone, reason)
             SELECT $1, $2, u.phone, u.reason FROM unnest($3::bigint[], $4::text[]) AS u(phone, reason)
              WHERE u.reason = 'dnc_at_delivery'
                 OR EXISTS (SELECT FROM phone_numbers n WHERE n.tenant_id = $1 AND n.phone = u.phone AND n.provider_id = $5)
             ON CONFLICT DO NOTHING",
            &[&params.tenant.0, &params.import_id, &refused.0, &refused.1, &params.provider_id],
        )
        .await?;
    }
    // The batch's stored rows join their households; only when the tenant groups numbers.
    if let Some((ids, names)) = &params.groups {
        tx.execute(
            "UPDATE phone_numbers n SET group_key = dialpool_group_key(n.attributes, $3, $4)
               FROM import_staging s
              WHERE n.tenant_id = $1 AND n.phone = s.phone AND n.last_import_id = $2
                AND n.group_key IS DISTINCT FROM dialpool_group_key(n.attributes, $3, $4)",
            &[&params.tenant.0, &params.import_id, ids, names],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn check_tenant_limit(tx: &Transaction<'_>, tenant: TenantId) -> Result<()> {
    let limit: Option<i64> =
        tx.query_one("SELECT max_numbers FROM tenants WHERE id = $1", &[&tenant.0]).await?.get(0);
    if let Some(limit) = limit {
        let stored: i64 = tx
            .query_one("SELECT count(*) FROM phone_numbers WHERE tenant_id = $1", &[&tenant.0])
            .await?
            .get(0);
        if stored > limit {
            return Err(Error::LimitReached(format!(
                "the tenant may hold {limit} numbers and this import would bring it to {stored}; nothing was imported"
            )));
        }
    }
    Ok(())
}
