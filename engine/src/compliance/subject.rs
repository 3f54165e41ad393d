//! Subject access (GDPR Art. 15): everything Dialpool holds about one number, as one JSON
//! document: the number and its attributes, every event and call, the exports it went
//! out in, the projects that held it, its do-not-call entry, and whether it was erased.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::compliance::erasure::{self, TombstoneState};
use crate::insight::explain::Event;
use crate::intake::phone::{self, Region, format_e164};
use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::Result;
use crate::platform::secret::SecretKey;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectReport {
    /// E.164.
    pub phone: String,
    pub generated_at: DateTime<Utc>,
    /// Absent when the number is not stored (never imported, or erased).
    pub number: Option<SubjectNumber>,
    pub events: Vec<Event>,
    pub calls: Vec<SubjectCall>,
    pub exports: Vec<SubjectExport>,
    /// Every project that held or called it, by id and name.
    pub projects: Vec<SubjectProject>,
    pub dnc: Option<crate::intake::dnc::DncEntry>,
    /// Present when the number was erased (and maybe lifted since).
    pub erasure: Option<TombstoneState>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectNumber {
    pub provider: String,
    pub geo: Option<String>,
    pub project_id: Option<i64>,
    pub status: String,
    pub attempts: i16,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_called_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectCall {
    pub call_id: String,
    pub project_id: Option<i64>,
    pub disposition: String,
    pub started_at: DateTime<Utc>,
    pub duration_s: Option<i32>,
    pub agent: Option<String>,
    pub notes: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectExport {
    pub export_id: i64,
    pub project_id: i64,
    pub format: String,
    pub started_at: DateTime<Utc>,
    /// Whether its file is still kept for download.
    pub file_kept: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectProject {
    pub id: i64,
    pub name: String,
}

pub async fn report(
    client: &impl GenericClient,
    tenant: TenantId,
    secret: &SecretKey,
    raw: &str,
    region: Option<Region>,
    actor: &Actor,
) -> Result<SubjectReport> {
    let e164 = phone::parse_input("phone", raw, region)?;
    // Who read what about whom is itself on record; an erasure later blanks the number.
    audit::record(
        client,
        tenant,
        actor,
        Change {
            action: "subject.export",
            entity: "subject",
            entity_id: format_e164(e164),
            before: None,
            after: None,
        },
    )
    .await?;
    let number = client
        .query_opt(
            "SELECT p.code, g.code, n.project_id, s.code, n.attempts, n.attributes, n.created_at, n.updated_at,
                    n.last_called_at
               FROM phone_numbers n
               JOIN providers p ON p.tenant_id = n.tenant_id AND p.id = n.provider_id
               LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
               LEFT JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
              WHERE n.tenant_id = $1 AND n.phone = $2",
            &[&tenant.0, &e164],
        )
        .await?
        .map(|r| SubjectNumber {
            provider: r.get(0),
            geo: r.get(1),
            project_id: r.get(2),
            status: r.get::<_, Option<String>>(3).unwrap_or_default(),
            attempts: r.get(4),
            attributes: r.get(5),
            created_at: r.get(6),
            updated_at: r.get(7),
            last_called_at: r.get(8),
        });
    let events = client
        .query(
            "SELECT at, kind::text, project_id, status_from, status_to, disposition, data FROM number_events
              WHERE tenant_id = $1 AND phone = $2
             UNION ALL
             SELECT at, kind::text, project_id, status_from, status_to, disposition, data FROM number_events_archive
              WHERE tenant_id = $1 AND phone = $2
             ORDER BY 1",
            &[&tenant.0, &e164],
        )
        .await?
        .iter()
        .map(Event::from_row)
        .collect();
    let calls: Vec<SubjectCall> = client
        .query(
            "SELECT call_id, project_id, disposition, started_at, duration_s, agent, notes, source
               FROM call_outcomes WHERE tenant_id = $1 AND phone = $2 ORDER BY started_at",
            &[&tenant.0, &e164],
        )
        .await?
        .iter()
        .map(|r| SubjectCall {
            call_id: r.get(0),
            project_id: r.get(1),
            disposition: r.get(2),
            started_at: r.get(3),
            duration_s: r.get(4),
            agent: r.get(5),
            notes: r.get(6),
            source: r.get(7),
        })
        .collect();
    let exports: Vec<SubjectExport> = client
        .query(
            "SELECT DISTINCT x.id, x.project_id, x.format, x.started_at,
                    x.stored_path IS NOT NULL AND x.deleted_at IS NULL
               FROM export_batches b JOIN exports x ON x.tenant_id = b.tenant_id AND x.id = b.export_id
              WHERE b.tenant_id = $1 AND int8range(b.first_phone, b.last_phone, '[]') @> $2::bigint
                AND $2 = ANY(b.phones)
              ORDER BY x.started_at",
            &[&tenant.0, &e164],
        )
        .await?
        .iter()
        .map(|r| SubjectExport {
            export_id: r.get(0),
            project_id: r.get(1),
            format: r.get(2),
            started_at: r.get(3),
            file_kept: r.get(4),
        })
        .collect();
    let mut ids: Vec<i64> = number.iter().filter_map(|n| n.project_id).collect();
    ids.extend(calls.iter().filter_map(|c| c.project_id));
    ids.extend(exports.iter().map(|x| x.project_id));
    ids.extend(client
        .query(
            "SELECT DISTINCT project_id FROM number_events WHERE tenant_id = $1 AND phone = $2 AND project_id IS NOT NULL",
            &[&tenant.0, &e164],
        )
        .await?
        .iter()
        .map(|r| r.get::<_, i64>(0)));
    ids.sort_unstable();
    ids.dedup();
    let projects = client
        .query(
            "SELECT id, name FROM projects WHERE tenant_id = $1 AND id = ANY($2) ORDER BY id",
            &[&tenant.0, &ids],
        )
        .await?
        .iter()
        .map(|r| SubjectProject { id: r.get(0), name: r.get(1) })
        .collect();
    Ok(SubjectReport {
        phone: format_e164(e164),
        generated_at: Utc::now(),
        number,
        events,
        calls,
        exports,
        projects,
        dnc: crate::intake::dnc::find(client, tenant, e164).await?,
        erasure: erasure::tombstone(client, tenant, secret, e164).await?,
    })
}
