//! Writing the selection to a file: CSV straight from `COPY`, the other formats row
//! by row.

use super::*;
use crate::platform::error::{Error, Result};
use crate::platform::progress::Progress;
use futures_util::StreamExt;
use std::path::Path;
use tokio::io::AsyncWriteExt;
use tokio_postgres::Transaction;
use tokio_postgres::binary_copy::{BinaryCopyOutRow, BinaryCopyOutStream};
use tokio_postgres::types::Type;

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(format!("writing {}", path.display()), e)
}

pub(super) async fn write_csv(
    tx: &Transaction<'_>,
    query: &str,
    csv: CsvOptions,
    partial: &Path,
    progress: &Progress,
    phones: &mut Vec<i64>,
) -> Result<i64> {
    let delimiter = csv.delimiter_sql()?;
    let copy = format!(
        "COPY ({query}) TO STDOUT (FORMAT csv, HEADER, DELIMITER '{delimiter}', ENCODING '{}')",
        csv.encoding.postgres_name()
    );
    // COPY sends a message per row; unbuffered, each would be a write of its own.
    let mut file = tokio::io::BufWriter::with_capacity(
        1 << 20,
        tokio::fs::File::create(partial).await.map_err(write_error(partial))?,
    );
    let stream = tx.copy_out(&copy).await?;
    futures_util::pin_mut!(stream);
    let mut bytes = 0i64;
    let mut header = true;
    while let Some(message) = stream.next().await {
        let message = message?;
        bytes += message.len() as i64;
        if !std::mem::take(&mut header) {
            phones.push(leading_phone(&message, delimiter.as_bytes()[0])?);
            progress.add(1);
        }
        file.write_all(&message).await.map_err(write_error(partial))?;
    }
    file.flush().await.map_err(write_error(partial))?;
    Ok(bytes)
}

/// The phone a CSV row starts with: digits up to the delimiter (a phone is never quoted).
/// PostgreSQL sends each row of a `COPY … TO STDOUT` as one message.
fn leading_phone(row: &[u8], delimiter: u8) -> Result<i64> {
    let end = row.iter().position(|b| *b == delimiter).unwrap_or(row.len());
    std::str::from_utf8(&row[..end]).ok().and_then(|digits| digits.parse().ok()).ok_or_else(|| {
        Error::Worker(format!(
            "a COPY row did not start with a phone: {:?}",
            String::from_utf8_lossy(&row[..end.min(40)])
        ))
    })
}

/// Rows go from the binary `COPY` to a writer thread in chunks, so the file's CPU work
/// runs beside the database's.
const ROWS_PER_CHUNK: usize = 2_000;

/// Chunks of rows on their way to a file writer's thread.
pub(super) type Chunks<T> = tokio::sync::mpsc::Receiver<Vec<T>>;

/// Streams `query` as binary `COPY`, decodes each row with `decode` and hands chunks of
/// them to `writer` on a blocking thread.
async fn stream_rows<T, W>(
    tx: &Transaction<'_>,
    query: &str,
    types: &'static [Type],
    progress: &Progress,
    phones: &mut Vec<i64>,
    decode: fn(BinaryCopyOutRow) -> T,
    writer: W,
) -> Result<()>
where
    T: Send + 'static,
    W: FnOnce(Chunks<T>) -> Result<()> + Send + 'static,
{
    let (send, receive) = tokio::sync::mpsc::channel::<Vec<T>>(4);
    let worker = tokio::task::spawn_blocking(move || writer(receive));
    let stream = tx.copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT binary)")).await?;
    let rows = BinaryCopyOutStream::new(stream, types);
    futures_util::pin_mut!(rows);
    let mut chunk = Vec::with_capacity(ROWS_PER_CHUNK);
    loop {
        let row = rows.next().await.transpose()?;
        let end = row.is_none();
        // Every query starts with the phone.
        phones.extend(row.as_ref().map(|r| r.get::<i64>(0)));
        chunk.extend(row.map(decode));
        if chunk.len() == ROWS_PER_CHUNK || (end && !chunk.is_empty()) {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(ROWS_PER_CHUNK));
            progress.add(full.len() as u64);
            // A writer that stopped has its error waiting below.
            if send.send(full).await.is_err() {
                break;
            }
        }
        if end {
            break;
        }
    }
    drop(send);
    worker.await.map_err(|e| Error::Worker(e.to_string()))?
}

/// Writes the spreadsheet columns' rows (XLSX, Parquet) to `partial` with `write`.
pub(super) async fn write_sheet_rows(
    tx: &Transaction<'_>,
    query: &str,
    partial: &Path,
    progress: &Progress,
    phones: &mut Vec<i64>,
    write: fn(&Path, Chunks<xlsx::SheetRow>) -> Result<()>,
) -> Result<i64> {
    let path = partial.to_path_buf();
    stream_rows(tx, query, SHEET_TYPES, progress, phones, xlsx::SheetRow::decode, move |rows| {
        write(&path, rows)
    })
    .await?;
    file_size(partial).await
}

pub(super) async fn write_vicidial(
    tx: &Transaction<'_>,
    query: &str,
    list_id: i64,
    partial: &Path,
    progress: &Progress,
    phones: &mut Vec<i64>,
) -> Result<i64> {
    let path = partial.to_path_buf();
    stream_rows(
        tx,
        query,
        VICIDIAL_TYPES,
        progress,
        phones,
        |row| row,
        move |rows| vicidial::write(&path, list_id, rows),
    )
    .await?;
    file_size(partial).await
}

async fn file_size(path: &Path) -> Result<i64> {
    Ok(tokio::fs::metadata(path).await.map_err(write_error(path))?.len() as i64)
}
