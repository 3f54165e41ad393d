//! Call outcomes: what a call did to a number. One set-based path serves a single
//! outcome posted by a softphone and a million-row CDR file: the outcomes are staged in a
//! temp table, checked, stored by `call_id` (a call already stored changes nothing), and
//! applied per number — attempts, status through the tenant's disposition map, cool-down,
//! the end of a number's life in its project at a final status or max attempts, DNC.
//! The stored `call_outcomes` row is the number's `called` event (history and conversion
//! read it there); releases and DNC listings write their own events.

use chrono::{DateTime, Utc};
use futures_util::pin_mut;
use serde::{Deserialize, Serialize};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Transaction};

use crate::intake::phone::{self, Region, format_e164};
use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::audit::Actor;
use crate::platform::error::{Error, Result};

/// One call as a softphone or dialer reports it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeInput {
    /// The dialer's id of the call; posting the same id again changes nothing.
    pub call_id: String,
    /// Any format; E.164 (`+79161234567`) needs no region.
    pub phone: String,
    pub project_id: Option<i64>,
    /// A key of the disposition map (`ANSWERED`, `NO ANSWER`, `BUSY`, `SALE`, `DNC` ...),
    /// any case.
    pub disposition: String,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_s: Option<i32>,
    pub agent: Option<String>,
    pub notes: Option<String>,
}

/// An outcome ready to stage: the phone normalised, the disposition upper-cased.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Where it came from, for messages: the file's row, or 1 for a posted outcome.
    pub line: i64,
    pub call_id: String,
    pub phone: i64,
    pub project_id: Option<i64>,
    pub disposition: String,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub duration_s: Option<i32>,
    pub agent: Option<String>,
    pub notes: Option<String>,
    /// The times were written without a zone: their wall clock is read in the file's.
    pub wall_clock: bool,
}

impl OutcomeInput {
    pub fn stage(&self, line: i64, region: Option<Region>) -> Result<Staged> {
        let call_id = self.call_id.trim();
        if call_id.is_empty() || call_id.len() > 200 {
            return Err(Error::invalid("call_id", "must be 1 to 200 characters"));
        }
        let phone = phone::parse_input("phone", &self.phone, region)?;
        if self.duration_s.is_some_and(|d| d < 0) {
            return Err(Error::invalid("duration_s", "must not be negative"));
        }
        if let Some(ended) = self.ended_at
            && ended < self.started_at
        {
            return Err(Error::invalid("ended_at", "is before started_at"));
        }
        Ok(Staged {
            line,
            call_id: call_id.to_owned(),
            phone,
            project_id: self.project_id,
            disposition: self.disposition.trim().to_uppercase(),
            started_at: self.started_at,
            answered_at: self.answered_at,
            ended_at: self.ended_at,
            duration_s: self.duration_s,
            agent: self.agent.clone(),
            notes: self.notes.clone(),
            wall_clock: false,
        })
    }
}

/// An outcome that was not stored, and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rejected {
    pub line: i64,
    pub call_id: String,
    pub reason: String,
    /// The input field (or a file's column) at fault.
    pub field: &'static str,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ApplySummary {
    pub received: i64,
    pub applied: i64,
    /// Calls stored before (or repeated in the same batch): nothing changed for them.
    pub duplicates: i64,
    pub rejected: i64,
    /// Numbers whose status ended their life in the project and that went back to the pool.
    pub released: i64,
    pub dnc_added: i64,
    /// Other numbers of a succeeding number's group, parked (see `pool::groups`).
    #[serde(default)]
    pub group_parked: i64,
    /// The first rejections, with row and reason (all of them go to a rejects file).
    pub rejections: Vec<Rejected>,
}

pub(crate) const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS outcome_staging (
        line bigint NOT NULL, call_id text NOT NULL, phone bigint NOT NULL, project_id bigint,
        disposition text NOT NULL, started_at timestamptz NOT NULL, answered_at timestamptz,
        ended_at timestamptz, duration_s integer, agent text, notes text, wall_clock boolean NOT NULL
    ) ON COMMIT DROP;
    CREATE TEMP TABLE IF NOT EXISTS outcome_new (
        call_id text NOT NULL, phone bigint NOT NULL, project_id bigint, disposition text NOT NULL,
        status_from smallint, status_to smallint NOT NULL, started_at timestamptz NOT NULL,
        duration_s integer
    ) ON COMMIT DROP";

