# Onyx model server image: `docker build -t onyx .` then
#   docker run --rm -p 8000:8000 -p 8001:8001 onyx                        # serves the bundled Examples/models
#   docker run --rm -p 8000:8000 -v $PWD/models:/models onyx --model-repository /models
# Everything after the image name is passed to `onyx serve`.

# ---- build stage: the Swift toolchain image ----
ARG SWIFT_VERSION=6.3
FROM swift:${SWIFT_VERSION}-noble AS build
WORKDIR /src
COPY Package.swift Package.resolve[d] ./
COPY Sources ./Sources
COPY proto ./proto
COPY Examples ./Examples
# The Swift runtime and Foundation are linked statically, so the runtime stage needs no toolchain.
RUN swift build -c release --product onyx --static-swift-stdlib \
 && install -D "$(swift build -c release --show-bin-path)/onyx" /out/onyx

# ---- runtime stage: slim OS image, non-root user ----
FROM ubuntu:24.04
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libstdc++6 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --create-home --home-dir /home/onyx onyx
COPY --from=build /out/onyx /usr/local/bin/onyx
COPY --chown=onyx:onyx Examples/models /opt/onyx/models
USER 10001:10001
WORKDIR /opt/onyx
# 8000 = HTTP (KServe v2 REST, web page, /metrics), 8001 = gRPC (inference.GRPCInferenceService)
EXPOSE 8000 8001
HEALTHCHECK --interval=10s --timeout=3s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8000"]
ENTRYPOINT ["/usr/local/bin/onyx", "serve", "--host", "0.0.0.0", "--http-port", "8000", "--grpc-port", "8001"]
CMD ["--model-repository", "/opt/onyx/models"]
