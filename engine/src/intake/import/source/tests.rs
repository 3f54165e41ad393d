use super::*;

#[test]
fn the_delimiter_is_the_one_that_splits_lines_consistently() {
    assert_eq!(sniff_delimiter("a;b;c\n1;2,5;3\n4;5;6\n", Format::Csv), b';');
    assert_eq!(sniff_delimiter("a\tb\n1\t2\n3\t4\n", Format::Csv), b'\t');
    assert_eq!(sniff_delimiter("a|b|c\n1|2|3\n", Format::Csv), b'|');
    assert_eq!(
        sniff_delimiter("name,phone\n\"Ivanov; Ivan\",79161234567\n\"Petrov; P\",79161234568\n", Format::Csv),
        b','
    );
}

#[test]
fn encodings_are_told_apart_from_their_bytes() {
    assert_eq!(detect_encoding("телефон\n".as_bytes(), None).unwrap(), encoding_rs::UTF_8);
    let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("телефон;имя\n79161234567;Иван\n");
    assert_eq!(detect_encoding(&cp1251, None).unwrap(), encoding_rs::WINDOWS_1251);
    assert_eq!(detect_encoding(b"\xFF\xFEp\0h\0", None).unwrap(), encoding_rs::UTF_16LE);
    assert_eq!(detect_encoding(b"\xFE\xFF\0p\0h", None).unwrap(), encoding_rs::UTF_16BE);
    let no_bom: Vec<u8> =
        "phone;name\n+79161234567;Иван\n".encode_utf16().flat_map(u16::to_le_bytes).collect();
    assert_eq!(detect_encoding(&no_bom, None).unwrap(), encoding_rs::UTF_16LE);
    assert!(detect_encoding(b"abc", Some("klingon")).is_err());
}

#[test]
fn binary_content_is_not_taken_for_text() {
    assert!(check_text("phone\n79161234567\n").is_ok());
    assert!(check_text("ab\0cd").is_err());
    assert!(check_text(&"\u{1}\u{2}\u{3}x".repeat(100)).is_err());
}
