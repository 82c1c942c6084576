#!/usr/bin/env bash
# Checks the packaging files that can be checked on this machine:
#   - the systemd units with `systemd-analyze verify` (the binary path substituted by the
#     built one, since the units name /usr/local/bin/loket);
#   - publiccode.yml parses and has the fields the standard requires.
#   LOKET_BIN=target/release/loket scripts/verify-packaging.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${LOKET_BIN:-target/debug/loket}")"
[ -x "$bin" ] || { echo "verify-packaging: build first ($bin is missing)" >&2; exit 1; }
status=0
if command -v systemd-analyze >/dev/null 2>&1; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
    sed "s#/usr/local/bin/loket#$bin#g" "$unit" > "$tmp/$(basename "$unit")"
  done
  # systemd-analyze exits 0 on values it ignores (a misspelt setting), so any line it prints
  # is a failure, except that user loket need not exist on this machine.
  out="$(cd "$tmp" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1)" || true
  problems="$(echo "$out" | grep -v -e "Failed to resolve user" -e "user loket" -e "^$" || true)"
  if [ -n "$problems" ]; then
    echo "$problems" >&2; echo "systemd units: FAILED" >&2; status=1
  else
    echo "systemd units: OK"
  fi
else
  echo "verify-packaging: systemd-analyze is missing; units not checked" >&2
fi
python3 - <<'PY' || status=1
import re, sys
text = open("publiccode.yml").read()
try:
    import yaml
    d = yaml.safe_load(text)
except ImportError:
    # Without PyYAML: the top-level keys, and the language keys under description.
    d = {k: True for k in re.findall(r"^([A-Za-z]\w*):", text, re.M)}
    d["description"] = {k: True for k in re.findall(r"^  (nl|en):", text, re.M)}
need = ["publiccodeYmlVersion", "name", "url", "platforms", "categories", "developmentStatus",
        "softwareType", "description", "legal", "maintenance", "localisation"]
missing = [k for k in need if k not in d]
desc = d.get("description", {})
if missing or "nl" not in desc or "en" not in desc:
    print(f"publiccode.yml: FAILED, missing {missing or 'a description in nl and en'}", file=sys.stderr)
    sys.exit(1)
print("publiccode.yml: OK")
PY
exit $status
