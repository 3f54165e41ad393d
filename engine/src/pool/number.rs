//! Stored numbers: the keyset-paged, filtered list behind the numbers page and the API,
//! and bulk actions on a selection or on everything a filter matches.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Transaction};

use crate::intake::phone::{self, format_e164};
use crate::platform::TenantId;
use crate::platform::access::Scope;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Number {
    /// E.164 with the plus, e.g. `+79161234567`.
    pub phone: String,
    pub provider_id: i64,
    pub geo_id: Option<i64>,
    pub project_id: Option<i64>,
    pub status: i16,
    pub attempts: i16,
    pub next_eligible_at: Option<DateTime<Utc>>,
    pub last_called_at: Option<DateTime<Utc>>,
    /// Set while a dialer holds the number.
    pub leased_until: Option<DateTime<Utc>>,
    pub import_id: i64,
    pub attributes: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    pub project_id: Option<i64>,
    pub status: Option<i16>,
    pub import_id: Option<i64>,
    pub attempts_min: Option<i16>,
    pub attempts_max: Option<i16>,
    /// Stored (first imported) from this instant on.
    pub created_from: Option<DateTime<Utc>>,
    /// Stored before this instant.
    pub created_to: Option<DateTime<Utc>>,
    /// Last called from this instant on.
    pub called_from: Option<DateTime<Utc>>,
    pub called_to: Option<DateTime<Utc>>,
    /// Numbers of one block: E.164 digits starting with this (`+7 701` or `7701`).
    pub prefix: Option<String>,
}

// The primary key orders a tenant's numbers by phone in every hash partition, so a page
// is a merge of 16 short index scans whatever the table's size.
const SORTS: &[SortKey] = &[SortKey { name: "phone", column: "n.phone", sql_type: "bigint" }];

/// The caller's scope and the filter, as parameters $1 (tenant) to $15; the list and the
/// bulk actions select with the same clause, so "the whole filter" is what the page shows.
const WHERE: &str = "n.tenant_id = $1
    AND ($2::bigint[] IS NULL OR n.provider_id = ANY($2) OR n.project_id = ANY($3))
    AND ($4::bigint IS NULL OR n.provider_id = $4) AND ($5::bigint IS NULL OR n.geo_id = $5)
    AND ($6::bigint IS NULL OR n.project_id = $6) AND ($7::smallint IS NULL OR n.status = $7)
    AND ($8::bigint IS NULL OR n.import_id = $8)
    AND ($9::smallint IS NULL OR n.attempts >= $9) AND ($10::smallint IS NULL OR n.attempts <= $10)
    AND ($11::timestamptz IS NULL OR n.created_at >= $11) AND ($12::timestamptz IS NULL OR n.created_at < $12)
    AND ($13::timestamptz IS NULL OR n.last_called_at >= $13) AND ($14::timestamptz IS NULL OR n.last_called_at < $14)
    AND ($15::text IS NULL OR starts_with(n.phone::text, $15))";

struct WhereParams {
    tenant: i64,
    providers: Option<Vec<i64>>,
    projects: Vec<i64>,
    filter: Filter,
    prefix: Option<String>,
}

impl WhereParams {
    fn new(tenant: TenantId, scope: &Scope, filter: &Filter) -> Result<WhereParams> {
        Ok(WhereParams {
            tenant: tenant.0,
            providers: scope.provider_filter().map(<[i64]>::to_vec),
            projects: scope.project_filter().map(<[i64]>::to_vec).unwrap_or_default(),
            filter: filter.clone(),
            prefix: filter
                .prefix
                .as_deref()
                .map(|p| crate::pool::project::normalise_prefix("prefix", p))
                .transpose()?,
        })
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let f = &self.filter;
        vec![
            &self.tenant,
            &self.providers,
            &self.projects,
            &f.provider_id,
            &f.geo_id,
            &f.project_id,
            &f.status,
            &f.import_id,
            &f.attempts_min,
            &f.attempts_max,
            &f.created_from,
            &f.created_to,
            &f.called_from,
            &f.called_to,
            &self.prefix,
        ]
    }
}

pub async fn list(
    client: &impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    filter: &Filter,
    page: &PageRequest,
) -> Result<Page<Number>> {
    let keyset = Keyset::resolve(page, SORTS)?;
    let sql = format!(
        "SELECT n.phone, n.provider_id, n.geo_id, n.project_id, n.status, n.attempts,
                NULLIF(n.next_eligible_at, 'infinity') AS next_eligible_at, n.last_called_at, n.leased_until,
                n.import_id, n.attributes, n.created_at, n.phone::text AS sort_value
           FROM phone_numbers n
          WHERE {WHERE} {clause} {order} LIMIT $18",
        clause = keyset.clause("n.phone", 16, 17),
        order = keyset.order_by("n.phone"),
    );
    let (v, id) = keyset.after();
    let limit = keyset.fetch_limit();
    let where_params = WhereParams::new(tenant, scope, filter)?;
    let mut params = where_params.params();
    params.extend([&v as &(dyn ToSql + Sync), &id, &limit]);
    let rows = client.query(&sql, &params).await?;
    keyset.page_of(&rows, "phone", |r| {
        Ok(Number {
            phone: format_e164(r.get("phone")),
            provider_id: r.get("provider_id"),
            geo_id: r.get("geo_id"),
            project_id: r.get("project_id"),
            status: r.get("status"),
            attempts: r.get("attempts"),
            next_eligible_at: r.get("next_eligible_at"),
            last_called_at: r.get("last_called_at"),
            leased_until: r.get("leased_until"),
            import_id: r.get("import_id"),
            attributes: r.get("attributes"),
            created_at: r.get("created_at"),
        })
    })
}

