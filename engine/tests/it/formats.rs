use dialpool_engine::intake::import::mapping::ColumnMapping;
use dialpool_engine::intake::import::source::Format;

use crate::support::{FIXTURE_NUMBERS, fixture, setup, sorted};

#[tokio::test]
async fn every_format_and_encoding_yields_the_same_five_numbers() {
    for (name, format, encoding) in [
        ("utf8-comma.csv", "csv", Some("UTF-8")),
        ("utf8-bom-semicolon.csv", "csv", Some("UTF-8")),
        ("utf16le-tab.tsv", "csv", Some("UTF-16LE")),
        ("utf16be-semicolon.csv", "csv", Some("UTF-16BE")),
        ("cp1251-semicolon.csv", "csv", Some("windows-1251")),
        ("pipe.txt", "csv", Some("UTF-8")),
        ("english-headers.csv", "csv", Some("UTF-8")),
        ("quoted-multiline.csv", "csv", Some("UTF-8")),
        ("title-row.csv", "csv", Some("UTF-8")),
        ("headerless.csv", "csv", Some("UTF-8")),
        ("numbers.xlsx", "xlsx", None),
        ("numbers.xls", "xls", None),
    ] {
        let setup = setup().await;
        let summary = setup.import_fixture(name).await;
        assert_eq!(summary.format, format, "{name}");
        assert_eq!(summary.encoding, encoding, "{name}");
        assert_eq!(summary.counts.total, 5, "{name}: {summary:?}");
        assert_eq!(summary.counts.inserted, 5, "{name}: {summary:?}");
        assert!(summary.rejects_file.is_none(), "{name}");
        assert_eq!(setup.phones().await, sorted(FIXTURE_NUMBERS.to_vec()), "{name}");
    }
}

#[tokio::test]
async fn vicidial_lead_files_take_the_phone_from_position_four_with_its_phone_code() {
    for name in ["vicidial-pipe.txt", "vicidial-tab.txt"] {
        let setup = setup().await;
        let mut request = setup.request(&fixture(name));
        request.source.format = Some(Format::Vicidial);
        let summary = setup.import(request).await.unwrap();
        assert_eq!(summary.counts.inserted, 5, "{name}: {summary:?}");
        assert_eq!(setup.phones().await, sorted(FIXTURE_NUMBERS.to_vec()), "{name}");
        let list_id: String = setup
            .db
            .client()
            .await
            .query_one("SELECT attributes->>'list_id' FROM phone_numbers WHERE phone = 77012345678", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(list_id, "101");
    }
}

#[tokio::test]
async fn other_columns_are_kept_as_attributes_and_geo_comes_from_the_column_or_the_country() {
    let setup = setup().await;
    setup.import_fixture("utf8-comma.csv").await;
    let client = setup.db.client().await;
    let rows = client
        .query(
            "SELECT p.phone, g.code, p.attributes FROM phone_numbers p JOIN geos g ON g.tenant_id = p.tenant_id AND g.id = p.geo_id ORDER BY p.phone",
            &[],
        )
        .await
        .unwrap();
    let by_phone = |phone: i64| rows.iter().find(|r| r.get::<_, i64>(0) == phone).expect("stored");
    // "KZ" in the region column names the Kazakhstan geo.
    assert_eq!(by_phone(77012345678).get::<_, String>(1), "KZ");
    // "Москва" is no geo this tenant has: the number's country is used and the value kept.
    let anna = by_phone(79031112233);
    assert_eq!(anna.get::<_, String>(1), "RU");
    let attributes: serde_json::Value = anna.get(2);
    assert_eq!(attributes["Регион"], "Москва");
    assert_eq!(attributes["name"], "Петрова Анна");
    assert_eq!(attributes["Примечание"], "VIP");
    assert_eq!(by_phone(442079460958).get::<_, String>(1), "GB");
}

#[tokio::test]
async fn a_chosen_sheet_is_read_by_name_or_position() {
    for sheet in ["Other", "2"] {
        let setup = setup().await;
        let mut request = setup.request(&fixture("numbers.xlsx"));
        request.source.sheet = Some(sheet.into());
        let summary = setup.import(request).await.unwrap();
        assert_eq!(summary.counts.inserted, 1);
        assert_eq!(setup.phones().await, vec![79990001122]);
    }
    let setup = setup().await;
    let mut request = setup.request(&fixture("numbers.xlsx"));
    request.source.sheet = Some("Missing".into());
    let error = setup.import(request).await.unwrap_err();
    assert!(error.to_string().contains("the sheets are: Лиды, Other"), "{error}");
}

#[tokio::test]
async fn an_explicit_mapping_finds_a_phone_column_no_header_names() {
    let setup = setup().await;
    let mut request = setup.request(&fixture("custom-header.csv"));
    request.mapping = ColumnMapping::parse("phone=2,name=1").unwrap();
    let summary = setup.import(request).await.unwrap();
    assert_eq!(summary.counts.inserted, 5, "{summary:?}");
    let setup2 = crate::support::setup().await;
    let mut request = setup2.request(&fixture("custom-header.csv"));
    request.mapping = ColumnMapping::parse("phone=Contact").unwrap();
    assert_eq!(setup2.import(request).await.unwrap().counts.inserted, 5);
}

#[tokio::test]
async fn a_mapping_saved_on_the_provider_is_used_without_being_repeated() {
    let setup = setup().await;
    setup
        .db
        .client()
        .await
        .execute("UPDATE providers SET column_mapping = '{\"phone\": \"Contact\"}' WHERE code = 'acme'", &[])
        .await
        .unwrap();
    let summary = setup.import_fixture("custom-header.csv").await;
    assert_eq!(summary.counts.inserted, 5);
}

#[tokio::test]
async fn a_forced_encoding_overrides_detection() {
    let setup = setup().await;
    let mut request = setup.request(&fixture("cp1251-semicolon.csv"));
    request.source.encoding = Some("cp1251".into());
    let summary = setup.import(request).await.unwrap();
    assert_eq!(summary.encoding, Some("windows-1251"));
    let name: String = setup
        .db
        .client()
        .await
        .query_one("SELECT attributes->>'name' FROM phone_numbers WHERE phone = 79161234567", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(name, "Иванов Иван");
}
