use super::*;

fn input() -> ProjectInput {
    ProjectInput {
        name: "Sales".into(),
        status: "active".into(),
        time_zone: "Europe/Moscow".into(),
        daily_quota: 100,
        max_attempts: 5,
        priority: 0,
        exclusive: false,
        allocation_order: "newest".into(),
        on_final: "keep".into(),
        sources: vec![Source { id: 0, provider_id: Some(1), geo_id: None, weight: 1, prefix: None }],
        windows: vec![
            Window { weekday: 1, start: "09:00".into(), end: "13:00".into() },
            Window { weekday: 1, start: "14:00".into(), end: "24:00".into() },
        ],
        holidays: vec![],
        learning: None,
    }
}

#[test]
fn a_valid_document_passes() {
    assert_eq!(validate(&input()).unwrap(), "Sales");
}

#[test]
fn overlapping_windows_name_the_day_and_both_windows() {
    let mut bad = input();
    bad.windows.push(Window { weekday: 1, start: "12:30".into(), end: "15:00".into() });
    let message = validate(&bad).unwrap_err().to_string();
    assert!(message.contains("Monday") && message.contains("12:30–15:00"), "{message}");
}

#[test]
fn a_zero_weight_and_bad_times_are_refused() {
    let mut bad = input();
    bad.sources[0].weight = 0;
    assert!(validate(&bad).unwrap_err().to_string().contains("weight 0"));
    let mut bad = input();
    bad.windows[0].end = "25:00".into();
    assert!(validate(&bad).unwrap_err().to_string().contains("not a time"));
    let mut bad = input();
    bad.windows[0].end = "08:00".into();
    assert!(validate(&bad).unwrap_err().to_string().contains("ends before it starts"));
}
