#!/usr/bin/env python3
"""Every pipeline at 1M, 10M and 50M stored numbers, against its raw statement in the same run.

Run through benches/scale.sh (it builds the release binaries first). One database grows
stage by stage: generated files imported by `dialpool import` (five providers, several
countries, at most 10M rows a file), and for a fifth of each import twelve months of
history written straight in SQL (allocations, one to three calls per number, the
statuses those calls left), as a busy call centre's year would leave it. At each stage:

  import      a further 1M-row file: `dialpool import` vs `\\copy` + INSERT .. ON CONFLICT
  allocate    1M numbers to 50 projects: `dialpool allocate` vs one UPDATE of the newest 1M
  export      the 1M as CSV: `dialpool export` vs `\\copy (SELECT ..) TO`; and as XLSX
  lease       one number per request, c=16, 15 s: POST /leases (wrk) vs pgbench's UPDATE
  outcomes    a 1M-call Master.csv: `dialpool outcomes import` vs `\\copy` + UPDATE
  refresh     conversion refresh after the day's work, and after 100k further calls
  list        GET /numbers page of 100, c=16: p99 vs pgbench of the page's SELECT
  explain     `dialpool explain` of one number vs its row and events in psql
  forecast    `dialpool forecast` of every project vs one count of the pool by cell

Peak RSS of every command, the database's size and its largest tables. Results go to
bench-data/scale/results.json (a stage already there is not measured again unless
FRESH=1), the table to stdout, and the chart to docs/benchmarks/scale.svg.
"""
import base64
import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZES = [int(s) for s in sys.argv[1:]] or [1_000_000, 10_000_000, 50_000_000]
SERVER = os.environ.get("BENCH_SERVER", "postgres://postgres@127.0.0.1:5432")
DB = "dialpool_bench_scale"
URL = f"{SERVER}/{DB}"
DATA = ROOT / "bench-data" / "scale"
# scale.sh copies the release binaries here, so a rebuild during a long run changes nothing.
BIN, GEN = str(DATA / "bin" / "dialpool"), str(DATA / "bin" / "dialpool-gen")
RESULTS = DATA / "results.json"
DURATION = int(os.environ.get("DURATION", "15"))
BATCH = int(os.environ.get("BATCH", "1000000"))
PROJECTS = 50
PORT = 18183
ENV = dict(os.environ, DATABASE_URL=URL, DIALPOOL_LOG="warn")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def sql(statement, db=URL):
    """Runs SQL through psql and returns its unaligned output."""
    out = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", db, "-c", statement],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def timed_sql(*statements):
    """Wall seconds of statements run in one psql session (one transaction each)."""
    args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", URL]
    for s in statements:
        args += ["-c", s]
    start = time.monotonic()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def timed(args, out=None):
    """Wall seconds and peak RSS (MB) of a command; its stdout to `out` when given."""
    stats = DATA / "time.txt"
    start = time.monotonic()
    with open(out, "w") if out else open(os.devnull, "w") as sink:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(stats)] + args, check=True, env=ENV, stdout=sink)
    seconds = time.monotonic() - start
    return seconds, int(stats.read_text().split()[-1]) // 1024


def sample():
    """A TABLESAMPLE percentage that finds a few thousand rows at any size (from the
    planner's row estimate: an exact count is a full scan at 50M)."""
    estimate = float(sql("""SELECT COALESCE(sum(reltuples), 0) FROM pg_class
                             WHERE relname LIKE 'phone_numbers_p%' AND relkind = 'r'"""))
    return min(100.0, 5e5 / max(estimate, 1))


def stored():
    return int(sql("SELECT count(*) FROM phone_numbers WHERE tenant_id = 1"))