/// Which numbers a bulk action touches: the ones picked on the page, or every number the
/// filter matches (within the caller's scope either way).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Selection {
    /// Numbers in E.164 (`+79161234567`).
    Phones(Vec<String>),
    Filter(Filter),
}

// No deny_unknown_fields here or on BulkRequest: serde cannot combine it with flatten.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BulkAction {
    /// Set a status by hand: a retry or call-back status makes the number due now, a
    /// final one parks it; attempts are kept; a lease ends.
    SetStatus { status: i16 },
    /// Give numbers back to the shared pool. Numbers of exclusive projects and numbers
    /// under a live lease stay where they are.
    Release,
    /// Put numbers on the do-not-call list.
    AddToDnc { reason: Option<String> },
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct BulkRequest {
    pub selection: Selection,
    #[serde(flatten)]
    pub action: BulkAction,
    /// Count what would be touched and change nothing (to confirm a whole-filter action).
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    /// Numbers the selection matched in the caller's scope.
    pub matched: i64,
    /// Numbers the action changed (released, re-statused, newly listed).
    pub touched: i64,
    pub dry_run: bool,
    /// A status change that can be undone for a day by the user who made it:
    /// `POST /numbers/bulk/{undo_id}/undo`. Absent for dry runs, other actions and
    /// changes that touched nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub undo_id: Option<i64>,
}

/// What undoing a bulk status change did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UndoResult {
    /// Numbers given back the status and due time they had before the change.
    pub restored: i64,
    /// Numbers left as they are because their status moved on since (a call outcome,
    /// another change).
    pub kept: i64,
}

/// How long a bulk status change can be undone.
pub const UNDO_HOURS: i32 = 24;

/// How many numbers a filter matches: exact when the planner expects few, else its
/// estimate (counting 50 million rows to label a table would cost more than the page).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Count {
    pub count: i64,
    /// False when `count` is the planner's estimate.
    pub exact: bool,
}

/// Up to this many estimated rows the count is made exactly.
pub const EXACT_COUNT_UP_TO: i64 = 200_000;

pub async fn count(
    client: &impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    filter: &Filter,
) -> Result<Count> {
    let where_params = WhereParams::new(tenant, scope, filter)?;
    let params = where_params.params();
    let select = format!("SELECT 1 FROM phone_numbers n WHERE {WHERE}");
    let plan: serde_json::Value =
        client.query_one(&format!("EXPLAIN (FORMAT JSON) {select}"), &params).await?.get(0);
    let estimate = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap_or(0.0).round() as i64;
    if estimate > EXACT_COUNT_UP_TO {
        return Ok(Count { count: estimate, exact: false });
    }
    let exact: i64 = client.query_one(&format!("SELECT count(*) FROM ({select}) s"), &params).await?.get(0);
    Ok(Count { count: exact, exact: true })
}

