#!/usr/bin/env bash
# Checks the packaging files that can be checked on this machine.
#
# Always (no network, a few seconds; the test suite runs these):
#   - the systemd units with `systemd-analyze verify` (the binary path substituted by the
#     built one, since the units name /usr/local/bin/loket);
#   - publiccode.yml parses and has the fields the standard requires;
#   - Dockerfile: two stages, the build stage runs `cargo build --release --locked` and
#     scripts/fetch-model.sh, the runtime runs as a non-root user, every path Loket writes
#     (LOKET__PATHS__DATA_DIR, CACHE_DIR, ARCHIVE__DIR, TMPDIR) lies in the declared VOLUME,
#     EXPOSE matches LOKET__SERVER__BIND, the HEALTHCHECK asks /healthz; scripts/docker-steps.sh
#     carries the same build commands; .dockerignore keeps models/, target/ and .git out;
#   - compose.yaml, a STRUCTURAL check only (no Compose engine here): services, the
#     healthcheck-ordered depends_on, healthchecks, every secret declared and each
#     LOKET__…_FILE naming a secret the service mounts, the read-only root and the volume;
#   - the Helm chart without Helm: Chart.yaml, values.yaml against values.schema.json (Python
#     jsonschema), the templates' environment matching the image's volume;
#   - every LOKET__… variable in the Dockerfile, compose.yaml and the chart is accepted by
#     `loket config check` (an unknown section or key is an error there), and the chart's
#     CronJob command `loket archive purge` exists.
#   PyYAML and jsonschema are used when installed; a check without them says "not checked".
#
# On request (they download from PyPI or build):
#   --chart         Helm's own lint and render (the engine `helm template` runs) through Helm
#                   v4.2.3's Go SDK, from the pinned PyPI wheel helm-python-sdk==0.2.2 (no helm
#                   binary is available from this machine's registries), for the default
#                   values and a production set; combinations the chart must refuse; every
#                   rendered manifest validated against the Kubernetes 1.27 and 1.37 schemas
#                   (kubernetes-validate, strict) and checked for probes, security context,
#                   resources and secret mounts. Installs into $CARGO_TARGET_DIR/packaging-venv.
#   --docker-steps  scripts/docker-steps.sh: the Dockerfile's steps outside a container, run as
#                   the image would run (read-only root, non-root user, the volume), probed.
#   --podman        scripts/docker-steps.sh --podman: also the Dockerfile's runtime stage built
#                   and run by podman (base image: LOKET_RUNTIME_IMAGE, e.g. `debootstrap`).
#   --all           --chart and --docker-steps.
#
#   LOKET_BIN=target/release/loket scripts/verify-packaging.sh [--chart] [--docker-steps|--podman]
set -euo pipefail
cd "$(dirname "$0")/.."
chart=0; docker_steps=0; steps_args=()
for arg in "$@"; do
  case "$arg" in
    --chart) chart=1 ;;
    --docker-steps) docker_steps=1 ;;
    --podman) docker_steps=1; steps_args=(--podman) ;;
    --all) chart=1; docker_steps=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "verify-packaging: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