def fresh_database():
    log("a new database")
    sql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)", f"{SERVER}/postgres")
    subprocess.run([BIN, "migrate"], check=True, env=ENV, stdout=subprocess.DEVNULL)
    for p in range(1, 6):
        subprocess.run([BIN, "provider", "add", f"p{p}", "--name", f"Provider {p}", "--region", "RU"],
                       check=True, env=ENV, stdout=subprocess.DEVNULL)
    # History's projects; the measured day's 50 projects; the project the day's numbers are
    # worked in (leases, outcomes), open all week with calling hours all day.
    sql("""INSERT INTO projects (tenant_id, name, time_zone, daily_quota)
             SELECT 1, 'History ' || i, 'Europe/Moscow', 100000 FROM generate_series(1, 10) i;
           INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Work', 'Europe/Moscow', 10000000);
           INSERT INTO project_schedules (tenant_id, project_id, weekday, starts_at, ends_at)
             SELECT 1, (SELECT id FROM projects WHERE name = 'Work'), d, '00:00', '24:00' FROM generate_series(1, 7) d;
           DELETE FROM calling_hours WHERE tenant_id = 1;
           INSERT INTO calling_hours (tenant_id, geo_id, start_local, end_local) VALUES (1, NULL, '00:00', '24:00');""")
    for k in range(PROJECTS):
        subprocess.run([BIN, "project", "create", "--name", f"Scale {k}", "--time-zone", "Europe/Moscow",
                        "--quota", str(BATCH // PROJECTS), "--priority", str(k % 3),
                        "--source", f"p{1 + k % 5}=2", "--source", "any", "--window", "daily=00:00-24:00"],
                       check=True, env=ENV, stdout=subprocess.DEVNULL)
    # History reaches twelve months back: the monthly partitions must be there first.
    sql("""SELECT dialpool_month_partition(t, c, (date_trunc('month', now()) - m * interval '1 month')::date)
             FROM (VALUES ('number_events', 'at'), ('call_outcomes', 'started_at')) p(t, c),
                  generate_series(1, 13) m""")


def project_id(name):
    return int(sql(f"SELECT id FROM projects WHERE tenant_id = 1 AND name = '{name}'"))


def history(import_id):
    """A year of work on a fifth of an import's numbers, written in SQL (not measured)."""
    sql(f"""
    CREATE TEMP TABLE h AS
      SELECT n.phone, n.provider_id, n.geo_id, n.import_id,
             (SELECT array_agg(id ORDER BY id) FROM projects WHERE name LIKE 'History %')[1 + n.phone % 10] AS project_id,
             date_trunc('hour', now()) - (1 + n.phone / 5 % 360) * interval '1 day' AS allocated_at,
             1 + (n.phone / 7 % 3)::int AS calls
        FROM phone_numbers n WHERE n.tenant_id = 1 AND n.import_id = {import_id} AND n.phone % 5 = 0;
    CREATE TEMP TABLE c AS
      SELECT h.*, a, h.allocated_at + a * interval '1 day' + (h.phone % 9) * interval '1 hour' AS started_at,
             (SELECT array_agg(id ORDER BY code) FROM number_statuses WHERE tenant_id = 1
                 AND code IN ('busy', 'no_answer', 'refused', 'success'))
               [(ARRAY[2, 2, 2, 2, 2, 2, 1, 1, 4, 3])[1 + (h.phone / 11 + a) % 10]] AS status_to
        FROM h CROSS JOIN generate_series(1, h.calls) a;
    INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id, import_id)
      SELECT 1, allocated_at, phone, 'allocated', project_id, provider_id, geo_id, import_id FROM h ORDER BY allocated_at;
    INSERT INTO call_outcomes (tenant_id, call_id, phone, project_id, provider_id, geo_id, disposition, status_from,
                               status_to, started_at, answered_at, source, allocated_at, import_id, attempt)
      SELECT 1, 'h' || phone || '-' || a, phone, project_id, provider_id, geo_id, 'X', 0, status_to, started_at,
             CASE WHEN status_to IN (SELECT id FROM number_statuses WHERE tenant_id = 1 AND code IN ('success', 'refused'))
                  THEN started_at END, 'history', allocated_at, import_id, a
        FROM c ORDER BY started_at;
    UPDATE phone_numbers n SET project_id = l.project_id, allocated_at = l.allocated_at, status = l.status_to,
           attempts = l.a, last_called_at = l.started_at
      FROM (SELECT DISTINCT ON (phone) * FROM c ORDER BY phone, a DESC) l
     WHERE n.tenant_id = 1 AND n.phone = l.phone;
    """)


def grow(target):
    """Imports generated files until the store holds `target` numbers."""
    have = stored()
    while have < target * 0.98:
        files = len(list(DATA.glob("grow-*.csv.done")))
        # About 7% of a generated file is invalid or repeated: ask for a little more.
        rows = min(10_000_000, math.ceil((target - have) * 1.08))
        path = DATA / f"grow-{files}.csv"
        log(f"generating {rows} rows ({path.name}), the store holds {have}")
        subprocess.run([GEN, "csv", "--rows", str(rows), "--out", str(path), "--seed", str(100 + files)], check=True)
        seconds, rss = timed([BIN, "import", str(path), "--provider", f"p{1 + files % 5}", "-q", "--json"],
                             DATA / "grow.json")
        summary = json.loads((DATA / "grow.json").read_text())
        log(f"imported {summary['inserted']} of {rows} in {seconds:.0f} s (peak RSS {rss} MB); history")
        start = time.monotonic()
        history(summary["import_id"])
        log(f"history written in {time.monotonic() - start:.0f} s")
        path.unlink()
        Path(f"{path}.done").touch()
        have = stored()
    start = time.monotonic()
    subprocess.run([BIN, "conversion", "refresh", "--full", "--json"], check=True, env=ENV, stdout=subprocess.DEVNULL)
    sql("VACUUM ANALYZE")
    log(f"full conversion refresh and VACUUM ANALYZE in {time.monotonic() - start:.0f} s")
    return have


def measure_import(stage, m):
    raw, normalised = DATA / f"batch-{stage}.csv", DATA / f"batch-{stage}-normalised.csv"
    subprocess.run([GEN, "csv", "--rows", str(BATCH), "--out", str(raw), "--normalised", str(normalised),
                    "--seed", str(9000 + stage)], check=True)
    sql("INSERT INTO providers (tenant_id, code, name) VALUES (1, 'raw', 'Raw') ON CONFLICT DO NOTHING")
    sql("CHECKPOINT")
    seconds = timed_sql(
        "CREATE UNLOGGED TABLE bench_staging (phone bigint, country text, attributes jsonb)",
        f"\\copy bench_staging FROM '{normalised}' (FORMAT csv)",
        """INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, import_id, last_import_id, attributes)
           SELECT 1, s.phone, (SELECT id FROM providers WHERE tenant_id = 1 AND code = 'raw'), g.id, 0, 0, s.attributes
             FROM bench_staging s LEFT JOIN geos g ON g.tenant_id = 1 AND g.code = s.country
           ON CONFLICT (tenant_id, phone) DO NOTHING""")
    raw_new = int(sql("SELECT count(*) FROM phone_numbers WHERE provider_id = (SELECT id FROM providers WHERE code = 'raw')"))
    start = time.monotonic()
    sql("DROP TABLE bench_staging")
    sql("DELETE FROM phone_numbers WHERE tenant_id = 1 AND provider_id = (SELECT id FROM providers WHERE code = 'raw')")
    sql("VACUUM phone_numbers")
    m["vacuum_after_1M_deletes"] = {"ours": time.monotonic() - start}
    sql("CHECKPOINT")
    ours, rss = timed([BIN, "import", str(raw), "--provider", "p1", "-q", "--json"], DATA / "import.json")
    summary = json.loads((DATA / "import.json").read_text())
    if summary["inserted"] != raw_new:
        log(f"WARNING: the raw merge stored {raw_new} new numbers, the import {summary['inserted']}")
    m["import"] = {"ours": ours, "raw": seconds, "rss_mb": rss, "rows": BATCH}
    raw.unlink()
    normalised.unlink()


def measure_allocate(m):
    work = project_id("Work")
    sql("INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Raw', 'UTC', 1) ON CONFLICT DO NOTHING")
    raw_project = project_id("Raw")
    sql("DELETE FROM project_fills WHERE tenant_id = 1")
    sql("CHECKPOINT")
    raw = timed_sql(f"""UPDATE phone_numbers n SET project_id = {raw_project}, allocated_at = now()
                          FROM (SELECT tenant_id, phone FROM phone_numbers WHERE tenant_id = 1 AND project_id IS NULL
                                 ORDER BY created_at DESC LIMIT {BATCH} FOR UPDATE SKIP LOCKED) s
                         WHERE n.tenant_id = s.tenant_id AND n.phone = s.phone""")
    sql(f"UPDATE phone_numbers SET project_id = NULL, allocated_at = NULL WHERE tenant_id = 1 AND project_id = {raw_project}")
    sql("VACUUM ANALYZE phone_numbers")
    sql("CHECKPOINT")
    scale = ",".join(str(project_id(f"Scale {k}")) for k in range(PROJECTS))
    args = [BIN, "allocate", "--json"]
    for k in scale.split(","):
        args += ["--project", k]
    ours, rss = timed(args, DATA / "allocate.json")
    allocated = json.loads((DATA / "allocate.json").read_text())["allocated"]
    m["allocate"] = {"ours": ours, "raw": raw, "rss_mb": rss, "rows": allocated}
    # The day's numbers are worked in one project from here on (not measured).
    # Allocated two days back, so yesterday's calls in the outcome file come after it.
    sql(f"""UPDATE phone_numbers SET project_id = {work}, allocated_at = allocated_at - interval '2 days'
             WHERE tenant_id = 1 AND project_id IN ({scale});
            DELETE FROM project_fills WHERE tenant_id = 1""")
    sql("VACUUM ANALYZE phone_numbers")
    return allocated


def measure_export(m):
    work = project_id("Work")
    sql_file = ROOT / "benches" / "export_raw.sql"
    query = "".join(l for l in open(sql_file) if not l.startswith("--")).replace("{project}", str(work))
    out = DATA / "raw.csv"
    sql("CHECKPOINT")
    raw = timed_sql(f"\\copy ({' '.join(query.split())}) TO '{out}' CSV HEADER")
    raw_rows = sum(1 for _ in open(out)) - 1
    sql("CHECKPOINT")
    ours, rss = timed([BIN, "export", "--project", str(work), "--format", "csv", "--out", str(DATA / "ours.csv"),
                       "--json"], DATA / "export.json")
    rows = sum(1 for _ in open(DATA / "ours.csv")) - 1
    if rows != raw_rows:
        log(f"WARNING: the raw query wrote {raw_rows} rows, the export {rows}")
    m["export_csv"] = {"ours": ours, "raw": raw, "rss_mb": rss, "rows": rows}
    xlsx, rss = timed([BIN, "export", "--project", str(work), "--format", "xlsx", "--out", str(DATA / "ours.xlsx"),
                       "--json"], DATA / "export.json")
    m["export_xlsx"] = {"ours": xlsx, "rss_mb": rss, "rows": rows}
    for f in ("raw.csv", "ours.csv", "ours.xlsx"):
        (DATA / f).unlink()


class Server:
    """`dialpool serve` on loopback with an API token of the given permissions."""

    def __init__(self, permissions):
        self.proc = subprocess.Popen([BIN, "serve", "--listen", f"127.0.0.1:{PORT}", "--data-dir", str(DATA / "serve")],
                                     env=dict(ENV, DIALPOOL_ADMIN_EMAIL="bench@example.com",
                                              DIALPOOL_ADMIN_PASSWORD="bench password 1"),
                                     stdout=subprocess.DEVNULL, stderr=open(DATA / "serve.log", "w"))
        self.base = f"http://127.0.0.1:{PORT}/api/v1"
        for _ in range(120):
            if subprocess.run(["curl", "-sf", f"http://127.0.0.1:{PORT}/readyz"], capture_output=True).returncode == 0:
                break
            time.sleep(1)
        jar = str(DATA / "jar")
        subprocess.run(["curl", "-sf", "-c", jar, "-H", "content-type: application/json", "-d",
                        '{"email":"bench@example.com","password":"bench password 1"}', f"{self.base}/auth/login"],
                       check=True, capture_output=True)
        me = json.loads(subprocess.run(["curl", "-sf", "-b", jar, f"{self.base}/me"], check=True,
                                       capture_output=True).stdout)
        token = subprocess.run(["curl", "-sf", "-b", jar, "-H", f"X-CSRF-Token: {me['csrf_token']}",
                                "-H", "content-type: application/json", "-d",
                                json.dumps({"name": f"bench {time.time()}", "permissions": permissions}),
                                f"{self.base}/tokens"], check=True, capture_output=True).stdout
        self.token = json.loads(token)["secret"]

    def stop(self):
        rss = 0
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmHWM:"):
                rss = int(line.split()[1]) // 1024
        self.proc.terminate()
        self.proc.wait()
        return rss


def wrk(url, lua=None, token=None):
    args = ["wrk", "-t2", "-c16", f"-d{DURATION}s", "--latency", "-H", f"Authorization: Bearer {token}"]
    if lua:
        args += ["-s", str(lua)]
    text = subprocess.run(args + [url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in text:
        raise SystemExit(f"the API answered with errors:\n{text}")
    unit = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {m.group(1): float(m.group(2)) * unit[m.group(3)]
           for m in re.finditer(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)}
    if "99" not in lat:
        raise SystemExit(f"wrk printed no latency distribution:\n{text}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)), lat["50"], lat["99"]


def pgbench(script, mode="prepared"):
    (DATA / "bench.sql").write_text(script)
    for f in DATA.glob("pgb.*"):
        f.unlink()
    text = subprocess.run(["pgbench", "-n", "-M", mode, "-h", "127.0.0.1", "-U", "postgres", "-c", "16", "-j", "2",
                           "-T", str(DURATION), "-f", "bench.sql", "--log", "--log-prefix=pgb", DB],
                          check=True, capture_output=True, text=True, cwd=DATA).stdout
    lat = sorted(int(line.split()[2]) / 1000.0 for f in DATA.glob("pgb.*") for line in open(f))
    pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))]
    return float(re.search(r"tps = ([\d.]+)", text).group(1)), pct(0.5), pct(0.99)


def measure_lease(m):
    work = project_id("Work")
    server = Server(["calls.work", "scope.all"])
    lua = DATA / "lease.lua"
    lua.write_text('wrk.method = "POST"\nwrk.body = \'{"count":1,"lease_s":3600}\'\n'
                   'wrk.headers["Content-Type"] = "application/json"\n')
    url = f"{server.base}/projects/{work}/leases"
    began = sql("SELECT now()")
    subprocess.run(["wrk", "-t2", "-c16", "-d5s", "-s", str(lua), "-H", f"Authorization: Bearer {server.token}", url],
                   check=True, capture_output=True)
    rps, p50, p99 = wrk(url, lua, server.token)
    rss = server.stop()
    double = int(sql(f"""SELECT count(*) FROM (SELECT phone FROM number_events WHERE tenant_id = 1 AND kind = 'leased'
                           AND project_id = {work} AND at >= '{began}' GROUP BY phone HAVING count(*) > 1) d"""))
    if double:
        raise SystemExit(f"{double} numbers were leased twice")
    reset = f"UPDATE phone_numbers SET leased_until = NULL WHERE tenant_id = 1 AND project_id = {work} AND leased_until IS NOT NULL"
    sql(reset)
    sql("VACUUM ANALYZE phone_numbers")
    tps, raw50, raw99 = pgbench(f"""UPDATE phone_numbers SET leased_until = now() + interval '1 hour'
 WHERE tenant_id = 1 AND phone = (SELECT phone FROM phone_numbers
                                   WHERE tenant_id = 1 AND project_id = {work} AND leased_until IS NULL
                                     AND next_eligible_at IS NULL
                                   ORDER BY next_eligible_at, phone LIMIT 1 FOR UPDATE SKIP LOCKED);
""")
    sql(reset)
    # Throughput: higher is better, so the ratio is raw/ours like the others (>= 1 is slower).
    m["lease"] = {"ours": 1 / rps, "raw": 1 / tps, "ours_per_s": rps, "raw_per_s": tps, "ours_p99_ms": p99,
                  "raw_p99_ms": raw99, "ours_p50_ms": p50, "raw_p50_ms": raw50, "rss_mb": rss}


def measure_outcomes(stage, m):
    work = project_id("Work")
    phones = sql(f"SELECT phone FROM phone_numbers WHERE tenant_id = 1 AND project_id = {work} ORDER BY random()").split()
    kinds = ["NO ANSWER"] * 12 + ["BUSY"] * 4 + ["ANSWERED"] * 3 + ["FAILED"]
    path = DATA / "Master.csv"
    # Yesterday in the file's zone (Moscow, UTC+3).
    day = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 3 * 3600 - 86400))
    with open(path, "w") as out:
        for i, phone in enumerate(phones, 1):
            d = kinds[i % len(kinds)]
            billsec = 60 if d == "ANSWERED" else 0
            start = f"{day} {9 + (i // 3600) % 10:02d}:{(i // 60) % 60:02d}:{i % 60:02d}"
            answer = start if d == "ANSWERED" else ""
            out.write(f'"","1001","+{phone}","outbound","""Agent"" <1001>","SIP/{stage}-{i:08x}","SIP/trunk-{i:08x}",'
                      f'"Dial","SIP/trunk/{phone},30","{start}","{answer}","{start}",{billsec + 5},{billsec},"{d}",'
                      f'"DOCUMENTATION"\n')
    sql("CHECKPOINT")
    raw = timed_sql("BEGIN",
                    """CREATE TEMP TABLE cdr (accountcode text, src text, dst text, dcontext text, clid text,
                       channel text, dstchannel text, lastapp text, lastdata text, start timestamp, answer text,
                       "end" text, duration int, billsec int, disposition text, amaflags text)""",
                    f"\\copy cdr FROM '{path}' CSV",
                    """UPDATE phone_numbers n SET status = m.status_id, attempts = n.attempts + 1,
                              last_called_at = c.start AT TIME ZONE 'Europe/Moscow'
                         FROM cdr c JOIN disposition_map m ON m.tenant_id = 1 AND m.disposition = c.disposition
                        WHERE n.tenant_id = 1 AND n.phone = ltrim(c.dst, '+')::bigint""",
                    "COMMIT")
    sql(f"""UPDATE phone_numbers SET status = 0, attempts = 0, last_called_at = NULL, next_eligible_at = NULL
             WHERE tenant_id = 1 AND project_id = {work}""")
    sql("VACUUM ANALYZE phone_numbers")
    sql("CHECKPOINT")
    ours, rss = timed([BIN, "outcomes", "import", str(path), "--format", "asterisk", "--time-zone", "Europe/Moscow",
                       "--json"], DATA / "outcomes.json")
    summary = json.loads((DATA / "outcomes.json").read_text())
    if summary["applied"] != len(phones):
        log(f"WARNING: {summary['applied']} of {len(phones)} calls applied: {summary}")
    m["outcomes"] = {"ours": ours, "raw": raw, "rss_mb": rss, "rows": len(phones)}
    path.unlink()


