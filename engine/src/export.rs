//! Exports: a project's numbers out to a file for a dialer, in one transaction. The
//! selection (filters bound as parameters) lands in a temporary table; one constant
//! `COPY (SELECT …) TO STDOUT` streams it to the file; the same transaction marks the
//! numbers exported, writes an `exported` event each and records the export. Exporting
//! never changes which project holds a number.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::audit::{self, Actor, Change};
use crate::error::{Error, Result};
use crate::tenant::TenantId;

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
    /// Only numbers no export has taken yet.
    #[serde(default)]
    pub never_exported: bool,
    /// At most this many rows (in phone order).
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    Utf8,
    /// For old Excel on Russian Windows; a number's attributes that Windows-1251 cannot
    /// hold make the export fail rather than turn into question marks.
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

    fn postgres_name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF8",
            Encoding::Windows1251 => "WIN1251",
        }
    }
}

/// CSV layout: the delimiter is one of `,` `;` TAB `|`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CsvOptions {
    pub delimiter: char,
    pub encoding: Encoding,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions { delimiter: ',', encoding: Encoding::Utf8 }
    }
}

#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub tenant: TenantId,
    pub project_id: i64,
    pub filter: ExportFilter,
    pub csv: CsvOptions,
    pub out: PathBuf,
    pub actor: Actor,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExportSummary {
    pub export_id: i64,
    pub rows: i64,
    pub bytes: i64,
    pub file: String,
}

/// A text cell as a spreadsheet must not run it: one starting with `=`, `+`, `-`, `@`,
/// TAB or CR gets a leading apostrophe (OWASP's advice for CSV injection).
macro_rules! escape {
    ($column:literal) => {
        concat!(
            "CASE WHEN left(",
            $column,
            ", 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ",
            $column,
            " ELSE ",
            $column,
            " END"
        )
    };
}

/// The file's columns. The phone is E.164 digits without the plus, which spreadsheets
/// would read as a formula; every text that comes from a provider's file is escaped.
const COPY_QUERY: &str = concat!(
    "SELECT e.phone AS phone, pr.code AS provider, g.code AS geo, s.code AS status, n.attempts,
            n.allocated_at, ",
    escape!("(n.attributes->>'name')"),
    " AS name, ",
    escape!("n.attributes::text"),
    " AS attributes
       FROM export_rows e
       JOIN phone_numbers n ON n.tenant_id = e.tenant_id AND n.phone = e.phone
       JOIN providers pr ON pr.tenant_id = n.tenant_id AND pr.id = n.provider_id
       JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
       LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
      ORDER BY e.phone"
);

