//! The learned-weights simulation as a table for `docs/benchmarks.md`:
//! `cargo run -p dialpool-engine --example learning [-- --json]`.

use dialpool_engine::pool::allocate::learn::Learning;
use dialpool_engine::pool::allocate::simulation::{market, run};

fn main() {
    let json = std::env::args().any(|a| a == "--json");
    let cells = market();
    let seeds: Vec<u64> = (1..=10).collect();
    let rows: Vec<(String, _)> = [0.05, 0.1, 0.2]
        .iter()
        .map(|&floor| {
            let settings = Learning { floor, ..Learning::default() };
            (format!("floor {floor}, half-life 14 days"), run(&cells, 60, 10_000, &settings, &seeds))
        })
        .collect();
    if json {
        let out: Vec<_> = rows.iter().map(|(k, r)| serde_json::json!({"settings": k, "result": r})).collect();
        println!("{}", serde_json::to_string_pretty(&out).expect("JSON"));
        return;
    }
    println!("60 simulated days, 10,000 numbers a day, 6 providers offering 3,000 fresh numbers a day each");
    println!(
        "(true rates: {}), learned weights averaged over {} seeds.\n",
        cells.iter().map(|c| c.name).collect::<Vec<_>>().join("; "),
        seeds.len()
    );
    println!(
        "| learned weights | equal | oracle | learned | gap captured | regret | smallest daily share (floor) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (settings, r) in &rows {
        println!(
            "| {settings} | {:.1} | {:.1} | {:.1} | {:.0}% | {:.1} | {:.2}% ({:.2}%) |",
            r.equal,
            r.oracle,
            r.learned,
            r.captured * 100.0,
            r.regret,
            r.min_share * 100.0,
            r.floor_share * 100.0
        );
    }
    let (_, r) = &rows[1];
    println!(
        "\nShares over the last 10 days (floor 0.1): {}",
        r.late_shares.iter().map(|(n, s)| format!("{n}: {:.1}%", s * 100.0)).collect::<Vec<_>>().join(", ")
    );
}