def measure_refresh(m):
    day, rss = timed([BIN, "conversion", "refresh", "--json"])
    m["refresh_after_day"] = {"ours": day, "rss_mb": rss}
    xact = sql("""WITH stored AS (
           INSERT INTO call_outcomes (tenant_id, call_id, phone, project_id, provider_id, geo_id, disposition, status_to,
                                      started_at, source)
           SELECT 1, 'new' || n.phone || '-' || extract(epoch FROM now())::bigint, n.phone, n.project_id, n.provider_id,
                  n.geo_id, 'X', (SELECT id FROM number_statuses WHERE tenant_id = 1 AND code = 'no_answer'),
                  now() - (n.phone % 3) * interval '1 day', 'bench'
             FROM phone_numbers n WHERE n.tenant_id = 1 AND n.project_id IS NOT NULL LIMIT 100000
           RETURNING xact_id)
           SELECT max(xact_id) FROM stored""").splitlines()[-1]
    ours, rss = timed([BIN, "conversion", "refresh", "--json"])
    # The least an incremental refresh does: find the new calls by their writer (the same
    # BRIN) and group them by cell and hour in the project's zone.
    raw = timed_sql(f"""COPY (SELECT o.tenant_id, o.project_id, (o.started_at AT TIME ZONE p.time_zone)::date,
                                     extract(hour FROM o.started_at AT TIME ZONE p.time_zone), o.provider_id,
                                     o.geo_id, count(*), count(o.answered_at)
                                FROM call_outcomes o JOIN projects p ON p.tenant_id = o.tenant_id AND p.id = o.project_id
                               WHERE o.xact_id >= {int(xact)} GROUP BY 1, 2, 3, 4, 5, 6) TO STDOUT""")
    m["refresh_100k"] = {"ours": ours, "raw": raw, "rss_mb": rss}


