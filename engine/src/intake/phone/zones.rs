//! The time zones a number rings in, from the number itself: libphonenumber's
//! prefix-to-time-zone map (`engine/data/phone_zones.txt`, generated from a libphonenumber
//! release by `scripts/update-phone-zones.py`) read as libphonenumber's
//! `getTimeZonesForNumber` reads it:
//! - a fixed line (or a mobile where mobiles are geographic, as in Mexico or Brazil) by
//!   the longest prefix of its E.164 digits: `+1 213` is Los Angeles, `+7 423` Vladivostok;
//! - any other valid number (a Russian or Kazakh mobile, a toll-free number) by its
//!   country calling code alone: every zone the code spans, since the number says nothing
//!   more precise;
//! - a number of unknown type: no zones.
//!
//! Where a number has several zones, calling hours hold only when they hold in all of
//! them. A set of zones has a stable id (a hash of its names), so the same set gets the
//! same id in every process and every release of the data; `phone_zone_sets` holds the
//! sets stored numbers use.

use std::collections::HashMap;
use std::sync::OnceLock;

use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumber, PhoneNumberType};
use tokio_postgres::GenericClient;

use crate::platform::error::Result;

const DATA: &str = include_str!("../../../data/phone_zones.txt");

/// A set of IANA time zones, sorted, and its id.
#[derive(Debug, PartialEq, Eq)]
pub struct ZoneSet {
    pub id: i32,
    /// The zones joined by `&`, as the data file writes them.
    pub key: String,
}

impl ZoneSet {
    fn new(key: String) -> ZoneSet {
        ZoneSet { id: id_of(&key), key }
    }

    pub fn zones(&self) -> impl Iterator<Item = &str> {
        self.key.split('&')
    }
}

/// FNV-1a of the key, folded into a positive `int4`: stable across processes and
/// releases (a `HashMap`'s hasher is not). Collisions among the few hundred sets in use
/// are checked when the data loads.
fn id_of(key: &str) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in key.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    ((hash & 0x7fff_ffff).max(1)) as i32
}

struct Map {
    version: &'static str,
    /// By prefix length, then the prefix's digits.
    by_prefix: HashMap<(u8, u64), usize>,
    longest: u8,
    sets: Vec<&'static ZoneSet>,
}

fn map() -> &'static Map {
    static MAP: OnceLock<Map> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut version = "";
        let mut by_key: HashMap<&str, usize> = HashMap::new();
        let mut sets: Vec<&'static ZoneSet> = Vec::new();
        let mut by_prefix = HashMap::new();
        let mut longest = 0;
        for line in DATA.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            if let Some(v) = line.strip_prefix("version ") {
                version = v;
                continue;
            }
            let (prefix, zones) = line.split_once('|').expect("phone_zones.txt: prefix|zones");
            let index = *by_key.entry(zones).or_insert_with(|| {
                // Leaked once: the sets live as long as the process, and `Normalised`
                // carries a reference to one for every number it reads.
                sets.push(Box::leak(Box::new(ZoneSet::new(zones.to_owned()))));
                sets.len() - 1
            });
            let digits: u64 = prefix.parse().expect("phone_zones.txt: a prefix is digits");
            by_prefix.insert((prefix.len() as u8, digits), index);
            longest = longest.max(prefix.len() as u8);
        }
        let mut ids: HashMap<i32, &str> = HashMap::new();
        for set in &sets {
            if let Some(other) = ids.insert(set.id, &set.key) {
                panic!("phone_zones.txt: the zone sets {other} and {} share the id {}", set.key, set.id);
            }
        }
        Map { version, by_prefix, longest, sets }
    })
}

/// The libphonenumber release the zone data comes from.
pub fn data_version() -> &'static str {
    map().version
}

/// The set of the longest prefix of `digits` (at most `limit` of them) the map holds.
fn lookup(digits: &str, limit: usize) -> Option<&'static ZoneSet> {
    let map = map();
    (1..=limit.min(map.longest as usize).min(digits.len())).rev().find_map(|len| {
        let prefix: u64 = digits[..len].parse().ok()?;
        map.by_prefix.get(&(len as u8, prefix)).map(|i| map.sets[*i])
    })
}

/// The zones of a valid parsed number whose E.164 digits are `e164`.
pub(crate) fn of_number(number: &PhoneNumber, e164: i64) -> Option<&'static ZoneSet> {
    let kind = number.get_type();
    if kind == PhoneNumberType::Unknown {
        return None;
    }
    let digits = e164.to_string();
    if PHONE_NUMBER_UTIL.is_number_geographical_by_country_code_and_type(kind, number.country_code) {
        lookup(&digits, digits.len())
    } else {
        let code = number.country_code.to_string();
        lookup(&code, code.len())
    }
}

/// The set holding one zone: a region geo's, which wins over the number's own when the
/// file named the region.
pub fn single(zone: &str) -> &'static ZoneSet {
    let map = map();
    if let Some(set) = map.sets.iter().find(|s| s.key == zone) {
        return set;
    }
    static EXTRA: OnceLock<std::sync::Mutex<HashMap<String, &'static ZoneSet>>> = OnceLock::new();
    let mut extra = EXTRA.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    extra.entry(zone.to_owned()).or_insert_with(|| Box::leak(Box::new(ZoneSet::new(zone.to_owned()))))
}

