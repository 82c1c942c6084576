#!/usr/bin/env bash
# Start Loket on http://127.0.0.1:8080 with the bundled example municipality Gemeente
# Voorbeeld (knowledge-base/, at /) and, when it exists, every municipality folder under
# knowledge-base/gemeenten/ (at /gemeenten/<slug>).
# Builds the release binary, fetches the model once (scripts/fetch-model.sh), then serves.
# Settings: loket.toml or LOKET__SECTION__KEY environment variables (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

command -v cargo >/dev/null 2>&1 || { echo "run: cargo is needed (install Rust from rustup or your distribution)" >&2; exit 1; }
if [ ! -x "$target/release/loket" ]; then
  echo "run: building Loket for the first time: about 10-12 minutes on 2 cores (later builds take seconds)" >&2
fi
cargo build --release --locked || { echo "run: the build failed" >&2; exit 1; }
LOKET_BIN="$target/release/loket" scripts/fetch-model.sh
# More municipalities beside the default one, unless the operator set their own.
if [ -z "${LOKET__PATHS__MUNICIPALITIES:-}" ] && [ -d knowledge-base/gemeenten ] && ! grep -qs '^municipalities' loket.toml; then
  export LOKET__PATHS__MUNICIPALITIES=knowledge-base/gemeenten
fi
exec "$target/release/loket" serve "$@"