def measure_list(m):
    server = Server(["numbers.read", "scope.all"])
    middle = int(sql(f"SELECT phone FROM phone_numbers TABLESAMPLE SYSTEM ({sample()}) WHERE tenant_id = 1 LIMIT 1"))
    cursor = base64.urlsafe_b64encode(json.dumps({"s": "phone", "v": str(middle), "id": middle}).encode()).decode().rstrip("=")
    page = f"{server.base}/numbers?limit=100&cursor={cursor}"
    # Each pooled connection prepares its statements once: warm them up first.
    subprocess.run(["wrk", "-t2", "-c16", "-d5s", "-H", f"Authorization: Bearer {server.token}", page],
                   check=True, capture_output=True)
    rps, p50, p99 = wrk(page, token=server.token)
    rss = server.stop()
    tps, raw50, raw99 = pgbench(f"""SELECT phone, provider_id, geo_id, project_id, status, attempts, next_eligible_at,
       import_id, attributes, created_at
  FROM phone_numbers WHERE tenant_id = 1 AND phone > {middle} ORDER BY phone LIMIT 101;
""")
    m["list"] = {"ours": p99 / 1000, "raw": raw99 / 1000, "ours_p99_ms": p99, "raw_p99_ms": raw99, "ours_p50_ms": p50,
                 "raw_p50_ms": raw50, "ours_per_s": rps, "raw_per_s": tps, "rss_mb": rss}


