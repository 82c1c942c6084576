#!/usr/bin/env bash
# Run the whole test suite: unit tests, integration tests over HTTP in-process and
# against the real binary, and the tests that use the real multilingual-e5-small model
# (fetched once by scripts/fetch-model.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

command -v cargo >/dev/null 2>&1 || { echo "test: cargo is needed (install Rust from rustup or your distribution)" >&2; exit 1; }

# PostgreSQL: install it when it is missing and apt-get can (as root), with trust
# authentication on 127.0.0.1 and a database `test` for the tests; start it when stopped.
# The PostgreSQL tests say what to do when it is still missing.
if ! command -v pg_ctlcluster >/dev/null 2>&1 && [ -z "${LOKET_TEST_POSTGRES_URL:-}" ] \
   && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
  echo "test: installing PostgreSQL with apt-get (for the PostgreSQL tests)" >&2
  if (apt-get install -y postgresql >/dev/null || { apt-get update >/dev/null && apt-get install -y postgresql >/dev/null; }); then
    version="$(ls /etc/postgresql | head -1)"
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    su postgres -c "createdb -h 127.0.0.1 test" 2>/dev/null || true
  else
    echo "test: could not install PostgreSQL; the PostgreSQL tests will fail" >&2
  fi
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    echo "test: starting PostgreSQL" >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || echo "test: could not start PostgreSQL" >&2
  fi
fi

# Chromium: the web chat test drives it headless; install it when it is missing and apt-get can.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 && [ -z "${LOKET_CHROMIUM:-}" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "test: installing chromium with apt-get (for the web chat browser test)" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo_cmd="sudo"
    $sudo_cmd apt-get install -y chromium || {
      $sudo_cmd apt-get update && $sudo_cmd apt-get install -y chromium
    } || echo "test: could not install chromium; the web chat test will fail (apt-get install chromium)" >&2
  else
    echo "test: chromium is missing and apt-get is not available; the web chat test will fail (install Chromium or set LOKET_CHROMIUM)" >&2
  fi
fi

# axe-core, for the WCAG 2.1 AA checks of the web chat and the dashboard, from the npm
# registry once (npm checks the package's integrity hash).
axe_dir="$target/axe"
if [ ! -f "$axe_dir/package/axe.min.js" ] && [ -z "${LOKET_AXE:-}" ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "test: fetching axe-core 4.14.1 from the npm registry (for the accessibility tests)" >&2
    mkdir -p "$axe_dir"
    (cd "$axe_dir" && npm pack --silent axe-core@4.14.1 >/dev/null && tar xzf axe-core-4.14.1.tgz) \
      || echo "test: could not fetch axe-core; the accessibility tests will fail" >&2
  else
    echo "test: npm is missing; the accessibility tests will fail (install Node.js and npm, or set LOKET_AXE to an axe.min.js)" >&2
  fi
fi

echo "test: building" >&2
cargo build --locked --all-targets --quiet || { echo "test: the build failed" >&2; exit 1; }
LOKET_BIN="$target/debug/loket" scripts/fetch-model.sh
cargo test --locked "$@"
# The service alone, without the developers' tools (benchmarks, eval, the fake Graph API):
# what a deployment builds (`--no-default-features`). Last, because it replaces the binary
# the tests used (the next test run rebuilds it).
echo "test: building the service without the tools feature" >&2
cargo build --locked --no-default-features --bin loket --quiet \
  || { echo "test: the service does not build without the tools feature" >&2; exit 1; }