bin="$(realpath "${LOKET_BIN:-target/debug/loket}")"
[ -x "$bin" ] || { echo "verify-packaging: build first ($bin is missing)" >&2; exit 1; }
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
status=0
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$tmp/units"
  for unit in deploy/systemd/*.service deploy/systemd/*.timer; do
    sed "s#/usr/local/bin/loket#$bin#g" "$unit" > "$tmp/units/$(basename "$unit")"
  done
  # systemd-analyze exits 0 on values it ignores (a misspelt setting), so any line it prints
  # is a failure, except that user loket need not exist on this machine.
  out="$(cd "$tmp/units" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1)" || true
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

# --- Dockerfile, compose.yaml, the chart without Helm --------------------------------------
# Writes $tmp/env-vars: every LOKET__ variable the three files set, for `loket config check`.
python3 - "$tmp" <<'PY' || status=1
import json, os, re, shlex, sys
tmp = sys.argv[1]
failed = []
def check(name, problems):
    if problems:
        failed.append(name)
        print(f"{name}: FAILED", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
    else:
        print(f"{name}: OK")
env_vars = set()

# Dockerfile: instructions per stage, continuation lines joined, comments dropped.
stages, stage, cur = {}, None, ""
for raw in open("Dockerfile").read().splitlines():
    if raw.lstrip().startswith("#") or (not cur and not raw.strip()):
        continue
    cur += raw.rstrip()
    if cur.endswith("\\"):
        cur = cur[:-1] + " "; continue
    word, _, rest = cur.strip().partition(" "); cur = ""
    if word.upper() == "FROM":
        m = re.search(r"\bAS\s+(\S+)$", rest, re.I)
        stage = m.group(1) if m else rest
        stages[stage] = []
    elif stage is not None:
        stages[stage].append((word.upper(), rest.strip()))
p = []
if list(stages) != ["build", "runtime"]:
    p.append(f"expected the stages build and runtime, found {list(stages)}")
build_runs = " ".join(r for w, r in stages.get("build", []) if w == "RUN")
steps_sh = open("scripts/docker-steps.sh").read()
for cmd in ["cargo build --release --locked", "scripts/fetch-model.sh", "install -D -m 0755",
            "objcopy --compress-debug-sections=zlib",
            "cp -r knowledge-base intents", "chmod -R a+rX,go-w"]:
    if cmd not in build_runs:
        p.append(f"the build stage does not run {cmd!r}")
    if cmd not in steps_sh:
        p.append(f"scripts/docker-steps.sh does not run {cmd!r} (keep it in step with the Dockerfile)")
rt = stages.get("runtime", [])
get = lambda w: [r for x, r in rt if x == w]
env = dict(kv.split("=", 1) for e in get("ENV") for kv in shlex.split(e))
env_vars |= {k for k in env if k.startswith("LOKET__")}
user = (get("USER") or ["root"])[-1].split(":")[0]
if user in ("root", "0"):
    p.append("the runtime stage runs as root")
volumes = [v for x in get("VOLUME") for v in json.loads(x)]
if len(volumes) != 1:
    p.append(f"expected one VOLUME, found {volumes}")
vol = volumes[0] if volumes else "/nonexistent"
writable = ["LOKET__PATHS__DATA_DIR", "LOKET__PATHS__CACHE_DIR", "LOKET__ARCHIVE__DIR", "TMPDIR"]
for k in writable:
    v = env.get(k)
    if v is None or not (v == vol or v.startswith(vol.rstrip("/") + "/")):
        p.append(f"{k}={v} is not in the volume {vol}: a read-only root file system would refuse it")
port = env.get("LOKET__SERVER__BIND", "").rpartition(":")[2]
if get("EXPOSE") != [port]:
    p.append(f"EXPOSE {get('EXPOSE')} does not match LOKET__SERVER__BIND={env.get('LOKET__SERVER__BIND')}")
hc = " ".join(get("HEALTHCHECK"))
if f"127.0.0.1:{port}/healthz" not in hc:
    p.append(f"the HEALTHCHECK does not ask 127.0.0.1:{port}/healthz: {hc}")
if "curl" in hc and not any("curl" in r for x, r in rt if x == "RUN"):
    p.append("the HEALTHCHECK uses curl, which the runtime stage does not install")
if json.loads((get("ENTRYPOINT") or ["[]"])[0]) != ["/usr/local/bin/loket"]:
    p.append("ENTRYPOINT is not /usr/local/bin/loket")
ignore = [l.strip() for l in open(".dockerignore") if l.strip() and not l.startswith("#")]
for needed in ["models/*", "target", ".git"]:
    if needed not in ignore:
        p.append(f".dockerignore does not exclude {needed}")
if "models" in ignore or "models/" in ignore:
    p.append(".dockerignore excludes models/ itself; fetch-model.sh needs the folder's README")
check("Dockerfile", p)

try:
    import yaml
except ImportError:
    yaml = None
    print("compose.yaml: not checked (PyYAML is missing: pip install pyyaml)", file=sys.stderr)
    print("Helm chart (schema): not checked (PyYAML is missing)", file=sys.stderr)

if yaml:
    # compose.yaml: structure only; no Compose engine on this machine.
    c = yaml.safe_load(open("compose.yaml"))
    p = []
    services = c.get("services", {})
    declared = c.get("secrets", {}) or {}
    for name in ("loket", "postgres"):
        if name not in services:
            p.append(f"no service {name}")
    lk, pg = services.get("loket", {}), services.get("postgres", {})
    if (lk.get("depends_on") or {}).get("postgres", {}).get("condition") != "service_healthy":
        p.append("loket must depend on postgres with condition: service_healthy")
    if not (pg.get("healthcheck") or {}).get("test"):
        p.append("postgres has no healthcheck")
    test = " ".join((lk.get("healthcheck") or {}).get("test", []))
    if "/readyz" not in test and "/healthz" not in test:
        p.append("loket's healthcheck asks neither /readyz nor /healthz")
    for sname, svc in services.items():
        mounted = set()
        for s in svc.get("secrets", []) or []:
            s = s if isinstance(s, str) else s.get("source")
            mounted.add(s)
            if s not in declared:
                p.append(f"{sname}: secret {s} is not declared under secrets:")
            elif not (declared[s].get("file") or declared[s].get("environment")):
                p.append(f"secret {s} has neither file nor environment")
        environment = svc.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(e.split("=", 1) for e in environment)
        for k, v in environment.items():
            if k.endswith("_FILE") and str(v).startswith("/run/secrets/"):
                if str(v)[len("/run/secrets/"):] not in mounted:
                    p.append(f"{sname}: {k}={v} names a secret the service does not mount")
            if k.startswith("LOKET__"):
                env_vars.add(k)
                if re.search(r"URL$|SECRET$|TOKEN$|PASSWORD$", k):
                    p.append(f"{sname}: {k} puts a secret in the environment; use {k}_FILE and a secret")
    if "LOKET__DATABASE__URL_FILE" not in (lk.get("environment") or {}):
        p.append("loket does not read the database URL from a secret (LOKET__DATABASE__URL_FILE)")
    if lk.get("read_only") is not True:
        p.append("loket's root file system is not read-only (read_only: true)")
    if not any(str(v).endswith(":" + vol) for v in lk.get("volumes", [])):
        p.append(f"loket does not mount a volume at {vol}")
    if not any(str(x).endswith(":" + port) for x in lk.get("ports", [])):
        p.append(f"loket does not publish the image's port {port}")
    check("compose.yaml (structure only)", p)

    # The chart without Helm: metadata, values against the schema, the image's volume.
    d = "deploy/helm/loket"
    p = []
    meta = yaml.safe_load(open(f"{d}/Chart.yaml"))
    for k in ("apiVersion", "name", "version", "appVersion"):
        if k not in meta:
            p.append(f"Chart.yaml has no {k}")
    values = yaml.safe_load(open(f"{d}/values.yaml"))
    schema = json.load(open(f"{d}/values.schema.json"))
    try:
        import jsonschema
        jsonschema.Draft7Validator.check_schema(schema)
        for e in jsonschema.Draft7Validator(schema).iter_errors(values):
            p.append(f"values.yaml: {'/'.join(map(str, e.path))}: {e.message}")
    except ImportError:
        print("Helm chart: values.yaml not validated (jsonschema is missing: pip install jsonschema)", file=sys.stderr)
    helpers = open(f"{d}/templates/_helpers.tpl").read()
    for k in writable:
        m = re.search(rf"- name: {k}\n\s+value: (\S+)", helpers)
        if not m or m.group(1) != env.get(k):
            p.append(f"the chart sets {k} to {m and m.group(1)}, the image to {env.get(k)}")
    if f"mountPath: {vol}\n" not in helpers:
        p.append(f"the chart mounts no volume at {vol}")
    env_vars |= set(re.findall(r"name: (LOKET__[A-Z_]+)", helpers))
    check("Helm chart (Chart.yaml, values against values.schema.json; not rendered)", p)

with open(os.path.join(tmp, "env-vars"), "w") as f:
    f.write("\n".join(sorted(env_vars)) + "\n")
sys.exit(1 if failed else 0)
PY

# Every LOKET__ variable names a real setting: `loket config check` refuses an unknown section
# or key (naming the variable); other problems (no model in this scratch folder, ...) are not
# this check's business. Values are placeholders of the right type.
check_env_names() { # file-with-names label
  [ -s "$1" ] || return 0
  mkdir -p "$tmp/cfg"; printf 'x\n' > "$tmp/cfg/secret"
  local args=() var out
  while read -r var; do
    [ -n "$var" ] || continue
    case "$var" in
      *_FILE) args+=("$var=$tmp/cfg/secret") ;;
      LOKET__SERVER__BIND) args+=("$var=127.0.0.1:8080") ;;
      LOKET__SERVER__LOG_FORMAT) args+=("$var=json") ;;
      LOKET__SERVER__ALLOWED_ORIGINS) args+=("$var=https://www.voorbeeld.nl") ;;
      LOKET__SERVER__TRUSTED_PROXIES) args+=("$var=10.0.0.0/8") ;;
      LOKET__WHATSAPP__ENABLED) args+=("$var=false") ;;
      *) args+=("$var=$tmp/cfg/x") ;;
    esac
  done < "$1"
  out="$(cd "$tmp/cfg" && env -i PATH="$PATH" "${args[@]}" "$bin" config check 2>&1)" || true
  if echo "$out" | grep -E "LOKET__[A-Z_]+" | grep -qiE "unknown|expected|cannot|invalid"; then
    echo "$out" | grep -E "LOKET__" >&2
    echo "LOKET__ variables ($2): FAILED" >&2; return 1
  fi
  echo "LOKET__ variables ($2): OK ($(grep -c . "$1") names accepted by loket config check)"
}
check_env_names "$tmp/env-vars" "Dockerfile, compose.yaml, chart" || status=1
if "$bin" archive purge --help >/dev/null 2>&1; then
  echo "the chart's CronJob command (loket archive purge): OK"
else
  echo "the chart's CronJob command (loket archive purge): FAILED" >&2; status=1
fi

# --- --chart: Helm's own lint and render, Kubernetes schemas ------------------------------
if [ "$chart" = 1 ]; then
  venv="$target/packaging-venv"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import helm_python, kubernetes_validate, yaml" 2>/dev/null; then
    echo "verify-packaging: installing helm-python-sdk 0.2.2 (Helm v4.2.3's Go SDK) and kubernetes-validate 1.37.0 from PyPI into $venv" >&2
    python3 -m venv "$venv"
    # The wheel carries a native library built from Helm's Go SDK by a third party: pinned by hash.
    printf '%s\n' 'helm-python-sdk==0.2.2 --hash=sha256:28cc13abaf134c3a7e37f070c939be8d9cdc9825c3c8b8b2d35161073bcd4578' > "$tmp/helm-req.txt"
    "$venv/bin/pip" install --quiet --no-deps --only-binary=:all: --require-hashes -r "$tmp/helm-req.txt"
    "$venv/bin/pip" install --quiet kubernetes-validate==1.37.0 pyyaml jsonschema
  fi
  "$venv/bin/python" - deploy/helm/loket "$tmp/chart-env-vars" <<'PY' || { echo "Helm chart (lint, render, Kubernetes schemas): FAILED" >&2; status=1; }
import contextlib, os, sys, warnings
import helm_python as helm
import kubernetes_validate
import yaml
warnings.simplefilter("ignore")
path, env_out = sys.argv[1], sys.argv[2]
env_names = set()

@contextlib.contextmanager
def quiet_go():
    """Helm's Go code logs each `fail` it meets while linting to fd 2; keep it off the report."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)

print(f"  Helm SDK {helm.helm_sdk_version()} (libhelm_c {helm.helm_c_version()})")
problems = []
production = {
    "replicaCount": 2,
    "image": {"repository": "registry.example.nl/loket", "tag": "0.1.0", "pullPolicy": "IfNotPresent"},
    "database": {"existingSecret": "loket-database", "secretKey": "url"},
    "secretFiles": [
        {"setting": "whatsapp.app_secret", "secretName": "loket-whatsapp", "key": "app-secret"},
        {"setting": "whatsapp.verify_token", "secretName": "loket-whatsapp", "key": "verify-token"},
        {"setting": "whatsapp.access_token", "secretName": "loket-whatsapp", "key": "access-token"},
    ],
    "settings": {"whatsapp.enabled": True, "whatsapp.phone_number_id": "106540352242922",
                 "server.trusted_proxies": "10.0.0.0/8"},
    "persistence": {"enabled": False},
    "ingress": {"enabled": True, "className": "nginx",
                "hosts": [{"host": "loket.voorbeeld.nl", "paths": [{"path": "/", "pathType": "Prefix"}]}],
                "tls": [{"secretName": "loket-tls", "hosts": ["loket.voorbeeld.nl"]}]},
    "extraEnv": [{"name": "LOKET_LOG", "value": "info"}],
}
scenarios = {"default values": None, "production values (PostgreSQL, WhatsApp secrets, Ingress, 2 replicas)": production}
refused = {
    "2 replicas on SQLite": {"replicaCount": 2},
    "2 replicas on one ReadWriteOnce volume": {"replicaCount": 2, "database": {"existingSecret": "db", "secretKey": "url"}},
    "SQLite in an emptyDir with the purge job": {"persistence": {"enabled": False}},
    "settings.server.bind": {"settings": {"server.bind": "0.0.0.0:9000"}},
    "the database URL through secretFiles": {"secretFiles": [{"setting": "database.url", "secretName": "x", "key": "y"}]},
    "a pod allowed to run as root (schema)": {"podSecurityContext": {"runAsNonRoot": False}},
    "an unknown value (schema)": {"replicas": 2},
    "a setting that is not section.key (schema)": {"settings": {"WHATSAPP_ENABLED": "true"}},
}

def lint(name, values):
    with quiet_go():
        r = helm.lint(path, values, strict=True, kube_version="v1.27.0")
    bad = [m for m in r["messages"] if m["severity"] >= 2] + [{"error": e} for e in r.get("errors", [])]
    for m in bad:
        problems.append(f"helm lint ({name}): {m.get('path', '')} {m['error'].strip()}")
    info = [m["error"] for m in r["messages"] if m["severity"] < 2]
    print(f"  helm lint --strict --kube-version v1.27.0 ({name}): {'OK' if not bad else 'FAILED'}"
          + (f" (info: {'; '.join(info)})" if info else ""))

for name, values in scenarios.items():
    lint(name, values)
    with helm.Chart.load(path) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name="loket", namespace="gemeente")
    docs = [d for f, text in sorted(rendered.items()) if not f.endswith("NOTES.txt")
            for d in yaml.safe_load_all(text) if d]
    kinds = sorted(d["kind"] for d in docs)
    for d in docs:
        for version in ("1.27.0", "1.37.0"):
            try:
                kubernetes_validate.validate(d, version, strict=True)
            except Exception as e:
                problems.append(f"{name}: {d['kind']} {d['metadata']['name']} on Kubernetes {version}: {str(e)[:300]}")
    by = {}
    for d in docs:
        by.setdefault(d["kind"], []).append(d)
    dep = by["Deployment"][0]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    want = {"readinessProbe": "/readyz", "livenessProbe": "/healthz", "startupProbe": "/healthz"}
    for probe, p in want.items():
        if c.get(probe, {}).get("httpGet", {}).get("path") != p:
            problems.append(f"{name}: {probe} does not ask {p}")
    sc = c["securityContext"]
    if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
            and pod["securityContext"].get("runAsNonRoot") and pod["securityContext"].get("runAsUser", 0) > 0):
        problems.append(f"{name}: the pod is not non-root with a read-only root file system")
    if c["resources"] != {"requests": {"cpu": "500m", "memory": "384Mi"}, "limits": {"memory": "768Mi"}}:
        problems.append(f"{name}: resources {c['resources']}")
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    if "/var/lib/loket" not in mounts:
        problems.append(f"{name}: no data volume at /var/lib/loket")
    env_names.update(e["name"] for e in c["env"] if e["name"].startswith("LOKET__"))
    for e in c["env"]:
        if e["name"].endswith("_FILE"):
            if not any(e["value"].startswith(mp + "/") for mp in mounts):
                problems.append(f"{name}: {e['name']}={e['value']} lies in no mounted volume")
    vols = {v["name"]: v for v in pod["volumes"]}
    secrets = sorted(v["secret"]["secretName"] for v in vols.values() if "secret" in v)
    cron = by.get("CronJob", [])
    if cron:
        cc = cron[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
        if cc["args"][:2] != ["archive", "purge"]:
            problems.append(f"{name}: the CronJob runs {cc['args']}")
        if cc["env"] != c["env"]:
            problems.append(f"{name}: the CronJob's environment differs from the server's")
    print(f"  rendered ({name}): {', '.join(kinds)}; Secrets mounted: {', '.join(secrets) or 'none'}; "
          f"strategy {dep['spec'].get('strategy', {}).get('type', 'RollingUpdate')}")
for name, values in refused.items():
    try:
        with helm.Chart.load(path) as chart, quiet_go():
            chart.render(values, name="loket", namespace="gemeente")
        problems.append(f"the chart renders {name}, which it must refuse")
    except helm.HelmError as e:
        print(f"  refused, as it should: {name}: {str(e).strip().splitlines()[-1][:140]}")
with open(env_out, "w") as f:
    f.write("\n".join(sorted(env_names)) + "\n")
for p in problems:
    print(f"  {p}", file=sys.stderr)
if problems:
    sys.exit(1)
print("Helm chart (helm lint and render through Helm's Go SDK, Kubernetes 1.27 and 1.37 schemas): OK")
PY
  check_env_names "$tmp/chart-env-vars" "the rendered chart, default and production values" || status=1
fi

# --- --docker-steps -----------------------------------------------------------------------
if [ "$docker_steps" = 1 ]; then
  if scripts/docker-steps.sh "${steps_args[@]}"; then
    echo "Dockerfile steps (scripts/docker-steps.sh ${steps_args[*]}): OK"
  else
    echo "Dockerfile steps (scripts/docker-steps.sh ${steps_args[*]}): FAILED" >&2; status=1
  fi
fi
exit $status