def measure_explain_forecast(m):
    phone = sql(f"""SELECT phone FROM phone_numbers TABLESAMPLE SYSTEM ({sample()})
                    WHERE tenant_id = 1 AND project_id IS NOT NULL LIMIT 1""")
    runs = [timed([BIN, "explain", f"+{phone}", "--json"]) for _ in range(5)]
    raws = [timed_sql(f"""SELECT * FROM phone_numbers WHERE tenant_id = 1 AND phone = {phone};
                          SELECT * FROM number_events WHERE tenant_id = 1 AND phone = {phone} ORDER BY at;
                          SELECT * FROM call_outcomes WHERE tenant_id = 1 AND phone = {phone} ORDER BY started_at""")
            for _ in range(5)]
    median = lambda xs: sorted(xs)[len(xs) // 2]
    m["explain"] = {"ours": median([s for s, _ in runs]), "raw": median(raws), "rss_mb": max(r for _, r in runs)}
    ours, rss = timed([BIN, "forecast", "--json"])
    raw = timed_sql("""SELECT provider_id, geo_id, count(*) FROM phone_numbers
                        WHERE tenant_id = 1 AND project_id IS NULL AND status = 0 GROUP BY 1, 2""")
    m["forecast"] = {"ours": ours, "raw": raw, "rss_mb": rss}


def sizes():
    total = int(sql(f"SELECT pg_database_size('{DB}')"))
    tables = sql("""SELECT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text, sum(pg_total_relation_size(c.oid))
                      FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                     WHERE s.nspname = 'public' AND c.relkind = 'r'
                     GROUP BY 1 ORDER BY 2 DESC LIMIT 10""")
    return {"database": total, "tables": {t: int(b) for t, b in (line.split("|") for line in tables.splitlines())}}


LABELS = {
    "import": "import a further 1M-row file",
    "allocate": "allocate 1M to 50 projects",
    "export_csv": "export 1M, CSV",
    "export_xlsx": "export 1M, XLSX",
    "lease": "lease, c=16 (s per lease)",
    "outcomes": "outcome file, 1M calls",
    "refresh_after_day": "conversion refresh after the day",
    "refresh_100k": "conversion refresh, 100k new calls",
    "list": "API page of 100, p99",
    "explain": "explain one number",
    "forecast": "forecast, every project",
    "vacuum_after_1M_deletes": "VACUUM after 1M deletes",
}


def report(results):
    stages = sorted(results, key=int)
    lines = ["| pipeline | " + " | ".join(f"{int(s) / 1e6:g}M: ours / raw (ratio), peak RSS" for s in stages) + " |",
             "|---|" + "---|" * len(stages)]
    for key, label in LABELS.items():
        cells = []
        for s in stages:
            r = results[s]["measures"].get(key)
            if not r:
                cells.append("")
                continue
            if key == "lease":
                cell = f"{r['ours_per_s']:.0f} / {r['raw_per_s']:.0f} per s ({r['ours_per_s'] / r['raw_per_s']:.2f}), p99 {r['ours_p99_ms']:.1f} ms"
            elif key == "list":
                cell = f"{r['ours_p99_ms']:.1f} / {r['raw_p99_ms']:.1f} ms ({r['ours'] / r['raw']:.2f})"
            elif "raw" in r:
                cell = f"{r['ours']:.2f} / {r['raw']:.2f} s ({r['ours'] / r['raw']:.2f})"
            else:
                cell = f"{r['ours']:.2f} s"
            if r.get("rss_mb"):
                cell += f", {r['rss_mb']} MB"
            cells.append(cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| stored numbers | database | largest tables |", "|---|---|---|"]
    for s in stages:
        z = results[s]["sizes"]
        top = ", ".join(f"{t} {b / 2**30:.1f} GiB" for t, b in list(z["tables"].items())[:6])
        lines.append(f"| {results[s]['stored']:,} | {z['database'] / 2**30:.1f} GiB | {top} |")
    return "\n".join(lines)


def chart(results):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    stages = sorted(results, key=int)
    x = [results[s]["stored"] / 1e6 for s in stages]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for key, label in LABELS.items():
        points = [(xi, results[s]["measures"].get(key)) for xi, s in zip(x, stages)]
        points = [(xi, r) for xi, r in points if r]
        if not points:
            continue
        if key not in ("lease", "list"):
            left.plot([p[0] for p in points], [p[1]["ours"] for p in points], marker="o", label=label)
        if all("raw" in p[1] for p in points):
            right.plot([p[0] for p in points], [p[1]["ours"] / p[1]["raw"] for p in points], marker="o", label=label)
    left.set(xscale="log", yscale="log", xlabel="stored numbers (millions)", ylabel="seconds",
             title="Dialpool's time against stored numbers")
    right.set(xscale="log", yscale="log", xlabel="stored numbers (millions)", ylabel="ours / raw PostgreSQL",
              title="Against the raw statement, same run (1 = the limit)")
    right.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    for ax in (left, right):
        ax.grid(True, which="both", alpha=0.3)
    left.legend(fontsize=7)
    right.legend(fontsize=7)
    fig.tight_layout()
    out = ROOT / "docs" / "benchmarks" / "scale.svg"
    out.parent.mkdir(exist_ok=True)
    # A fixed hash salt and no date keep the SVG the same for the same numbers.
    plt.rcParams["svg.hashsalt"] = "dialpool"
    fig.savefig(out, metadata={"Date": None})
    log(f"chart: {out.relative_to(ROOT)}")


def main():
    DATA.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() and os.environ.get("FRESH") != "1" else {}
    exists = subprocess.run(["psql", "-X", "-Atc", "SELECT 1", URL], capture_output=True).returncode == 0
    if not results or not exists:
        for f in DATA.glob("grow-*"):
            f.unlink()
        results = {}
        fresh_database()
    for stage, size in enumerate(SIZES):
        if str(size) in results:
            log(f"{size}: measured earlier")
            continue
        have = grow(size)
        log(f"measuring at {have} stored numbers")
        m = {}
        for step in (lambda: measure_import(stage, m), lambda: measure_allocate(m), lambda: measure_export(m),
                     lambda: measure_lease(m), lambda: measure_outcomes(stage, m), lambda: measure_refresh(m),
                     lambda: measure_list(m), lambda: measure_explain_forecast(m)):
            step()
            log(json.dumps(m, default=str)[-300:])
        results[str(size)] = {"stored": have, "measures": m, "sizes": sizes()}
        RESULTS.write_text(json.dumps(results, indent=2))
    print(report(results))
    chart(results)


if __name__ == "__main__":
    main()
