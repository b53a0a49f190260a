# syntax=docker/dockerfile:1
# riskscore: the scoring API in a slim, non-root image.
#   docker build -t riskscore .
#   docker run -p 8000:8000 -v $PWD/model:/srv/model:ro -v $PWD/data:/srv/data:ro \
#     -v riskscore-journal:/var/lib/riskscore -e RISKSCORE_API_KEYS=... riskscore
# See docs/deploy.md.

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      clang libclang-dev protobuf-compiler libprotobuf-dev python3-venv build-essential \
    && rm -rf /var/lib/apt/lists/*
# The packages of `scripts/setup --build` (protobuf-compiler: the Spark Connect client's build
# script compiles its protocol). LightGBM 4.7 needs CMake >= 3.28 (bookworm has 3.25): the same
# pinned CMake as scripts/setup, at the path .cargo/config.toml gives cargo.
WORKDIR /src
COPY scripts/requirements-build.txt scripts/
RUN python3 -m venv .venv && .venv/bin/pip install --no-cache-dir -r scripts/requirements-build.txt
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY crates crates
RUN cargo build --release --locked --bin riskscore \
    && strip target/release/riskscore

FROM debian:bookworm-slim
# libgomp1: LightGBM's OpenMP runtime. No compiler, no Python in the runtime image.
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/riskscore --create-home riskscore
COPY --from=build /src/target/release/riskscore /usr/local/bin/riskscore
USER riskscore
WORKDIR /var/lib/riskscore
ENV PORT=8000 \
    RISKSCORE_HOST=0.0.0.0 \
    RISKSCORE_MODEL=/srv/model \
    RISKSCORE_DATA=/srv/data \
    RISKSCORE_JOURNAL=/var/lib/riskscore/journal.sqlite
EXPOSE 8000
VOLUME ["/var/lib/riskscore"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD bash -c 'exec 3<>/dev/tcp/127.0.0.1/${PORT} && printf "GET /healthz HTTP/1.0\r\n\r\n" >&3 && head -1 <&3 | grep -q " 200 "'
# SIGTERM stops accepting, finishes requests in flight (their decisions are journaled), exits.
STOPSIGNAL SIGTERM
CMD ["riskscore", "serve"]
