//! Finished imports as users look them up: the list, one import, its rejects file.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::error::{Error, Result};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportRecord {
    pub id: i64,
    pub provider_id: i64,
    pub provider_code: String,
    pub file_name: String,
    pub file_size: i64,
    pub format: String,
    pub encoding: Option<String>,
    pub on_duplicate: String,
    /// `succeeded` or `failed`; a running import is not in this list until it ends.
    pub status: String,
    pub total: i64,
    pub inserted: i64,
    pub updated: i64,
    pub refreshed: i64,
    pub duplicate_in_file: i64,
    pub duplicate_existing: i64,
    pub invalid: i64,
    pub dnc: i64,
    /// Rows refused because the number was erased (a tombstone holds it).
    pub erased: i64,
    /// What the batch cost: a price per row delivered and/or for the whole file.
    pub price_per_number: Option<f64>,
    pub price_batch: Option<f64>,
    pub has_rejects: bool,
    pub error: Option<String>,
    pub created_by: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

const SORTS: &[SortKey] = &[SortKey { name: "id", column: "i.id", sql_type: "bigint" }];

const SELECT: &str =
    "SELECT i.id, i.provider_id, p.code AS provider_code, i.file_name, i.file_size, i.format,
        i.encoding, i.on_duplicate, i.status, i.total, i.inserted, i.updated, i.refreshed, i.duplicate_in_file,
        i.duplicate_existing, i.invalid, i.dnc, i.erased, i.price_per_number::float8, i.price_batch::float8,
        i.rejects_path IS NOT NULL AS has_rejects, i.error,
        i.created_by, i.started_at, i.finished_at, i.id::text AS sort_value
   FROM imports i JOIN providers p ON p.tenant_id = i.tenant_id AND p.id = i.provider_id";

fn from_row(r: &Row) -> ImportRecord {
    ImportRecord {
        id: r.get("id"),
        provider_id: r.get("provider_id"),
        provider_code: r.get("provider_code"),
        file_name: r.get("file_name"),
        file_size: r.get("file_size"),
        format: r.get("format"),
        encoding: r.get("encoding"),
        on_duplicate: r.get("on_duplicate"),
        status: r.get("status"),
        total: r.get("total"),
        inserted: r.get("inserted"),
        updated: r.get("updated"),
        refreshed: r.get("refreshed"),
        duplicate_in_file: r.get("duplicate_in_file"),
        duplicate_existing: r.get("duplicate_existing"),
        invalid: r.get("invalid"),
        dnc: r.get("dnc"),
        erased: r.get("erased"),
        price_per_number: r.get("price_per_number"),
        price_batch: r.get("price_batch"),
        has_rejects: r.get("has_rejects"),
        error: r.get("error"),
        created_by: r.get("created_by"),
        started_at: r.get("started_at"),
        finished_at: r.get("finished_at"),
    }
}

/// Newest first by default. `only`: the scoped caller's providers.
pub async fn list(
    client: &impl GenericClient,
    tenant: TenantId,
    only: Option<&[i64]>,
    provider_id: Option<i64>,
    status: Option<&str>,
    page: &PageRequest,
) -> Result<Page<ImportRecord>> {
    let mut page = page.clone();
    page.sort.get_or_insert_with(|| "-id".to_owned());
    let keyset = Keyset::resolve(&page, SORTS)?;
    let sql = format!(
        "{SELECT} WHERE i.tenant_id = $1 AND i.status <> 'running'
            AND ($5::bigint[] IS NULL OR i.provider_id = ANY($5))
            AND ($6::bigint IS NULL OR i.provider_id = $6) AND ($7::text IS NULL OR i.status = $7)
            {clause} {order} LIMIT $4",
        clause = keyset.clause("i.id", 2, 3),
        order = keyset.order_by("i.id"),
    );
    let (v, id) = keyset.after();
    let only = only.map(<[i64]>::to_vec);
    let rows = client
        .query(&sql, &[&tenant.0, &v, &id, &keyset.fetch_limit(), &only, &provider_id, &status])
        .await?;
    keyset.page_of(&rows, "id", |r| Ok(from_row(r)))
}

/// One import; not found when it is outside `only` (a scoped caller's providers).
pub async fn get(
    client: &impl GenericClient,
    tenant: TenantId,
    only: Option<&[i64]>,
    id: i64,
) -> Result<ImportRecord> {
    let only = only.map(<[i64]>::to_vec);
    client
        .query_opt(
            &format!(
                "{SELECT} WHERE i.tenant_id = $1 AND i.id = $2 AND i.status <> 'running'
                   AND ($3::bigint[] IS NULL OR i.provider_id = ANY($3))"
            ),
            &[&tenant.0, &id, &only],
        )
        .await?
        .map(|r| from_row(&r))
        .ok_or_else(|| Error::NotFound { entity: "import", key: id.to_string() })
}

/// Where an import's rejects file is on disk, when it has one; not found when the import
/// is outside `only` (a scoped caller's providers).
pub async fn rejects_path(
    client: &impl GenericClient,
    tenant: TenantId,
    only: Option<&[i64]>,
    id: i64,
) -> Result<Option<String>> {
    let only = only.map(<[i64]>::to_vec);
    client
        .query_opt(
            "SELECT rejects_path FROM imports
              WHERE tenant_id = $1 AND id = $2 AND status <> 'running'
                AND ($3::bigint[] IS NULL OR provider_id = ANY($3))",
            &[&tenant.0, &id, &only],
        )
        .await?
        .map(|r| r.get(0))
        .ok_or_else(|| Error::NotFound { entity: "import", key: id.to_string() })
}

/// A batch's price, as the invoice says: per row delivered, for the whole file, or both
/// (None clears). The scorecard's cost figures read it.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub price_per_number: Option<f64>,
    pub price_batch: Option<f64>,
}

/// Records a finished import's price; audited as `import.price`.
pub async fn set_price(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &crate::platform::audit::Actor,
    only: Option<&[i64]>,
    id: i64,
    price: Price,
) -> Result<ImportRecord> {
    for (field, value) in [("price_per_number", price.price_per_number), ("price_batch", price.price_batch)] {
        if let Some(v) = value
            && (!v.is_finite() || !(0.0..1e9).contains(&v))
        {
            return Err(Error::invalid(field, format!("{v} is not a price from 0 to 1,000,000,000")));
        }
    }
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, only, id).await?;
    if before.status != "succeeded" {
        return Err(Error::Refused(format!("import {id} failed; only a delivered batch has a price")));
    }
    tx.execute(
        "UPDATE imports SET price_per_number = $3::float8::numeric, price_batch = $4::float8::numeric
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id, &price.price_per_number, &price.price_batch],
    )
    .await?;
    let after = get(&tx, tenant, only, id).await?;
    crate::platform::audit::record(
        &tx,
        tenant,
        actor,
        crate::platform::audit::Change::updated("import.price", "import", id, &before, &after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
