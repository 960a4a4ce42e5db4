# spotguard: both daemons in one small image.
#
#   docker build -t ghcr.io/spotguard/spotguard:0.1.0 .
#   (the manifests refer to this image; the DaemonSet runs spotguard-agent, the Deployment
#    spotguard-extender)
#
# The build stage compiles both daemons. BINARIES=prebuilt takes them instead from the build
# context "host-bin", a directory holding stripped spotguard-agent and spotguard-extender built
# on Debian bookworm with scripts/deps.sh's packages (scripts/build-image.sh passes the host
# build's, so make test compiles once), and skips the build stage:
#   docker build --build-arg BINARIES=prebuilt --build-context host-bin=DIR -t ... .
ARG BINARIES=build

# Build stage: Debian's packages, exactly as scripts/deps.sh installs them for development.
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ca-certificates \
      libabsl-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler \
      libcpp-httplib-dev prometheus-cpp-dev nlohmann-json3-dev libsimdjson-dev libyaml-cpp-dev \
      libssl-dev zlib1g-dev libbrotli-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Unset: ninja's default parallelism.
ARG CMAKE_BUILD_PARALLEL_LEVEL
COPY CMakeLists.txt ./
COPY proto proto
COPY common common
COPY node-agent node-agent
COPY extender extender
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DSPOTGUARD_BUILD_TESTS=OFF -DSPOTGUARD_BUILD_BENCH=OFF \
 && cmake --build /build --target spotguard-agent spotguard-extender \
 && strip /build/bin/spotguard-agent /build/bin/spotguard-extender

FROM scratch AS prebuilt
COPY --from=host-bin spotguard-agent spotguard-extender /build/bin/

FROM ${BINARIES} AS binaries

# Runtime stage: the shared libraries the binaries link, nothing else; no shell tools needed.
FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libgrpc++1.51 libprotobuf32 libcpp-httplib0.11 libprometheus-cpp-core1.0 \
      libsimdjson14 libyaml-cpp0.7 libssl3 zlib1g libbrotli1 \
      libabsl20220623 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=binaries /build/bin/spotguard-agent /build/bin/spotguard-extender /usr/local/bin/
# Non-root (the DaemonSet needs hostNetwork, not root).
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/spotguard-extender"]
