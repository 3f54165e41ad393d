use dialpool_engine::{Error, ErrorKind};

use crate::support::{fixture, setup};

/// Imports a bad file: the error names the file (and row where there is one) and nothing
/// is stored.
async fn refused(name: &str, path: std::path::PathBuf, expected: &str) -> Error {
    let setup = setup().await;
    let error = setup.import(setup.request(&path)).await.expect_err(name);
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{name}: {error}");
    let message = error.to_string();
    assert!(message.contains(path.file_name().unwrap().to_str().unwrap()), "{name}: {message}");
    assert!(message.contains(expected), "{name}: expected '{expected}' in '{message}'");
    assert_eq!(setup.count("SELECT count(*) FROM phone_numbers").await, 0, "{name}");
    assert_eq!(setup.count("SELECT count(*) FROM imports WHERE status = 'failed'").await, 1, "{name}");
    error
}

#[tokio::test]
async fn bad_files_are_refused_with_a_clear_error_and_nothing_stored() {
    for (name, expected) in [
        ("empty.csv", "the file is empty"),
        ("blank.csv", "no rows"),
        ("header-only.csv", "has a header (row 1) but no data rows"),
        ("no-phone-column.csv", "no phone column found"),
        ("garbage.bin", "not text"),
        ("truncated.xlsx", "damaged or truncated"),
        ("corrupt.xlsx", "damaged or truncated"),
        ("bomb.xlsx", "shared strings expand to 300 MiB"),
    ] {
        refused(name, fixture(name), expected).await;
    }
}

#[tokio::test]
async fn a_hundred_megabyte_line_is_refused_without_reading_it_whole() {
    let dir = crate::support::tempdir::Dir::new();
    let path = dir.path().join("long-line.csv");
    let mut contents = b"phone,note\n+79161234567,ok\n".to_vec();
    contents.extend(std::iter::repeat_n(b'x', 100 << 20));
    contents.push(b'\n');
    std::fs::write(&path, contents).unwrap();
    let error = refused("long-line.csv", path, "row 3").await;
    assert!(error.to_string().contains("longer than 1 MiB"), "{error}");
}

#[tokio::test]
async fn an_unknown_provider_is_not_found() {
    let setup = setup().await;
    let mut request = setup.request(&fixture("utf8-comma.csv"));
    request.provider_code = "nobody".into();
    let error = setup.import(request).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotFound);
    assert_eq!(error.to_string(), "provider 'nobody' not found");
}

#[tokio::test]
async fn a_spreadsheet_named_as_text_or_text_forced_as_spreadsheet_is_explained() {
    let setup = setup().await;
    let mut request = setup.request(&fixture("utf8-comma.csv"));
    request.source.format = Some(dialpool_engine::intake::import::source::Format::Xlsx);
    let error = setup.import(request).await.unwrap_err();
    assert!(error.to_string().contains("not a spreadsheet"), "{error}");
}
