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
