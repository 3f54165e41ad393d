use std::path::Path;

use polars::prelude::*;

use super::xlsx::SheetRow;
use super::{Chunks, SHEET_HEADER};
use crate::platform::error::{Error, Result};

/// Rows per row group: large enough for good compression and column statistics,
/// small enough that the writer holds a few tens of megabytes.
pub(super) const ROW_GROUP_ROWS: usize = 131_072;

/// Writes the rows to `path`, one row group every `group_rows` rows.
pub(super) fn write(path: &Path, mut rows: Chunks<SheetRow>, group_rows: usize) -> Result<()> {
    let failed = |e: PolarsError| Error::io(format!("writing {}", path.display()), std::io::Error::other(e));
    let file =
        std::fs::File::create(path).map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    let mut writer = ParquetWriter::new(std::io::BufWriter::with_capacity(1 << 20, file))
        .with_compression(ParquetCompression::Zstd(None))
        .batched(&schema())
        .map_err(failed)?;
    let mut group = Vec::with_capacity(group_rows);
    let mut wrote_any = false;
    loop {
        let chunk = rows.blocking_recv();
        let end = chunk.is_none();
        group.extend(chunk.into_iter().flatten());
        // An empty export still gets one (empty) row group, so readers see the schema.
        if group.len() >= group_rows || (end && (!group.is_empty() || !wrote_any)) {
            writer.write_batch(&frame(std::mem::take(&mut group)).map_err(failed)?).map_err(failed)?;
            wrote_any = true;
        }
        if end {
            break;
        }
    }
    writer.finish().map_err(failed)?;
    Ok(())
}

fn schema() -> Schema {
    let types = [
        DataType::Int64,
        DataType::String,
        DataType::String,
        DataType::String,
        DataType::Int16,
        DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        DataType::String,
        DataType::String,
    ];
    SHEET_HEADER.iter().zip(types).map(|(name, dtype)| Field::new((*name).into(), dtype)).collect()
}

fn frame(rows: Vec<SheetRow>) -> PolarsResult<DataFrame> {
    let height = rows.len();
    let mut phone = Vec::with_capacity(height);
    let mut provider = Vec::with_capacity(height);
    let mut geo = Vec::with_capacity(height);
    let mut status = Vec::with_capacity(height);
    let mut attempts = Vec::with_capacity(height);
    let mut allocated_at = Vec::with_capacity(height);
    let mut name = Vec::with_capacity(height);
    let mut attributes = Vec::with_capacity(height);
    for row in rows {
        phone.push(row.phone);
        provider.push(row.provider);
        geo.push(row.geo);
        status.push(row.status);
        attempts.push(row.attempts);
        allocated_at.push(row.allocated_at.map(|at| at.timestamp_micros()));
        name.push(row.name);
        attributes.push(row.attributes);
    }
    let [h0, h1, h2, h3, h4, h5, h6, h7] = SHEET_HEADER;
    DataFrame::new(
        height,
        vec![
            Column::new(h0.into(), phone),
            Column::new(h1.into(), provider),
            Column::new(h2.into(), geo),
            Column::new(h3.into(), status),
            Column::new(h4.into(), attempts),
            Column::new(h5.into(), allocated_at)
                .cast(&DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)))?,
            Column::new(h6.into(), name),
            Column::new(h7.into(), attributes),
        ],
    )
}
