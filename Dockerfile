# Troupe engine image: built on Debian 12 from the repository.
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config libcaf-dev librdkafka-dev libpqxx-dev \
      libmicrohttpd-dev libcpp-httplib-dev nlohmann-json3-dev libspdlog-dev libcli11-dev prometheus-cpp-dev libjemalloc-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    && cmake --build build -j"$(nproc)" --target troupe-node troupe-load

FROM debian:12
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libcaf-core0.17 libcaf-io0.17 librdkafka1 libpqxx-6.4 libmicrohttpd12 libcpp-httplib0.11 \
      libspdlog1.10 libprometheus-cpp-core1.0 libjemalloc2 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/apps/troupe-node/troupe-node /usr/local/bin/
COPY --from=build /src/build/apps/troupe-load/troupe-load /usr/local/bin/
COPY config/ /etc/troupe/
RUN useradd --system --no-create-home --uid 10001 troupe
USER troupe
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=2s CMD curl -fs http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["troupe-node"]
CMD ["--config-file=/etc/troupe/node.ini"]
