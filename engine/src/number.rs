//! Reading stored numbers: the keyset-paged list behind the numbers page and the API.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::access::Scope;
use crate::error::Result;
use crate::page::{Keyset, Page, PageRequest, SortKey};
use crate::phone::format_e164;
use crate::tenant::TenantId;

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
    pub import_id: i64,
    pub attributes: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    pub project_id: Option<i64>,
    pub status: Option<i16>,
    pub import_id: Option<i64>,
}

// The primary key orders a tenant's numbers by phone in every hash partition, so a page
// is a merge of 16 short index scans whatever the table's size.
const SORTS: &[SortKey] = &[SortKey { name: "phone", column: "n.phone", sql_type: "bigint" }];

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
                NULLIF(n.next_eligible_at, 'infinity') AS next_eligible_at,
                n.import_id, n.attributes, n.created_at, n.phone::text AS sort_value
           FROM phone_numbers n
          WHERE n.tenant_id = $1
            AND ($5::bigint[] IS NULL OR n.provider_id = ANY($5) OR n.project_id = ANY($6))
            AND ($7::bigint IS NULL OR n.provider_id = $7) AND ($8::bigint IS NULL OR n.geo_id = $8)
            AND ($9::bigint IS NULL OR n.project_id = $9) AND ($10::smallint IS NULL OR n.status = $10)
            AND ($11::bigint IS NULL OR n.import_id = $11)
            {clause} {order} LIMIT $4",
        clause = keyset.clause("n.phone", 2, 3),
        order = keyset.order_by("n.phone"),
    );
    let (v, id) = keyset.after();
    let providers = scope.provider_filter().map(<[i64]>::to_vec);
    let projects = scope.project_filter().map(<[i64]>::to_vec).unwrap_or_default();
    let rows = client
        .query(
            &sql,
            &[
                &tenant.0,
                &v,
                &id,
                &keyset.fetch_limit(),
                &providers,
                &projects,
                &filter.provider_id,
                &filter.geo_id,
                &filter.project_id,
                &filter.status,
                &filter.import_id,
            ],
        )
        .await?;
    keyset.page_of(&rows, "phone", |r| {
        Ok(Number {
            phone: format_e164(r.get("phone")),
            provider_id: r.get("provider_id"),
            geo_id: r.get("geo_id"),
            project_id: r.get("project_id"),
            status: r.get("status"),
            attempts: r.get("attempts"),
            next_eligible_at: r.get("next_eligible_at"),
            import_id: r.get("import_id"),
            attributes: r.get("attributes"),
            created_at: r.get("created_at"),
        })
    })
}