const STAGING_TYPES: &[Type] = &[
    Type::INT8,
    Type::TEXT,
    Type::INT8,
    Type::INT8,
    Type::TEXT,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::TIMESTAMPTZ,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::BOOL,
];

impl Staged {
    /// The row in `STAGING_TYPES` order.
    fn values(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 12] {
        [
            &self.line,
            &self.call_id,
            &self.phone,
            &self.project_id,
            &self.disposition,
            &self.started_at,
            &self.answered_at,
            &self.ended_at,
            &self.duration_s,
            &self.agent,
            &self.notes,
            &self.wall_clock,
        ]
    }
}

/// Creates the staging tables in `tx` and copies `rows` into them (binary `COPY`).
pub async fn stage(tx: &Transaction<'_>, rows: &[Staged]) -> Result<()> {
    tx.batch_execute(STAGING).await?;
    let sink = tx.copy_in("COPY outcome_staging FROM STDIN (FORMAT binary)").await?;
    let writer = BinaryCopyInWriter::new(sink, STAGING_TYPES);
    pin_mut!(writer);
    for r in rows {
        writer.as_mut().write(&r.values()).await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Applies what is staged in `tx` (see [`stage`]). `source` is `api` or the file name;
/// times staged as a wall clock are read in `zone` (PostgreSQL's rules, so DST changes
/// land right).
pub async fn apply(
    tx: &Transaction<'_>,
    tenant: TenantId,
    scope: &Scope,
    actor: &Actor,
    source: &str,
    zone: &str,
) -> Result<ApplySummary> {
    let mut summary = ApplySummary {
        received: tx.query_one("SELECT count(*) FROM outcome_staging", &[]).await?.get(0),
        ..ApplySummary::default()
    };
    // Each check removes what it rejects, so a row gets its first reason only. A caller
    // who sees every project needs no scope check.
    let scope_projects = scope.project_filter().map(<[i64]>::to_vec);
    let checks: [(&'static str, &str); 5] = [
        (
            "disposition",
            "DELETE FROM outcome_staging s
              WHERE NOT EXISTS (SELECT FROM disposition_map m WHERE m.tenant_id = $1 AND m.disposition = s.disposition)
             RETURNING line, call_id, 'disposition ''' || disposition || ''' is not in the disposition map'",
        ),
        (
            "phone",
            "DELETE FROM outcome_staging s
              WHERE NOT EXISTS (SELECT FROM phone_numbers n WHERE n.tenant_id = $1 AND n.phone = s.phone)
             RETURNING line, call_id, 'number +' || phone || ' is not one Dialpool holds'",
        ),
        (
            "project_id",
            "DELETE FROM outcome_staging s
              WHERE s.project_id IS NOT NULL
                AND NOT EXISTS (SELECT FROM projects p WHERE p.tenant_id = $1 AND p.id = s.project_id)
             RETURNING line, call_id, 'project ' || project_id || ' does not exist'",
        ),
        (
            "phone",
            "DELETE FROM outcome_staging s
              USING phone_numbers n
              WHERE n.tenant_id = $1 AND n.phone = s.phone
                AND NOT (COALESCE(s.project_id, n.project_id, -1) = ANY($2))
             RETURNING line, call_id, 'number +' || s.phone || ' is not in a project of your scope'",
        ),
        // A call cannot precede the number's allocation to the project it is counted in:
        // hours to success would be negative. Five minutes allow for a dialer's clock.
        // A call stored before is a repeat, answered below as one.
        (
            "started_at",
            include_str!("outcome.apply.sql"),
        ),
    ];
    for (index, (field, sql)) in checks.into_iter().enumerate() {
        let rows = match (index, &scope_projects) {
            (3, None) => continue,
            (3, Some(allowed)) => tx.query(sql, &[&tenant.0, allowed]).await?,
            (4, _) => tx.query(sql, &[&tenant.0, &zone]).await?,
            _ => tx.query(sql, &[&tenant.0]).await?,
        };
        summary.rejected += rows.len() as i64;
        summary.rejections.extend(rows.iter().map(|r| Rejected {
            line: r.get(0),
            call_id: r.get(1),
            reason: r.get(2),
            field,
        }));
    }
    summary.rejections.sort_by_key(|r| r.line);
    let repeated = tx
        .execute(
            "DELETE FROM outcome_staging s USING outcome_staging t WHERE t.call_id = s.call_id AND t.line < s.line",
            &[],
        )
        .await? as i64;
    // Calls already stored are left out by an anti-join, and the rest inserted plainly:
    // ON CONFLICT's speculative insertion costs a fifth more on a million rows. A call
    // another transaction is storing at this moment ends the plain insert with a unique
    // violation; then the insert runs again, skipping conflicts.
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] = [&tenant.0, &source, &zone, &actor.user_id];
    tx.batch_execute("SAVEPOINT store_calls").await?;
    let inserted = match tx.execute(&store_calls(StoreCalls::SkipStored), &params).await {
        Ok(inserted) => inserted,
        // A partition reports its own index's name (call_outcomes_2026_12_pkey).
        Err(error) if crate::platform::error::is_unique_violation_of(&error, "call_outcomes", "pkey") => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT store_calls").await?;
            tx.execute(&store_calls(StoreCalls::SkipConflicts), &params).await?
        }
        Err(error) => return Err(error.into()),
    } as i64;
    let staged = summary.received - summary.rejected - repeated;
    summary.duplicates = repeated + (staged - inserted);
    summary.applied = inserted;
    if inserted == 0 {
        return Ok(summary);
    }
    tx.batch_execute("ANALYZE outcome_new").await?;
    // Per number: attempts grow by its calls, the latest call sets the status. A final
    // status, or max attempts reached in a retry status, ends the number's life in the
    // project: it parks at 'infinity' (never leased again) or, if the project releases
    // finished numbers, goes back to the pool with its own cool-down.
    let released: Vec<(i64, i64, i16)> = tx
        .query(include_str!("outcome.apply.1.sql"), &[&tenant.0])
        .await?
        .iter()
        .filter(|r| r.get::<_, bool>(3))
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    summary.released = released.len() as i64;
    crate::platform::webhook::enqueue_status_changes(tx, tenant).await?;
    if !released.is_empty() {
        let phones: Vec<i64> = released.iter().map(|r| r.0).collect();
        let projects: Vec<i64> = released.iter().map(|r| r.1).collect();
        let statuses: Vec<i16> = released.iter().map(|r| r.2).collect();
        tx.execute(
            "INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from, status_to,
                                        actor_user_id, data)
             SELECT $1, r.phone, 'released', r.project_id, n.provider_id, n.geo_id, r.status, r.status, $5,
                    jsonb_build_object('reason', 'finished in project')
               FROM unnest($2::bigint[], $3::bigint[], $4::int2[]) r(phone, project_id, status)
               JOIN phone_numbers n ON n.tenant_id = $1 AND n.phone = r.phone",
            &[&tenant.0, &phones, &projects, &statuses, &actor.user_id],
        )
        .await?;
    }
    summary.dnc_added =
        tx.execute(include_str!("outcome.apply.2.sql"), &[&tenant.0, &actor.user_id]).await? as i64;
    // A success parks the other numbers of its household (or other group) where a rule
    // says so: the family is reached, nobody else in it is called. Most tenants have no
    // such rule, and then this is one lookup.
    let parking = crate::pool::groups::parking_rules(tx, tenant).await?;
    if !parking.is_empty() {
        let won: Vec<i64> = tx
            .query(
                "SELECT DISTINCT o.phone FROM outcome_new o
                   JOIN number_statuses s ON s.tenant_id = $1 AND s.id = o.status_to
                  WHERE s.category = 'success'",
                &[&tenant.0],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        summary.group_parked =
            crate::pool::groups::park_after_success(tx, tenant, &parking, &won, chrono::Utc::now()).await?;
    }
    Ok(summary)
}

#[derive(Clone, Copy)]
enum StoreCalls {
    SkipStored,
    SkipConflicts,
}

/// Stores the staged calls in `call_outcomes` and their effect in `outcome_new`. Each
/// call's status before is the number's, or the status the number's previous call in the
/// batch gave it.
fn store_calls(mode: StoreCalls) -> String {
    let (skip_stored, on_conflict) = match mode {
        StoreCalls::SkipStored => (
            "WHERE NOT EXISTS (SELECT FROM call_outcomes o WHERE o.tenant_id = $1 AND o.call_id = s.call_id)",
            "",
        ),
        StoreCalls::SkipConflicts => ("", "ON CONFLICT (tenant_id, call_id, started_at) DO NOTHING"),
    };
    format!(
        "WITH converted AS (
            SELECT s.line, s.call_id, s.phone, s.project_id, s.disposition, s.duration_s, s.agent, s.notes,
                   CASE WHEN s.wall_clock THEN (s.started_at AT TIME ZONE 'UTC') AT TIME ZONE $3
                        ELSE s.started_at END AS started_at,
                   CASE WHEN s.wall_clock THEN (s.answered_at AT TIME ZONE 'UTC') AT TIME ZONE $3
                        ELSE s.answered_at END AS answered_at,
                   CASE WHEN s.wall_clock THEN (s.ended_at AT TIME ZONE 'UTC') AT TIME ZONE $3
                        ELSE s.ended_at END AS ended_at
              FROM outcome_staging s
         ), stored AS (
            INSERT INTO call_outcomes (tenant_id, call_id, phone, project_id, provider_id, geo_id, disposition,
                                       status_from, status_to, started_at, answered_at, ended_at, duration_s,
                                       agent, notes, source, actor_user_id, allocated_at, import_id, attempt)
            SELECT $1, s.call_id, s.phone, COALESCE(s.project_id, n.project_id), n.provider_id, n.geo_id,
                   s.disposition,
                   COALESCE(lag(m.status_id) OVER (PARTITION BY s.phone ORDER BY s.started_at, s.line), n.status),
                   m.status_id, s.started_at, s.answered_at, s.ended_at, s.duration_s, s.agent, s.notes, $2, $4,
                   CASE WHEN n.project_id = COALESCE(s.project_id, n.project_id) THEN n.allocated_at END,
                   -- The batch and the attempt, so the scorecard reads both off the call.
                   n.import_id, n.attempts + row_number() OVER (PARTITION BY s.phone ORDER BY s.started_at, s.line)
              FROM converted s
              JOIN phone_numbers n ON n.tenant_id = $1 AND n.phone = s.phone
              JOIN disposition_map m ON m.tenant_id = $1 AND m.disposition = s.disposition
             {skip_stored}
            {on_conflict}
            RETURNING call_id, phone, project_id, disposition, status_from, status_to, started_at, duration_s
         )
         INSERT INTO outcome_new SELECT * FROM stored"
    )
}

/// A posted outcome's effect, or for a repeated `call_id` what the first post did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OutcomeResult {
    pub call_id: String,
    pub phone: String,
    /// True when this `call_id` was stored before; nothing changed now.
    pub duplicate: bool,
    pub status_from: Option<String>,
    pub status_to: String,
    /// The number as it is now.
    pub attempts: i16,
    pub project_id: Option<i64>,
    pub next_eligible_at: Option<DateTime<Utc>>,
    pub dnc: bool,
}

/// Records one outcome (a softphone's post).
pub async fn post(
    client: &mut impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    actor: &Actor,
    input: &OutcomeInput,
) -> Result<OutcomeResult> {
    let staged = input.stage(1, None)?;
    let tx = client.transaction().await?;
    stage(&tx, std::slice::from_ref(&staged)).await?;
    let summary = apply(&tx, tenant, scope, actor, "api", "UTC").await?;
    if let Some(rejected) = summary.rejections.first() {
        return Err(Error::invalid(rejected.field, rejected.reason.clone()));
    }
    let row = tx
        .query_one(
            "SELECT o.call_id, o.phone, sf.code AS status_from, st.code AS status_to, n.attempts, n.project_id,
                    CASE WHEN n.next_eligible_at = 'infinity' THEN NULL ELSE n.next_eligible_at END AS next_eligible_at,
                    EXISTS (SELECT FROM dnc_numbers d WHERE d.tenant_id = $1 AND d.phone = o.phone) AS dnc
               FROM call_outcomes o
               JOIN phone_numbers n ON n.tenant_id = o.tenant_id AND n.phone = o.phone
               JOIN number_statuses st ON st.tenant_id = o.tenant_id AND st.id = o.status_to
               LEFT JOIN number_statuses sf ON sf.tenant_id = o.tenant_id AND sf.id = o.status_from
              WHERE o.tenant_id = $1 AND o.call_id = $2",
            &[&tenant.0, &staged.call_id],
        )
        .await?;
    tx.commit().await?;
    Ok(OutcomeResult {
        call_id: row.get("call_id"),
        phone: format_e164(row.get("phone")),
        duplicate: summary.applied == 0,
        status_from: row.get("status_from"),
        status_to: row.get("status_to"),
        attempts: row.get("attempts"),
        project_id: row.get("project_id"),
        next_eligible_at: row.get("next_eligible_at"),
        dnc: row.get("dnc"),
    })
}
