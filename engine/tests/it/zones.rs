//! Calling hours where the number rings: numbers from several zones of the US, Russia,
//! Kazakhstan, Brazil, Australia and Mexico, imported through the real pipeline, leased
//! at fixed instants around the legal hours. The expected answer at each instant comes
//! from chrono-tz, not from the code under test: a number may be leased only when its
//! local time is 08:00–21:00 in every zone it may ring in.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use dialpool_engine::dialing::lease::{self, LeaseRequest};
use dialpool_engine::platform::access::Scope;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::pool::project::{self, ProjectInput, Window};

use crate::support;

/// Each number, how a file writes it, and the zones it rings in.
const NUMBERS: &[(&str, &str, &[&str])] = &[
    ("+12135550143", "", &["America/Los_Angeles"]),
    ("+12125550143", "", &["America/New_York"]),
    ("+13125550143", "", &["America/Chicago"]),
    ("+19075550143", "", &["America/Adak", "America/Anchorage"]),
    ("+18085550143", "", &["Pacific/Honolulu"]),
    ("+74952221234", "", &["Europe/Moscow"]),
    ("+74232221234", "", &["Asia/Vladivostok"]),
    ("+74152221234", "", &["Asia/Kamchatka"]),
    ("+73833221234", "", &["Asia/Novosibirsk"]),
    // A Russian mobile says nothing of where it is: every zone of +7 (Russia and
    // Kazakhstan) until the file names its region.
    (
        "+79161234567",
        "",
        &[
            "Asia/Almaty",
            "Asia/Anadyr",
            "Asia/Aqtobe",
            "Asia/Irkutsk",
            "Asia/Kamchatka",
            "Asia/Krasnoyarsk",
            "Asia/Magadan",
            "Asia/Novosibirsk",
            "Asia/Omsk",
            "Asia/Sakhalin",
            "Asia/Vladivostok",
            "Asia/Yakutsk",
            "Asia/Yekaterinburg",
            "Europe/Bucharest",
            "Europe/Moscow",
            "Europe/Samara",
        ],
    ),
    ("+79161234568", "RU-PRI", &["Asia/Vladivostok"]),
    ("+77172123456", "", &["Asia/Almaty"]),
    ("+77122123456", "", &["Asia/Aqtobe"]),
    ("+551133334444", "", &["America/Sao_Paulo"]),
    ("+559232123456", "", &["America/Manaus"]),
    ("+556832123456", "", &["America/Rio_Branco"]),
    ("+61386001234", "", &["Australia/Sydney"]),
    ("+61731234567", "", &["Australia/Brisbane"]),
    ("+61892123456", "", &["Australia/Adelaide", "Australia/Perth"]),
    ("+525512345678", "", &["America/Mexico_City"]),
    ("+526641234567", "", &["America/Tijuana"]),
    ("+529981234567", "", &["America/Cancun"]),
];

fn legal(zones: &[&str], at: DateTime<Utc>) -> bool {
    let (open, close) =
        (NaiveTime::from_hms_opt(8, 0, 0).unwrap(), NaiveTime::from_hms_opt(21, 0, 0).unwrap());
    zones.iter().all(|zone| {
        let local = at.with_timezone(&zone.parse::<Tz>().unwrap()).time();
        local >= open && local < close
    })
}

