//! Erasure (GDPR Art. 17, and "stop calling me" everywhere): the number goes, with its
//! attributes; its events and call outcomes lose their personal fields (the number, the
//! notes, event data) but keep their counts, so conversion figures stand; kept export
//! files that hold it are withdrawn; and a tombstone (a keyed hash, never the number)
//! keeps every later import from bringing it back.
//!
//! Each batch of up to [`BATCH`] numbers is one transaction, audited with who asked and
//! why. A batch holds the tenant's import lock, so no import runs with the tombstones
//! half-written. Running a request again after a crash erases what is left and renews
//! the tombstones of what was done: nothing is doubled.

use std::path::Path;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use crate::intake::phone::{self, format_e164};
use crate::intake::tombstone::TombstoneKey;
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::secret::{SecretKey, hex};

/// Numbers per transaction: small enough that a batch's locks are short, big enough
/// that per-statement costs vanish.
pub const BATCH: usize = 10_000;

/// What the subject said when no reason is given; read after "erased on DATE".
pub const DEFAULT_REASON: &str = "at the subject's request";

#[derive(Debug, Clone)]
pub struct ErasureRequest {
    pub tenant: TenantId,
    /// E.164 numbers; repeats are erased once.
    pub phones: Vec<i64>,
    /// Why, as the rejects file will say it: "at the subject's request".
    pub reason: String,
    /// When the subject asked; now when absent.
    pub requested_at: Option<DateTime<Utc>>,
    pub actor: Actor,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ErasureSummary {
    /// Names this request in the audit log and the compliance report.
    pub request: String,
    /// Distinct numbers asked for.
    pub numbers: i64,
    /// Of them, numbers that were stored and are now gone.
    pub found: i64,
    /// Kept export files that held one of them, now withdrawn (deleted).
    pub exports_withdrawn: i64,
    /// Transactions it took.
    pub batches: i64,
}

/// Erases `request.phones`. `data_dir` is where kept export files live.
#[tracing::instrument(skip_all, err, fields(tenant = request.tenant.0, numbers = request.phones.len()))]
pub async fn erase(
    pool: &Pool,
    data_dir: &Path,
    secret: &SecretKey,
    request: ErasureRequest,
    done: Option<&std::sync::atomic::AtomicU64>,
) -> Result<ErasureSummary> {
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "say why the numbers are erased, in 1 to 500 characters"));
    }
    if reason.contains('\0') {
        return Err(Error::invalid("reason", "must not contain a NUL character"));
    }
    let mut phones = request.phones.clone();
    phones.sort_unstable();
    phones.dedup();
    if phones.is_empty() {
        return Err(Error::invalid("phones", "no numbers to erase"));
    }
    let key = TombstoneKey::new(secret);
    let requested_at = request.requested_at.unwrap_or_else(Utc::now);
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| Error::Worker(e.to_string()))?;
    let mut summary =
        ErasureSummary { request: hex(&id), numbers: phones.len() as i64, ..Default::default() };
    let mut client = pool.get().await?;
    for chunk in phones.chunks(BATCH) {
        let (found, withdrawn) = erase_batch(
            &mut **client,
            data_dir,
            &key,
            &request,
            reason,
            requested_at,
            &summary.request,
            chunk,
        )
        .await?;
        summary.found += found;
        summary.exports_withdrawn += withdrawn;
        summary.batches += 1;
        if let Some(done) = done {
            done.fetch_add(chunk.len() as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }
    tracing::info!(request = %summary.request, found = summary.found, "erasure finished");
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
async fn erase_batch(
    client: &mut impl GenericClient,
    data_dir: &Path,
    key: &TombstoneKey,
    request: &ErasureRequest,
    reason: &str,
    requested_at: DateTime<Utc>,
    request_key: &str,
    phones: &[i64],
) -> Result<(i64, i64)> {
    let tenant = request.tenant;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.import', $1))", &[&tenant.0]).await?;
    let erasure_id: i64 = tx
        .query_one(
            "INSERT INTO erasures (tenant_id, request_key, reason, requested_by, actor_label, requested_at, numbers, found)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0) RETURNING id",
            &[
                &tenant.0,
                &request_key,
                &reason,
                &request.actor.user_id,
                &request.actor.label,
                &requested_at,
                &(phones.len() as i64),
            ],
        )
        .await?
        .get(0);
    let phones = phones.to_vec();
    let found = tx
        .execute("DELETE FROM phone_numbers WHERE tenant_id = $1 AND phone = ANY($2)", &[&tenant.0, &phones])
        .await? as i64;
    // The tombstone keeps these numbers uncalled and out of every import from now on.
    tx.execute("DELETE FROM dnc_numbers WHERE tenant_id = $1 AND phone = ANY($2)", &[&tenant.0, &phones])
        .await?;
    tx.execute(
        "DELETE FROM bulk_change_numbers WHERE tenant_id = $1 AND phone = ANY($2)",
        &[&tenant.0, &phones],
    )
    .await?;
    // A returned number leaves its return batch; the batch keeps its count and credit.
    // A refused row kept for returns goes too.
    for table in ["provider_return_numbers", "import_refusals"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE tenant_id = $1 AND phone = ANY($2)"),
            &[&tenant.0, &phones],
        )
        .await?;
    }
    // Events and calls keep what they count (kind, project, provider, geo, statuses,
    // times, durations) and lose who they were about: phone 0 is no number.
    for table in ["number_events", "number_events_archive"] {
        tx.execute(
            &format!(
                "UPDATE {table} SET phone = 0, data = NULL, call_id = NULL WHERE tenant_id = $1 AND phone = ANY($2)"
            ),
            &[&tenant.0, &phones],
        )
        .await?;
    }
    tx.execute(
        "UPDATE call_outcomes SET phone = 0, notes = NULL WHERE tenant_id = $1 AND phone = ANY($2)",
        &[&tenant.0, &phones],
    )
    .await?;
    // Export batches that took one of these numbers: the number leaves the record, and a
    // file still kept for download is withdrawn (a regenerated file would differ from
    // what was delivered; the history says why it went).
    let touched = tx
        .query(
            "SELECT DISTINCT b.export_id, b.seq
               FROM unnest($2::bigint[]) p(phone)
               JOIN export_batches b ON b.tenant_id = $1
                AND int8range(b.first_phone, b.last_phone, '[]') @> p.phone AND p.phone = ANY(b.phones)",
            &[&tenant.0, &phones],
        )
        .await?;
    let mut export_ids: Vec<i64> = touched.iter().map(|r| r.get(0)).collect();
    export_ids.sort_unstable();
    export_ids.dedup();
    if !touched.is_empty() {
        let seqs: Vec<i32> = touched.iter().map(|r| r.get(1)).collect();
        let ids: Vec<i64> = touched.iter().map(|r| r.get(0)).collect();
        // The range bounds go too (they are numbers), and a batch left empty goes whole.
        tx.execute(
            "WITH kept AS (
                 SELECT b.export_id, b.seq,
                        ARRAY(SELECT unnest(b.phones) EXCEPT SELECT unnest($4::bigint[]) ORDER BY 1) AS phones
                   FROM export_batches b JOIN unnest($2::bigint[], $3::int[]) t(export_id, seq)
                     ON b.export_id = t.export_id AND b.seq = t.seq
                  WHERE b.tenant_id = $1
             ), emptied AS (
                 DELETE FROM export_batches b USING kept k
                  WHERE b.tenant_id = $1 AND b.export_id = k.export_id AND b.seq = k.seq
                    AND cardinality(k.phones) = 0
             )
             UPDATE export_batches b
                SET phones = k.phones, first_phone = k.phones[1], last_phone = k.phones[cardinality(k.phones)]
               FROM kept k
              WHERE b.tenant_id = $1 AND b.export_id = k.export_id AND b.seq = k.seq AND cardinality(k.phones) > 0",
            &[&tenant.0, &ids, &seqs, &phones],
        )
        .await?;
    }
    let withdrawn = tx
        .query(
            "UPDATE exports SET deleted_at = now(), withdrawn_reason = 'erasure'
              WHERE tenant_id = $1 AND id = ANY($2) AND stored_path IS NOT NULL AND deleted_at IS NULL
              RETURNING stored_path",
            &[&tenant.0, &export_ids],
        )
        .await?;
    // The audit log names a number only in do-not-call entries and subject-access reads;
    // those lose it.
    tx.batch_execute("SET LOCAL dialpool.erasure = 'on'").await?;
    let e164: Vec<String> = phones.iter().map(|p| format_e164(*p)).collect();
    tx.execute(
        "UPDATE audit_log SET entity_id = 'erased', before = NULL, after = NULL
          WHERE tenant_id = $1 AND entity IN ('dnc', 'subject') AND entity_id = ANY($2)",
        &[&tenant.0, &e164],
    )
    .await?;
    tx.batch_execute("SET LOCAL dialpool.erasure = 'off'").await?;
    let hashes: Vec<Vec<u8>> = phones.iter().map(|p| key.hash(*p).to_vec()).collect();
    tx.execute(
        "INSERT INTO erasure_tombstones (tenant_id, hash, key_id, erasure_id, reason)
         SELECT $1, h, $3, $4, $5 FROM unnest($2::bytea[]) h
         ON CONFLICT (tenant_id, hash) DO UPDATE
            SET key_id = EXCLUDED.key_id, erasure_id = EXCLUDED.erasure_id, erased_at = now(),
                reason = EXCLUDED.reason, lifted_at = NULL, lifted_by = NULL, lift_reason = NULL",
        &[&tenant.0, &hashes, &key.key_id().as_slice(), &erasure_id, &reason],
    )
    .await?;
    tx.execute(
        "UPDATE erasures SET found = $3, exports_withdrawn = $4, finished_at = clock_timestamp()
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &erasure_id, &found, &(withdrawn.len() as i64)],
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        &request.actor,
        Change::created(
            "erasure.create",
            "erasure",
            erasure_id,
            &serde_json::json!({
                "request": request_key, "reason": reason, "requested_at": requested_at,
                "numbers": phones.len(), "found": found, "exports_withdrawn": withdrawn.len(),
            }),
        ),
    )
    .await?;
    // Files go before the commit: if the commit then fails, a download finds no file
    // (an error) rather than a file that holds an erased number.
    for row in &withdrawn {
        let path: String = row.get(0);
        match tokio::fs::remove_file(data_dir.join(&path)).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("withdrawing the export file {path}"), e)),
        }
    }
    tx.commit().await?;
    Ok((found, withdrawn.len() as i64))
}

