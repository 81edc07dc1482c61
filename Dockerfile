# servebench container image: the release binary on a small Debian base.
#
#   docker build -t servebench:latest .
#   docker run --rm servebench:latest --help
#
# Rust 1.85 is the crate's declared minimum (Cargo.toml, rust-version); the
# default below is the toolchain Cargo.lock is checked with. To build with
# another one: docker build --build-arg RUST_VERSION=1.85 -t servebench .
# The builder and the runtime are both Debian bookworm, so the binary's glibc
# matches the one it runs on.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
# The whole crate (see .dockerignore for what stays out): Cargo.toml names
# the bench targets, and the binary embeds templates/ and assets/.
COPY . .
# --locked: build exactly the dependency versions in Cargo.lock.
# The `onig` crate compiles its C library with the image's gcc; TLS is rustls,
# so no OpenSSL. The release profile keeps debug info (for profiling); it is
# stripped from the copy that goes into the image.
RUN cargo build --release --locked --bin servebench \
 && strip --strip-debug -o /usr/local/bin/servebench target/release/servebench \
 && /usr/local/bin/servebench --version

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# A fixed non-root uid/gid (10001), so that Kubernetes' runAsUser/fsGroup and
# a shared results volume can name it.
RUN groupadd --system --gid 10001 servebench \
 && useradd --system --uid 10001 --gid 10001 --create-home \
      --home-dir /home/servebench --shell /usr/sbin/nologin servebench
COPY --from=builder /usr/local/bin/servebench /usr/local/bin/servebench
USER 10001:10001
WORKDIR /home/servebench
ENTRYPOINT ["servebench"]
CMD ["--help"]
