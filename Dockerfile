# syntax=docker/dockerfile:1
# Container images of cloudaware_exporter, built from Debian 12 packages only.
#
#   docker build -t cloudaware_exporter .                         # the exporter (the default target)
#   docker build --target simulator -t cloudaware_cmdb_simulator . # the fake CMDB, for docker-compose.yml
#
# The exporter image runs as uid 65532 and reads
# /etc/cloudaware_exporter/config.yml: by default the shipped example
# (deploy/examples/cloudaware_exporter.yml), which takes CLOUDAWARE_URL,
# CLOUDAWARE_CLIENT_ID and CLOUDAWARE_CLIENT_SECRET_FILE from the environment.
# Mount your own config over it, and the client secret as a file.

# Both binaries in one stage: a single configure, and the layers they share
# compiled once. The tests are off, so no test packages are needed.
FROM debian:bookworm AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN deploy/install-deps.sh --build && rm -rf /var/lib/apt/lists/*
COPY . .
# The context has no .git: the revision comes as a build argument,
#   --build-arg CLOUDAWARE_REVISION=$(git rev-parse --short=12 HEAD)
ARG CLOUDAWARE_REVISION=
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DCLOUDAWARE_BUILD_TESTS=OFF \
      -DCLOUDAWARE_REVISION="$CLOUDAWARE_REVISION" \
 && cmake --build /build -j "$(nproc)" --target cloudaware_exporter cmdb_simulator \
 && strip /build/exporter/cloudaware_exporter /build/simulator/cmdb_simulator

# What the binaries need at run time, and nothing else: no compiler, no curl.
FROM debian:bookworm-slim AS runtime
RUN --mount=type=bind,source=deploy/install-deps.sh,target=/tmp/install-deps.sh \
    /tmp/install-deps.sh --runtime \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 65532 cloudaware \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin cloudaware

# The fake CMDB API for docker-compose.yml. Plain HTTP unless --tls-cert and
# --tls-key are given.
FROM runtime AS simulator
COPY --from=build /build/simulator/cmdb_simulator /usr/local/bin/cmdb_simulator
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/cmdb_simulator"]
CMD ["--listen=0.0.0.0:8443"]

# The exporter: the last stage, so the default target.
FROM runtime AS exporter
ARG CLOUDAWARE_REVISION=
LABEL org.opencontainers.image.title="cloudaware_exporter" \
      org.opencontainers.image.description="Prometheus exporter for the Cloudaware CMDB" \
      org.opencontainers.image.revision="${CLOUDAWARE_REVISION:-unknown}"
COPY --from=build /build/exporter/cloudaware_exporter /usr/local/bin/cloudaware_exporter
COPY deploy/examples/cloudaware_exporter.yml /etc/cloudaware_exporter/config.yml
# Its queries: the packs, which config.yml pulls in relative to itself.
COPY deploy/examples/packs/ /etc/cloudaware_exporter/packs/
# Opt-in: ownership info metrics, once the tag fields match the org's.
COPY deploy/examples/ownership/ /etc/cloudaware_exporter/ownership/
USER 65532:65532
EXPOSE 9866
# The image has no curl: bash (essential in Debian) sends the request through
# /dev/tcp and checks the status code. It assumes plain HTTP on port 9866:
# with --web.listen-address on another port, override the health check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9866 && printf 'GET /-/healthy HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && read -r -t 4 _ code _ <&3 && [ \"$code\" = 200 ]"]
# The last --config.file given wins, so arguments can still name another file.
ENTRYPOINT ["/usr/local/bin/cloudaware_exporter", "--config.file=/etc/cloudaware_exporter/config.yml"]
