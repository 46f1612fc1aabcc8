# ccbridge container image.
#
#   docker build -t ccbridge .
#   docker run -d --name ccbridge -p 127.0.0.1:8080:8080 -v ccbridge-data:/data \
#       --stop-timeout 90 \
#       -e CCBRIDGE__SERVER__PUBLIC_URL=https://forms.example.org \
#       -e CCBRIDGE__CONSTANT_CONTACT__CLIENT_ID \
#       -e CCBRIDGE__CONSTANT_CONTACT__CLIENT_SECRET \
#       -e CCBRIDGE__ADMIN__PASSWORD_HASH \
#       -e CCBRIDGE__SECURITY__TOKEN_ENCRYPTION_KEY \
#       -e CCBRIDGE__FORMS__0__ID=newsletter \
#       -e CCBRIDGE__FORMS__0__LIST_IDS='["07936f78-662a-11eb-af0a-fa163e56c9b0"]' \
#       -e CCBRIDGE__FORMS__0__ALLOWED_ORIGINS='["https://www.example.org"]' \
#       ccbridge
#
# `-e NAME` without a value passes the secret on from your shell's environment. Make the password
# hash with `docker run --rm -it ccbridge hash-password` and the key with `openssl rand -base64 32`;
# the client id and secret come from the application registered at Constant Contact. The README's
# "Put it on your site" does the same with Docker Compose; `docker run --rm ccbridge check-config
# --strict` (with the same -e options) says what is still missing.
#
# The SQLite database lives in the /data volume (writable by uid 10001). A config file is read
# from /data/ccbridge.toml (the working directory) if present, or from wherever $CCBRIDGE_CONFIG
# points; every key can also be set with CCBRIDGE__<SECTION>__<KEY> variables (see
# config.example.toml). On `docker stop` ccbridge may need up to 85 s to finish in-flight requests
# and deliveries and to commit a token refresh (server.shutdown_grace, 20 s, plus the refresh
# lease): give the container 90 s (--stop-timeout 90, Compose stop_grace_period: 90s) instead of
# Docker's default 10 s.

# ---- build ----------------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder

WORKDIR /build

# Dependencies first, against placeholder sources, so that this layer is reused as long as the
# manifests and Cargo.lock do not change. The workspace is the app at the root plus the crates in
# crates/ (the clock and the Constant Contact sandbox, which `ccbridge demo` and `ccbridge sandbox`
# run): cargo needs every member's manifest, and a file for every target a manifest declares (the
# benchmark too, although `cargo build` does not compile it), before it reads the workspace at all.
COPY Cargo.toml Cargo.lock ./
COPY crates/clock/Cargo.toml crates/clock/
COPY crates/sandbox/Cargo.toml crates/sandbox/
RUN mkdir -p src benches crates/clock/src crates/sandbox/src \
    && echo 'fn main() {}' > src/main.rs \
    && echo 'fn main() {}' > benches/load.rs \
    && touch src/lib.rs crates/clock/src/lib.rs crates/sandbox/src/lib.rs \
    && cargo build --release --locked \
    && rm -rf src benches crates/clock/src crates/sandbox/src

# The real sources. `migrations/` is embedded at compile time by `sqlx::migrate!`.
# Touching every member's entry points makes them newer than the placeholder build, so cargo
# rebuilds each workspace crate instead of reusing its empty placeholder.
COPY src ./src
COPY crates ./crates
COPY benches ./benches
COPY migrations ./migrations
RUN touch src/main.rs src/lib.rs crates/clock/src/lib.rs crates/sandbox/src/lib.rs \
    && cargo build --release --locked \
    && cp target/release/ccbridge /usr/local/bin/ccbridge

# ---- runtime --------------------------------------------------------------------------------------
FROM debian:bookworm-slim

# DL3008 (pin apt package versions) is ignored on purpose: ca-certificates should track the current
# trust store, and pinning its Debian revision would only make the build fail when bookworm publishes
# an update. The base image tag pins the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# A fixed, non-root UID/GID so that volume permissions are predictable across image rebuilds.
RUN groupadd --system --gid 10001 ccbridge \
    && useradd --system --uid 10001 --gid ccbridge --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin ccbridge \
    && mkdir /data \
    && chown ccbridge:ccbridge /data

COPY --from=builder /usr/local/bin/ccbridge /usr/local/bin/ccbridge

ENV CCBRIDGE__DATABASE__URL=sqlite:///data/ccbridge.db \
    CCBRIDGE__SERVER__LISTEN=0.0.0.0:8080

WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080

# `ccbridge healthcheck` GETs http://127.0.0.1:<configured port>/healthz (the image has no curl).
HEALTHCHECK --interval=30s --timeout=10s --start-period=15s --retries=3 \
    CMD ["ccbridge", "healthcheck"]

ENTRYPOINT ["ccbridge"]
CMD ["serve"]
