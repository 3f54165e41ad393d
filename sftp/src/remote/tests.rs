use super::is_pullable_name;

#[test]
fn only_plain_finished_names_are_pulled() {
    for name in ["leads.csv", "leads 2026-11-21.xlsx", "номера.csv"] {
        assert!(is_pullable_name(name), "{name}");
    }
    for name in
        ["", "../x.csv", "a/b.csv", "..\\x.csv", ".hidden.csv", "big.csv.partial", "x\n.csv", "..", "."]
    {
        assert!(!is_pullable_name(name), "{name:?}");
    }
}
