# syntax=docker/dockerfile:1
# The samcell program in a container image, for clusters and workflow engines.
#
#   docker build -t samcell:0.1.0 .
#   docker run --rm -v "$PWD:/data" samcell:0.1.0 segment images/ --output results/
#   apptainer build samcell.sif docker-daemon://samcell:0.1.0    # for Apptainer/Singularity
#
# The image runs as the unprivileged user `samcell` (uid 1000) in /data, with `samcell` as the
# entry point. Named models (--model generalist, cyto) are looked up in and downloaded to
# /models: mount a folder there to keep them between runs (-v "$HOME/.cache/samcell:/models").
# The built-in samcell-lite model needs no download.

# Build stage: the Rust toolchain the project is built and tested with (the workspace's
# rust-version, the oldest that builds Cargo.lock, is 1.89).
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The whole workspace's manifests (cargo reads every member's), the crates, and the samcell-lite
# weights that the build embeds (models/, checked against their SHA-256 by the build).
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
COPY python/Cargo.toml ./python/
COPY python/src ./python/src
COPY models ./models
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p samcell-cli \
    && install -D -m 0755 target/release/samcell /out/samcell

# Runtime: Debian of the same release as the build stage (same glibc), CA certificates for the
# model downloads, nothing else.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 --user-group --shell /usr/sbin/nologin samcell \
    && install -d -o samcell -g samcell /data /models
COPY --from=build /out/samcell /usr/local/bin/samcell
ENV SAMCELL_MODEL_DIR=/models
USER 1000:1000
WORKDIR /data
ENTRYPOINT ["samcell"]
CMD ["--help"]
