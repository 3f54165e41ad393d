//! Dialpool reads numbers as libphonenumber does: 100,000 numbers generated over 28
//! regions, each written in nine ways people write numbers, are normalised here and by
//! libphonenumber itself (its Python port `phonenumbers`, at the release whose metadata
//! Dialpool carries; `scripts/setup.sh` installs it), and the answers must agree: the
//! same E.164 number, or both refuse it. So must the time zones of every valid number.
//!
//! Where Dialpool reads a form differently on purpose, the rule is named here:
//! - `double_zero`: `00` followed by digits is always an international prefix, whatever
//!   the file's region (libphonenumber reads `00` as international only in regions that
//!   dial out with `00`); such a number is what its `+` form is.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use dialpool_engine::intake::phone::{self, Region};

/// Where setup.sh puts the Python packages the tests use.
fn python_path() -> PathBuf {
    std::env::var_os("DIALPOOL_PYTHON_DEPS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
            .join(".cache/dialpool-python")
    })
}

#[test]
fn normalising_agrees_with_libphonenumber_over_100k_numbers_in_every_rendering() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cases = std::env::temp_dir().join(format!("dialpool-phone-cases-{}.tsv", std::process::id()));
    let status = Command::new("python3")
        .arg(root.join("scripts/phone-equivalence.py"))
        .arg(&cases)
        .arg("100000")
        .env("PYTHONPATH", python_path())
        .status()
        .expect("python3 runs");
    assert!(
        status.success(),
        "generating the cases needs phonenumbers in {} (scripts/setup.sh)",
        python_path().display()
    );
    let text = std::fs::read_to_string(&cases).unwrap();
    let _ = std::fs::remove_file(&cases);

    let mut regions: BTreeMap<&str, Region> = BTreeMap::new();
    let mut plus_form = String::new();
    let (mut checked, mut numbers, mut zoned) = (0, 0, 0);
    let mut disagreements: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [region_code, kind, raw, expected, zones] = fields[..] else { panic!("bad line {line:?}") };
        let region = *regions.entry(region_code).or_insert_with(|| Region::parse(region_code).unwrap());
        let mut expected = expected.to_owned();
        if kind == "e164" {
            numbers += 1;
            plus_form.clone_from(&expected);
        }
        if kind == "double_zero" {
            expected.clone_from(&plus_form);
        }
        let ours = phone::normalise(raw, Some(region));
        let got = ours.as_ref().map(|n| n.e164.to_string()).unwrap_or_default();
        checked += 1;
        if got != expected {
            disagreements
                .entry(kind)
                .or_default()
                .push(format!("{region_code} {raw:?}: ours {got:?}, libphonenumber {expected:?}"));
        }
        if kind == "e164" && !expected.is_empty() {
            zoned += 1;
            let ours = ours.ok().and_then(|n| n.zones).map(|z| z.key.clone()).unwrap_or_default();
            let theirs = if zones == "Etc/Unknown" { "" } else { zones };
            if ours != theirs {
                disagreements
                    .entry("zones")
                    .or_default()
                    .push(format!("{raw}: ours {ours:?}, libphonenumber {theirs:?}"));
            }
        }
    }
    assert_eq!(numbers, 100_000);
    assert_eq!(regions.len(), 28);
    assert!(checked >= 900_000 && zoned > 50_000, "{checked} cases, {zoned} zoned");
    let summary: Vec<String> = disagreements
        .iter()
        .map(|(kind, cases)| {
            format!("{kind}: {} cases, e.g.\n  {}", cases.len(), cases[..cases.len().min(5)].join("\n  "))
        })
        .collect();
    assert!(disagreements.is_empty(), "{}", summary.join("\n"));
}