/// Runs a bulk action in one transaction, with an event per number and one audit entry
/// carrying the selection and the count.
pub async fn bulk(
    client: &mut impl GenericClient,
    tenant: TenantId,
    scope: &Scope,
    actor: &Actor,
    request: &BulkRequest,
) -> Result<BulkResult> {
    let (filter, phones) = match &request.selection {
        Selection::Filter(filter) => (filter.clone(), None),
        Selection::Phones(list) => {
            if list.is_empty() || list.len() > 10_000 {
                return Err(Error::invalid(
                    "selection",
                    "pick 1 to 10,000 numbers, or act on the whole filter",
                ));
            }
            let phones =
                list.iter().map(|p| phone::parse_input("selection", p, None)).collect::<Result<Vec<_>>>()?;
            (Filter::default(), Some(phones))
        }
    };
    let tx = client.transaction().await?;
    if let BulkAction::SetStatus { status } = &request.action {
        crate::pool::status::get(&tx, tenant, *status).await?;
    }
    let where_params = WhereParams::new(tenant, scope, &filter)?;
    let mut params = where_params.params();
    params.push(&phones);
    let select = format!(
        "SELECT n.phone FROM phone_numbers n WHERE {WHERE} AND ($16::bigint[] IS NULL OR n.phone = ANY($16))"
    );
    tx.batch_execute("CREATE TEMP TABLE bulk_selection (phone bigint PRIMARY KEY) ON COMMIT DROP").await?;
    let matched =
        tx.execute(&format!("INSERT INTO bulk_selection {select} FOR UPDATE OF n"), &params).await? as i64;
    let (touched, undo_id) = if request.dry_run || matched == 0 {
        (0, None)
    } else {
        tx.batch_execute("ANALYZE bulk_selection").await?;
        match &request.action {
            // A status change keeps what it replaced, so that it can be undone.
            BulkAction::SetStatus { status } => {
                let change: i64 = tx
                    .query_one(
                        "INSERT INTO bulk_changes (tenant_id, actor_user_id, status_to, numbers)
                         VALUES ($1, $2, $3, 0) RETURNING id",
                        &[&tenant.0, &actor.user_id, status],
                    )
                    .await?
                    .get(0);
                tx.execute(include_str!("number.keep_for_undo.sql"), &[&tenant.0, &change, status]).await?;
                let touched = apply(&tx, tenant, actor, &request.action).await?;
                tx.execute(
                    "UPDATE bulk_changes SET numbers = $3 WHERE tenant_id = $1 AND id = $2",
                    &[&tenant.0, &change, &touched],
                )
                .await?;
                (touched, (touched > 0).then_some(change))
            }
            _ => (apply(&tx, tenant, actor, &request.action).await?, None),
        }
    };
    if !request.dry_run {
        audit::record(
            &tx,
            tenant,
            actor,
            Change {
                action: "numbers.bulk",
                entity: "numbers",
                entity_id: String::new(),
                before: None,
                after: Some(serde_json::json!({
                    "action": request.action,
                    "selection": match &request.selection {
                        Selection::Phones(list) => serde_json::json!({ "phones": list.len() }),
                        Selection::Filter(f) => serde_json::json!({ "filter": format!("{f:?}") }),
                    },
                    "matched": matched,
                    "touched": touched,
                })),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(BulkResult { matched, touched, dry_run: request.dry_run, undo_id })
}

/// Undoes a bulk status change made by this user within the last day: each number still
/// in the status the change gave it gets back its status and due time from before, with a
/// `status_changed` event; a number whose status moved on since is kept as it is. Another
/// user's change, or another tenant's, is not found; a change already undone or older than
/// a day is a conflict.
pub async fn undo_bulk(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<UndoResult> {
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "SELECT status_to, undone_at IS NOT NULL, created_at < now() - make_interval(hours => $4)
               FROM bulk_changes
              WHERE tenant_id = $1 AND id = $2 AND actor_user_id IS NOT DISTINCT FROM $3
                FOR UPDATE",
            &[&tenant.0, &id, &actor.user_id, &UNDO_HOURS],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "bulk change", key: id.to_string() })?;
    let (status_to, undone, expired): (i16, bool, bool) = (row.get(0), row.get(1), row.get(2));
    if undone {
        return Err(Error::Refused("this change was already undone".to_owned()));
    }
    if expired {
        return Err(Error::Refused(format!(
            "a change can be undone for {UNDO_HOURS} hours; this one is older"
        )));
    }
    let restored = tx
        .execute(include_str!("number.undo_bulk.sql"), &[&tenant.0, &id, &status_to, &actor.user_id])
        .await? as i64;
    let total: i64 = tx
        .query_one(
            "UPDATE bulk_changes SET undone_at = now() WHERE tenant_id = $1 AND id = $2 RETURNING numbers",
            &[&tenant.0, &id],
        )
        .await?
        .get(0);
    audit::record(
        &tx,
        tenant,
        actor,
        Change {
            action: "numbers.bulk_undo",
            entity: "numbers",
            entity_id: id.to_string(),
            before: None,
            after: Some(serde_json::json!({ "restored": restored, "kept": total - restored })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(UndoResult { restored, kept: total - restored })
}

/// Forgets bulk changes too old to undo.
pub async fn delete_expired_undo(client: &impl GenericClient) -> Result<u64> {
    Ok(client
        .execute(
            "DELETE FROM bulk_changes WHERE created_at < now() - make_interval(hours => $1)",
            &[&UNDO_HOURS],
        )
        .await?)
}

/// Gives the numbers in the temp table `bulk_selection` the status `status`, with a
/// `status_changed` event each naming `source`; returns how many changed.
pub(crate) async fn set_status_of_selection(
    tx: &Transaction<'_>,
    tenant: TenantId,
    actor: &Actor,
    status: i16,
    source: &str,
) -> Result<u64> {
    Ok(tx
        .execute(
            include_str!("number.set_status_of_selection.sql"),
            &[&tenant.0, &status, &actor.user_id, &source],
        )
        .await?)
}

async fn apply(tx: &Transaction<'_>, tenant: TenantId, actor: &Actor, action: &BulkAction) -> Result<i64> {
    let touched = match action {
        BulkAction::SetStatus { status } => {
            set_status_of_selection(tx, tenant, actor, *status, "bulk").await?
        }
        BulkAction::Release => {
            tx.execute(include_str!("number.apply.1.sql"), &[&tenant.0, &actor.user_id]).await?
        }
        BulkAction::AddToDnc { reason } => {
            tx.execute(include_str!("number.apply.2.sql"), &[&tenant.0, reason, &actor.user_id]).await?
        }
    };
    Ok(touched as i64)
}