/// Records `sets` in `phone_zone_sets` (what the calling-hours gate reads), keeping those
/// already there.
pub async fn record(client: &impl GenericClient, sets: &[&ZoneSet]) -> Result<()> {
    if sets.is_empty() {
        return Ok(());
    }
    let ids: Vec<i32> = sets.iter().map(|s| s.id).collect();
    let keys: Vec<&str> = sets.iter().map(|s| s.key.as_str()).collect();
    client
        .execute(
            "INSERT INTO phone_zone_sets (id, zones)
             SELECT id, string_to_array(key, '&') FROM unnest($1::int4[], $2::text[]) AS s(id, key)
             ON CONFLICT (id) DO NOTHING",
            &[&ids, &keys],
        )
        .await?;
    Ok(())
}

/// Places the numbers stored before zones were derived (`zone_set` NULL), a chunk at a
/// time in phone order, each chunk its own transaction: run once, when the column
/// arrives. Returns how many got a set.
pub async fn backfill(client: &mut tokio_postgres::Client) -> Result<u64> {
    const CHUNK: i64 = 50_000;
    let mut after: (i64, i64) = (i64::MIN, i64::MIN);
    let mut placed = 0;
    loop {
        let rows = client
            .query(
                "SELECT n.tenant_id, n.phone, g.region IS NOT NULL AS region, g.time_zone
                   FROM phone_numbers n LEFT JOIN geos g ON g.tenant_id = n.tenant_id AND g.id = n.geo_id
                  WHERE n.zone_set IS NULL AND (n.tenant_id, n.phone) > ($1, $2)
                  ORDER BY n.tenant_id, n.phone LIMIT $3",
                &[&after.0, &after.1, &CHUNK],
            )
            .await?;
        let Some(last) = rows.last() else { return Ok(placed) };
        after = (last.get(0), last.get(1));
        let (mut tenants, mut phones, mut ids, mut sets) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let phone: i64 = row.get(1);
            let own = crate::intake::phone::normalise(&crate::intake::phone::format_e164(phone), None)
                .ok()
                .and_then(|n| n.zones);
            let geo_zone = row.get::<_, Option<&str>>(3).map(single);
            let set = match (row.get::<_, Option<bool>>(2), geo_zone) {
                (Some(true), Some(region)) => Some(region),
                (_, country) => own.or(country),
            };
            if let Some(set) = set {
                tenants.push(row.get::<_, i64>(0));
                phones.push(phone);
                ids.push(set.id);
                if !sets.iter().any(|s: &&ZoneSet| s.id == set.id) {
                    sets.push(set);
                }
            }
        }
        let tx = client.transaction().await?;
        record(&tx, &sets).await?;
        placed += tx
            .execute(
                "UPDATE phone_numbers n SET zone_set = u.set
                   FROM unnest($1::int8[], $2::int8[], $3::int4[]) AS u(tenant, phone, set)
                  WHERE n.tenant_id = u.tenant AND n.phone = u.phone AND n.zone_set IS NULL",
                &[&tenants, &phones, &ids],
            )
            .await?;
        tx.commit().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::phone::normalise;

    fn zones(raw: &str) -> Vec<String> {
        normalise(raw, None)
            .unwrap()
            .zones
            .map(|s| s.zones().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_fixed_line_rings_where_its_prefix_says() {
        assert_eq!(zones("+1 213 555 0143"), ["America/Los_Angeles"]);
        assert_eq!(zones("+1 212 555 0143"), ["America/New_York"]);
        assert_eq!(zones("+7 423 222 1234"), ["Asia/Vladivostok"]);
        assert_eq!(zones("+7 495 123 4567"), ["Europe/Moscow"]);
        assert_eq!(zones("+7 7172 123456"), ["Asia/Almaty"]);
        assert_eq!(zones("+61 7 3123 4567"), ["Australia/Brisbane"]);
        // Western and South Australia share the area code 08: legal hours hold in both.
        assert_eq!(zones("+61 8 9212 3456"), ["Australia/Adelaide", "Australia/Perth"]);
        assert_eq!(zones("+52 664 123 4567"), ["America/Tijuana"]);
    }

    #[test]
    fn numbers_the_old_metadata_refused_are_valid_and_placed() {
        assert_eq!(zones("+1 274 405 6428"), ["America/Chicago"]);
        assert_eq!(zones("+972 55 860 3200"), ["Asia/Jerusalem"]);
        assert_eq!(zones("+998 99 883 2413"), ["Asia/Tashkent"]);
    }

    #[test]
    fn a_mobile_without_a_place_spans_its_whole_calling_code() {
        let moscow_mobile = zones("+7 916 123 4567");
        assert!(moscow_mobile.contains(&"Asia/Kamchatka".to_owned()), "{moscow_mobile:?}");
        assert!(moscow_mobile.contains(&"Europe/Moscow".to_owned()));
        // Brazil's mobiles are geographic: the area code places them.
        assert_eq!(zones("+55 11 91234 5678"), ["America/Sao_Paulo"]);
    }

    #[test]
    fn the_same_zones_get_the_same_id_and_one_zone_is_a_set_of_its_own() {
        let a = normalise("+1 213 555 0143", None).unwrap().zones.unwrap();
        let b = normalise("+1 310 555 0143", None).unwrap().zones.unwrap();
        assert_eq!(a.id, b.id);
        assert_eq!(single("America/Los_Angeles").id, a.id);
        assert_eq!(single("Mars/Olympus").key, "Mars/Olympus");
        assert!(data_version().starts_with('9'), "{}", data_version());
    }
}