#[tokio::test]
async fn each_number_is_leased_only_in_the_legal_hours_of_every_zone_it_rings_in() {
    let setup = support::setup().await;
    let mut client = setup.db.client().await;
    client
        .execute(
            "INSERT INTO geos (tenant_id, country, region, name, time_zone)
             VALUES ($1, 'RU', 'PRI', 'Primorsky Krai', 'Asia/Vladivostok')",
            &[&setup.tenant.0],
        )
        .await
        .unwrap();
    let file = setup.dir.path().join("zones.csv");
    let mut text = String::from("phone,region\n");
    for (phone, region, _) in NUMBERS {
        text.push_str(&format!("{phone},{region}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let summary = setup.import(setup.request(&file)).await.unwrap();
    assert_eq!(summary.counts.inserted, NUMBERS.len() as i64, "{summary:?}");

    let input = ProjectInput {
        name: "Everywhere".into(),
        status: "active".into(),
        time_zone: "UTC".into(),
        daily_quota: 1000,
        max_attempts: 10,
        priority: 0,
        exclusive: false,
        allocation_order: "newest".into(),
        on_final: "keep".into(),
        sources: vec![],
        windows: (1..=7)
            .map(|weekday| Window { weekday, start: "00:00".into(), end: "24:00".into() })
            .collect(),
        holidays: vec![],
        learning: None,
    };
    let project =
        project::create(&mut **client, setup.tenant, &Actor::system("test"), &input).await.unwrap().id;
    client.execute("UPDATE phone_numbers SET project_id = $1", &[&project]).await.unwrap();

    let gates = dialpool_engine::dialing::hours::GateCache::default();
    // Every half hour of a northern summer day and a northern winter day (DST both ways).
    let days: [DateTime<Utc>; 2] =
        ["2026-07-15T00:00:00Z".parse().unwrap(), "2027-01-15T00:00:00Z".parse().unwrap()];
    let mut checked = 0;
    for day in days {
        for step in 0..48 {
            let at = day + Duration::minutes(30 * step);
            let mut pooled = setup.db.client().await;
            let request = LeaseRequest { count: 100, lease_s: 60 };
            let leased = lease::lease(
                &mut pooled,
                &gates,
                setup.tenant,
                &Scope::All,
                &Actor::system("test"),
                project,
                &request,
                at,
            )
            .await
            .unwrap();
            let got: BTreeSet<String> = leased.numbers.iter().map(|n| n.phone.clone()).collect();
            let want: BTreeSet<String> = NUMBERS
                .iter()
                .filter(|(_, _, zones)| legal(zones, at))
                .map(|(p, _, _)| (*p).to_owned())
                .collect();
            assert_eq!(got, want, "at {at} ({}:{:02} UTC)", at.hour(), at.minute());
            if want.is_empty() {
                assert_eq!(leased.short_reason.as_deref(), Some("outside_calling_hours"), "at {at}");
            }
            checked += want.len();
            // Give them back for the next instant.
            client.execute("UPDATE phone_numbers SET leased_until = NULL", &[]).await.unwrap();
        }
    }
    assert!(checked > 200, "the instants cover open hours too ({checked})");
}

#[tokio::test]
async fn explain_says_where_a_number_rings_and_its_legal_hours_today() {
    let setup = support::setup().await;
    let client = setup.db.client().await;
    let file = setup.dir.path().join("two.csv");
    std::fs::write(&file, "phone\n+19075550143\n").unwrap();
    setup.import(setup.request(&file)).await.unwrap();
    let at: DateTime<Utc> = "2027-01-15T12:00:00Z".parse().unwrap();
    let explained = dialpool_engine::insight::explain::explain(
        &**client,
        setup.tenant,
        &Scope::All,
        "+1 907 555 0143",
        None,
        Some(at),
    )
    .await
    .unwrap();
    let rings = explained.rings_in.unwrap();
    assert_eq!(rings.zones, ["America/Adak", "America/Anchorage"]);
    assert_eq!(rings.source, "number");
    assert_eq!((rings.start.as_str(), rings.end.as_str()), ("08:00", "21:00"));
    // 08:00 in Anchorage (UTC-9) is 17:00 UTC; 21:00 in Adak (UTC-10) is 07:00 UTC the
    // next day: both zones are legal from 18:00 UTC (08:00 Adak) to 06:00 UTC (21:00 Anchorage).
    assert_eq!(rings.legal_from.unwrap().to_rfc3339(), "2027-01-15T18:00:00+00:00");
    assert_eq!(rings.legal_until.unwrap().to_rfc3339(), "2027-01-16T06:00:00+00:00");
    assert!(!rings.legal_now);
}
