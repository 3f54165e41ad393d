//! Text that leaves Dialpool in a file a spreadsheet may open.

use std::borrow::Cow;

/// Escapes a cell against spreadsheet formula injection (OWASP "CSV injection"): a cell
/// that starts with `=`, `+`, `-`, `@`, TAB or CR is prefixed with `'` so Excel, LibreOffice
/// and Google Sheets show it as text instead of running it.
pub fn escape_formula(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Tables as one CSV file, each row led by its table's name. Text cells are escaped
/// against formula injection; numbers (negative ones too) are written as they are.
pub fn tables_to_csv(tables: &[(&str, Vec<Vec<String>>)]) -> crate::Result<Vec<u8>> {
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    let failed = |e: csv::Error| crate::Error::Worker(format!("writing the report: {e}"));
    for (name, rows) in tables {
        for row in rows {
            let mut record = Vec::with_capacity(row.len() + 1);
            if tables.len() > 1 {
                record.push((*name).to_owned());
            }
            record.extend(row.iter().map(|cell| {
                if cell.parse::<f64>().is_ok() { cell.clone() } else { escape_formula(cell).into_owned() }
            }));
            writer.write_record(&record).map_err(failed)?;
        }
    }
    writer.into_inner().map_err(|e| crate::Error::Worker(e.to_string()))
}

/// Tables as an XLSX workbook, a sheet per table; the first row of each is its header.
/// Counts are numbers; anything a leading zero or a quote would change (an hour "07", a
/// call id "0042", a phone) stays text. A string cell is never a formula in XLSX.
pub fn tables_to_xlsx(tables: &[(&str, Vec<Vec<String>>)]) -> crate::Result<Vec<u8>> {
    let failed = |e: rust_xlsxwriter::XlsxError| crate::Error::Worker(format!("writing the report: {e}"));
    let mut workbook = rust_xlsxwriter::Workbook::new();
    for (name, rows) in tables {
        let sheet = workbook.add_worksheet();
        sheet.set_name(*name).map_err(failed)?;
        for (r, row) in rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let plain_number = r > 0 && (cell == "0" || !cell.starts_with(['0', '\'']));
                match cell.parse::<f64>() {
                    Ok(number) if plain_number && number.is_finite() => {
                        sheet.write_number(r as u32, c as u16, number).map_err(failed)?
                    }
                    _ => sheet.write_string(r as u32, c as u16, cell).map_err(failed)?,
                };
            }
        }
    }
    workbook.save_to_buffer().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_escaped_and_others_left_alone() {
        for dangerous in ["=HYPERLINK(\"x\")", "+7 916", "-1+1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(escape_formula(dangerous), format!("'{dangerous}"));
        }
        for safe in ["79161234567", "Иван", "", "a=b"] {
            assert_eq!(escape_formula(safe), safe);
        }
    }
}
