#!/usr/bin/env bash
# Applies the settings docs/operations.md recommends for a Dialpool database server to
# the local PostgreSQL cluster and restarts it: the configuration the benchmarks in
# docs/benchmarks.md name "tuned" (the one ../shared/LIMITS.md measured the raw limits
# on). Durability stays as it is: fsync, synchronous_commit and full_page_writes on.
#
#   scripts/tune-postgres.sh            apply and restart
#   scripts/tune-postgres.sh --reset    back to the package's defaults
set -euo pipefail
psql=(psql -q -h 127.0.0.1 -U postgres -d postgres)
settings=(shared_buffers max_wal_size maintenance_work_mem checkpoint_timeout)
if [ "${1:-}" = "--reset" ]; then
    for s in "${settings[@]}"; do "${psql[@]}" -c "ALTER SYSTEM RESET $s"; done
else
    # A quarter of memory is the usual ceiling; 2 GB is plenty for 50M numbers' hot set.
    "${psql[@]}" -c "ALTER SYSTEM SET shared_buffers = '2GB'"
    # Bulk imports, allocations and outcome files write gigabytes of WAL; a checkpoint
    # every gigabyte turns much of it into full-page images.
    "${psql[@]}" -c "ALTER SYSTEM SET max_wal_size = '8GB'"
    "${psql[@]}" -c "ALTER SYSTEM SET checkpoint_timeout = '15min'"
    "${psql[@]}" -c "ALTER SYSTEM SET maintenance_work_mem = '1GB'"
fi
version=$(ls /etc/postgresql | sort -n | tail -1)
pg_ctlcluster --skip-systemctl-redirect "$version" main restart
for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
"${psql[@]}" -Atc "SELECT name || ' = ' || current_setting(name) FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'maintenance_work_mem', 'checkpoint_timeout')"
