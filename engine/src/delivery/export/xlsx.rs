use std::path::Path;

use chrono::{DateTime, Utc};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatBorder, Workbook, Worksheet, XlsxError};
use tokio_postgres::binary_copy::BinaryCopyOutRow;

use super::{Chunks, SHEET_HEADER};
use crate::platform::error::{Error, Result};

/// Excel's rows per sheet, the header included.
pub(super) const SHEET_ROWS: u32 = 1_048_576;

/// The zip deflate level of the workbook (1 fastest to 9 smallest).
const COMPRESSION_LEVEL: u8 = 1;

/// One row of [`super::SHEET_COLUMNS`].
#[derive(Debug, Clone, Default)]
pub(super) struct SheetRow {
    pub phone: i64,
    pub provider: String,
    pub geo: Option<String>,
    pub status: String,
    pub attempts: i16,
    pub allocated_at: Option<DateTime<Utc>>,
    pub name: Option<String>,
    pub attributes: Option<String>,
}

impl SheetRow {
    pub(super) fn decode(row: BinaryCopyOutRow) -> SheetRow {
        SheetRow {
            phone: row.get(0),
            provider: row.get(1),
            geo: row.get(2),
            status: row.get(3),
            attempts: row.get(4),
            allocated_at: row.get(5),
            name: row.get(6),
            attributes: row.get(7),
        }
    }
}

/// Writes the rows to `path`, a new sheet (with the header) every `sheet_rows` rows.
pub(super) fn write(path: &Path, mut rows: Chunks<SheetRow>, sheet_rows: u32) -> Result<()> {
    let failed = |e: XlsxError| Error::io(format!("writing {}", path.display()), std::io::Error::other(e));
    let mut workbook = Workbook::new();
    // Deflate at level 6 (the zip default) was half the instructions of a 100k-row export
    // (callgrind: 47% in zlib-rs's deflate_medium, 44% writing the sheet's XML). Level 1
    // takes zlib-rs's quick path; the file is about 1.6 times as large (docs/exports.md).
    workbook.set_zip_compression_level(COMPRESSION_LEVEL);
    if let Some(dir) = path.parent() {
        // Constant-memory sheets spool to temp files; next to the output they are on
        // the disk that must hold the file anyway.
        workbook.set_tempdir(dir).map_err(failed)?;
    }
    let header =
        Format::new().set_bold().set_background_color("#DDE4EE").set_border_bottom(FormatBorder::Thin);
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let start_sheet = |sheet: &mut Worksheet, number: u32| -> Result<(), XlsxError> {
        sheet.set_name(if number == 1 { "Numbers".to_owned() } else { format!("Numbers {number}") })?;
        for (col, title) in SHEET_HEADER.iter().enumerate() {
            sheet.write_string_with_format(0, col as u16, *title, &header)?;
        }
        sheet.set_column_width(0, 16)?;
        sheet.set_column_width(5, 20)?;
        sheet.set_freeze_panes(1, 0)?;
        Ok(())
    };
    let mut sheets = 0;
    let mut row_in_sheet = sheet_rows;
    let mut sheet: Option<&mut Worksheet> = None;
    while let Some(chunk) = rows.blocking_recv() {
        for row in chunk {
            if row_in_sheet == sheet_rows {
                sheets += 1;
                let next = workbook.add_worksheet_with_constant_memory().map_err(failed)?;
                start_sheet(next, sheets).map_err(failed)?;
                sheet = Some(next);
                row_in_sheet = 1;
            }
            let Some(sheet) = sheet.as_mut() else { unreachable!("a sheet was added above") };
            let r = row_in_sheet;
            // The phone as text: a number cell would show 7.9E+10.
            sheet.write_string(r, 0, row.phone.to_string()).map_err(failed)?;
            sheet.write_string(r, 1, row.provider).map_err(failed)?;
            if let Some(geo) = row.geo {
                sheet.write_string(r, 2, geo).map_err(failed)?;
            }
            sheet.write_string(r, 3, row.status).map_err(failed)?;
            sheet.write_number(r, 4, row.attempts).map_err(failed)?;
            if let Some(at) = row.allocated_at {
                let at = ExcelDateTime::from_timestamp(at.timestamp()).map_err(failed)?;
                sheet.write_datetime_with_format(r, 5, &at, &when).map_err(failed)?;
            }
            if let Some(name) = row.name {
                sheet.write_string(r, 6, name).map_err(failed)?;
            }
            if let Some(attributes) = row.attributes {
                sheet.write_string(r, 7, attributes).map_err(failed)?;
            }
            row_in_sheet += 1;
        }
    }
    if sheets == 0 {
        start_sheet(workbook.add_worksheet(), 1).map_err(failed)?;
    }
    workbook.save(path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use calamine::{Data, Reader, Xlsx};

    use super::*;

    #[test]
    fn sheets_split_and_each_has_the_header() {
        let dir = std::env::temp_dir().join(format!("dialpool-xlsx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("split.xlsx");
        let (send, receive) = tokio::sync::mpsc::channel(4);
        let rows: Vec<SheetRow> = (0..7)
            .map(|i| SheetRow {
                phone: 79160000000 + i,
                provider: "p".into(),
                status: "new".into(),
                ..SheetRow::default()
            })
            .collect();
        send.blocking_send(rows).unwrap();
        drop(send);
        write(&path, receive, 3).unwrap();
        let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
        assert_eq!(book.sheet_names(), ["Numbers", "Numbers 2", "Numbers 3", "Numbers 4"]);
        let mut phones = Vec::new();
        for name in book.sheet_names() {
            let range = book.worksheet_range(&name).unwrap();
            let mut rows = range.rows();
            assert_eq!(rows.next().unwrap()[0], Data::String("phone".into()));
            phones.extend(rows.map(|r| r[0].to_string()));
        }
        assert_eq!(phones.len(), 7);
        assert_eq!(phones[6], "79160000006");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
