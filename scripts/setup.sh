#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test Dialpool, and makes sure a local
# PostgreSQL answers on 127.0.0.1:5432. Safe to run again; it only acts where needed.
# `--browser` also installs Debian's Chromium for the UI's browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
want_browser=false
[ "${1:-}" = "--browser" ] && want_browser=true

need_apt=()
command -v cargo >/dev/null || { echo "setup: Rust (cargo) is required: https://rustup.rs" >&2; exit 1; }
command -v psql >/dev/null || need_apt+=(postgresql postgresql-client)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql-common)
command -v npm >/dev/null || need_apt+=(nodejs npm)
if $want_browser && ! command -v chromium >/dev/null; then need_apt+=(chromium); fi
# The SFTP tests drive the server with OpenSSH's own client.
command -v sftp >/dev/null || need_apt+=(openssh-client)
# The remote-host tests start a real OpenSSH server of their own on a loopback port.
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! cargo nextest --version >/dev/null 2>&1; then
    echo "setup: installing cargo-nextest" >&2
    cargo install --locked cargo-nextest >/dev/null
fi

# Python packages the tests drive Dialpool with, in a folder of their own (listed in
# scripts/test-python.txt): libphonenumber's own port for the phone equivalence test,
# paramiko for the SFTP tests. Reinstalled when the list changes.
py_deps="${DIALPOOL_PYTHON_DEPS:-${HOME:-/tmp}/.cache/dialpool-python}"
if [ ! -f "$py_deps/.installed" ] || ! cmp -s scripts/test-python.txt "$py_deps/.installed"; then
    echo "setup: installing the tests' Python packages into $py_deps" >&2
    rm -rf "$py_deps"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$py_deps" -r scripts/test-python.txt >/dev/null
    cp scripts/test-python.txt "$py_deps/.installed"
fi

# The UI's packages, exactly as locked; reinstalled when the lock file changes.
if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
    echo "setup: installing the UI's npm packages" >&2
    npm --prefix ui ci --no-audit --no-fund --loglevel=error >/dev/null
fi

# Only the default local server is ours to start; a DATABASE_URL elsewhere is the user's.
url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/dialpool}"
case "$url" in
    *@127.0.0.1:5432/*|*@localhost:5432/*|*@127.0.0.1/*|*@localhost/*)
        if ! pg_isready -q -h 127.0.0.1 -p 5432; then
            version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
            if [ -z "$version" ]; then
                echo "setup: no PostgreSQL cluster found under /etc/postgresql" >&2; exit 1
            fi
            echo "setup: starting PostgreSQL $version" >&2
            pg_ctlcluster --skip-systemctl-redirect "$version" main start
            for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
        fi
        pg_isready -q -h 127.0.0.1 -p 5432 || { echo "setup: PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
        # Tests and the demo connect as postgres without a password, as the default URL says.
        if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
            echo "setup: cannot connect as postgres to 127.0.0.1:5432; allow trust auth for local TCP or set DATABASE_URL" >&2
            exit 1
        fi
        ;;
esac