/// A tombstone as an administrator sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TombstoneState {
    pub erased_at: DateTime<Utc>,
    pub reason: String,
    /// Set when an administrator lifted it (the person asked to be contacted again).
    pub lifted_at: Option<DateTime<Utc>>,
    pub lift_reason: Option<String>,
}

/// The tombstone of a number, if it was ever erased.
pub async fn tombstone(
    client: &impl GenericClient,
    tenant: TenantId,
    secret: &SecretKey,
    e164: i64,
) -> Result<Option<TombstoneState>> {
    let hash = TombstoneKey::new(secret).hash(e164);
    Ok(client
        .query_opt(
            "SELECT erased_at, reason, lifted_at, lift_reason FROM erasure_tombstones
              WHERE tenant_id = $1 AND hash = $2",
            &[&tenant.0, &hash.as_slice()],
        )
        .await?
        .map(|r| TombstoneState {
            erased_at: r.get(0),
            reason: r.get(1),
            lifted_at: r.get(2),
            lift_reason: r.get(3),
        }))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftInput {
    /// The number, in any format (E.164 recommended).
    pub phone: String,
    /// Why the number may come back, e.g. "the person asked to be contacted again".
    pub reason: String,
}

/// Lifts a number's tombstone: later imports may bring it back. Audited; the tombstone
/// stays, marked lifted, so the history of the request is kept.
pub async fn lift(
    client: &mut impl GenericClient,
    tenant: TenantId,
    secret: &SecretKey,
    input: &LiftInput,
    actor: &Actor,
) -> Result<TombstoneState> {
    let e164 = phone::parse_input("phone", &input.phone, None)?;
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 || reason.contains('\0') {
        return Err(Error::invalid("reason", "say why the number may come back, in 1 to 500 characters"));
    }
    let hash = TombstoneKey::new(secret).hash(e164);
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(hashtextextended('dialpool.import', $1))", &[&tenant.0]).await?;
    let row = tx
        .query_opt(
            "UPDATE erasure_tombstones SET lifted_at = now(), lifted_by = $3, lift_reason = $4
              WHERE tenant_id = $1 AND hash = $2 AND lifted_at IS NULL
              RETURNING erased_at, reason, lifted_at, lift_reason, erasure_id",
            &[&tenant.0, &hash.as_slice(), &actor.user_id, &reason],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "tombstone", key: format_e164(e164) })?;
    let state = TombstoneState {
        erased_at: row.get(0),
        reason: row.get(1),
        lifted_at: row.get(2),
        lift_reason: row.get(3),
    };
    let erasure_id: i64 = row.get(4);
    // The entry names the erasure and the hash's first bytes, never the number.
    audit::record(
        &tx,
        tenant,
        actor,
        Change::updated(
            "erasure.lift",
            "tombstone",
            hex(&hash[..8]),
            &serde_json::json!({ "erasure_id": erasure_id, "erased_at": state.erased_at }),
            &serde_json::json!({ "lifted_at": state.lifted_at, "reason": reason }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(state)
}

/// One erasure batch, as the history lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErasureRecord {
    pub id: i64,
    pub request: String,
    pub reason: String,
    pub requested_by: Option<i64>,
    pub actor: String,
    pub requested_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub numbers: i64,
    pub found: i64,
    pub exports_withdrawn: i64,
    /// Tombstones of this batch lifted since.
    pub lifted: i64,
}

/// The newest erasures first, at most `limit` (1 to 500).
pub async fn list(client: &impl GenericClient, tenant: TenantId, limit: i64) -> Result<Vec<ErasureRecord>> {
    let rows = client
        .query(
            "SELECT e.id, e.request_key, e.reason, e.requested_by, e.actor_label, e.requested_at, e.finished_at,
                    e.numbers, e.found, e.exports_withdrawn,
                    (SELECT count(*) FROM erasure_tombstones t
                      WHERE t.tenant_id = e.tenant_id AND t.erasure_id = e.id AND t.lifted_at IS NOT NULL) AS lifted
               FROM erasures e WHERE e.tenant_id = $1 ORDER BY e.id DESC LIMIT $2",
            &[&tenant.0, &limit.clamp(1, 500)],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| ErasureRecord {
            id: r.get(0),
            request: r.get(1),
            reason: r.get(2),
            requested_by: r.get(3),
            actor: r.get(4),
            requested_at: r.get(5),
            finished_at: r.get(6),
            numbers: r.get(7),
            found: r.get(8),
            exports_withdrawn: r.get(9),
            lifted: r.get(10),
        })
        .collect())
}