/// Writes the export to `request.out` (replacing it only when everything succeeded).
pub async fn export_csv(pool: &deadpool_postgres::Pool, request: ExportRequest) -> Result<ExportSummary> {
    let delimiter = match request.csv.delimiter {
        ',' => ",",
        ';' => ";",
        '\t' => "\t",
        '|' => "|",
        other => return Err(Error::invalid("delimiter", format!("'{other}' is not one of , ; TAB |"))),
    };
    if let Some(limit) = request.filter.limit
        && limit < 1
    {
        return Err(Error::invalid("limit", "must be at least 1"));
    }
    let mut pooled = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut pooled;
    let tx = client.transaction().await?;
    crate::project::get(&tx, request.tenant, request.project_id).await?;
    let f = &request.filter;
    tx.batch_execute(
        "CREATE TEMP TABLE export_rows (tenant_id bigint NOT NULL, phone bigint PRIMARY KEY) ON COMMIT DROP",
    )
    .await?;
    // Locked so a number an allocation or another export is moving is either in or out.
    let rows = tx
        .execute(
            "INSERT INTO export_rows
             SELECT n.tenant_id, n.phone FROM phone_numbers n
              WHERE n.tenant_id = $1 AND n.project_id = $2
                AND ($3::smallint IS NULL OR n.status = $3) AND ($4::bigint IS NULL OR n.provider_id = $4)
                AND ($5::bigint IS NULL OR n.geo_id = $5)
                AND ($6::timestamptz IS NULL OR n.allocated_at >= $6) AND ($7::timestamptz IS NULL OR n.allocated_at < $7)
                AND ($8::smallint IS NULL OR n.attempts >= $8) AND ($9::smallint IS NULL OR n.attempts <= $9)
                AND (NOT $10 OR n.exported_at IS NULL)
              ORDER BY n.phone LIMIT $11
                FOR UPDATE OF n",
            &[
                &request.tenant.0,
                &request.project_id,
                &f.status,
                &f.provider_id,
                &f.geo_id,
                &f.allocated_from,
                &f.allocated_to,
                &f.attempts_min,
                &f.attempts_max,
                &f.never_exported,
                &f.limit,
            ],
        )
        .await? as i64;
    let limit: Option<i64> = tx
        .query_one("SELECT max_export_rows_per_day FROM tenants WHERE id = $1", &[&request.tenant.0])
        .await?
        .get(0);
    if let Some(limit) = limit {
        let today: i64 = tx
            .query_one(
                "SELECT COALESCE(sum(rows), 0)::bigint FROM exports
                  WHERE tenant_id = $1 AND status = 'succeeded' AND started_at >= date_trunc('day', now())",
                &[&request.tenant.0],
            )
            .await?
            .get(0);
        if today + rows > limit {
            return Err(Error::LimitReached(format!(
                "the tenant may export {limit} rows a day; {today} are exported today and this export has {rows}; nothing was exported"
            )));
        }
    }
    tx.execute(
        "WITH marked AS (
            UPDATE phone_numbers n SET exported_at = now()
              FROM export_rows e WHERE n.tenant_id = e.tenant_id AND n.phone = e.phone
            RETURNING n.phone, n.project_id, n.provider_id, n.geo_id, n.status
         )
         INSERT INTO number_events (tenant_id, phone, kind, project_id, provider_id, geo_id, status_from, status_to,
                                    actor_user_id)
         SELECT $1, phone, 'exported', project_id, provider_id, geo_id, status, status, $2 FROM marked ORDER BY phone",
        &[&request.tenant.0, &request.actor.user_id],
    )
    .await?;

    // The file is written next to its destination and moved over it only after commit.
    let partial = request.out.with_extension("partial");
    let copy = format!(
        "COPY ({COPY_QUERY}) TO STDOUT (FORMAT csv, HEADER, DELIMITER '{delimiter}', ENCODING '{}')",
        request.csv.encoding.postgres_name()
    );
    let written = async {
        let mut file = tokio::fs::File::create(&partial)
            .await
            .map_err(|e| Error::io(format!("creating {}", partial.display()), e))?;
        let stream = tx.copy_out(&copy).await?;
        futures_util::pin_mut!(stream);
        let mut bytes = 0i64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            bytes += chunk.len() as i64;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
        }
        file.flush().await.map_err(|e| Error::io(format!("writing {}", partial.display()), e))?;
        Ok::<_, Error>(bytes)
    }
    .await;
    let bytes = match written {
        Ok(bytes) => bytes,
        Err(error) => {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(error);
        }
    };
    let file_name = request.out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let options = serde_json::json!({ "filter": request.filter, "csv": request.csv });
    let export_id: i64 = tx
        .query_one(
            "INSERT INTO exports (tenant_id, project_id, format, options, status, rows, bytes, file_name, created_by,
                                  finished_at)
             VALUES ($1, $2, 'csv', $3, 'succeeded', $4, $5, $6, $7, now()) RETURNING id",
            &[&request.tenant.0, &request.project_id, &options, &rows, &bytes, &file_name, &request.actor.user_id],
        )
        .await?
        .get(0);
    let summary = ExportSummary { export_id, rows, bytes, file: file_name };
    crate::webhook::enqueue(
        &tx,
        request.tenant,
        "export.finished",
        &serde_json::to_value(&summary).unwrap_or_default(),
    )
    .await?;
    audit::record(
        &tx,
        request.tenant,
        &request.actor,
        Change::created("export.create", "export", export_id, &summary),
    )
    .await?;
    let committed = tx.commit().await;
    if let Err(error) = committed {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(error.into());
    }
    tokio::fs::rename(&partial, &request.out)
        .await
        .map_err(|e| Error::io(format!("moving the export to {}", request.out.display()), e))?;
    Ok(summary)
}
