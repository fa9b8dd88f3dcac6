# One image per service, each with the idsync command: docker build --build-arg SERVICE=mapper -t idsync/mapper .
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY libs ./libs
COPY services ./services
RUN npm ci --no-audit --no-fund --omit=optional && npx tsc -b tsconfig.build.json

# Only what the image runs: the production dependencies of services/${SERVICE} and of the idsync command
# (services/${TOOLBOX}; --build-arg TOOLBOX= leaves it out), their workspace libraries included, as each workspace's
# package.json declares them. scripts/check-image-deps.sh <service> does the same outside a container engine.
FROM node:24-bookworm-slim AS install
ARG SERVICE
ARG TOOLBOX=cli
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/libs ./libs
COPY --from=build /app/services ./services
COPY scripts/image-install.sh /tmp/image-install.sh
RUN sh /tmp/image-install.sh "${SERVICE}" "${TOOLBOX}"

FROM node:24-bookworm-slim
ARG SERVICE
ENV NODE_ENV=production IDSYNC_SERVICE=${SERVICE} IDSYNC_CONFIG=/etc/idsync/config.yaml
# V8's heap sized for the services' containers (512 MiB, k8s/services.yaml), not for the host: an old generation of at
# most 384 MiB (V8 otherwise takes a quarter of the container's memory, 128 MiB, too little for an AD detector catching
# up on a large DirSync page; and grows the heap more lazily the larger the limit), and a young generation of 8 MiB
# semi-spaces (V8 sizes them from the heap limit: 64 MiB each on a 24 GB host, 128 MiB of RSS for garbage). Change it
# with the memory limit: README, Memory.
ENV NODE_OPTIONS="--max-old-space-size=384 --max-semi-space-size=8"
# jemalloc instead of glibc's malloc, its background thread giving back freed memory after a second: glibc keeps the
# Buffers of a spike (a DirSync page, a burst of fetches) in its heap for good, fragmented around the few that live on
# (README, Memory). Debian's package; the link gives it one path on every architecture.
RUN apt-get update && apt-get install -y --no-install-recommends libjemalloc2 && rm -rf /var/lib/apt/lists/* \
  && ln -s "$(dpkg -L libjemalloc2 | grep '/libjemalloc\.so\.2$')" /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD="/usr/local/lib/libjemalloc.so.2"
ENV MALLOC_CONF="background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
WORKDIR /app
COPY --from=install /app /app
# The operations toolbox in every image (unless built without it), run as a Job with the idsync-cli Secret (k8s/ops/)
RUN if [ -d /app/services/cli ]; then ln -s /app/services/cli/bin/idsync /usr/local/bin/idsync; fi
# A numeric non-root user (the base image's `node`, uid/gid 1000), so Kubernetes can check runAsNonRoot; the pods
# (k8s/) and compose run it as 1000:1000 with a read-only root file system: only /tmp is written (an emptyDir/tmpfs).
USER 1000:1000
CMD ["sh", "-c", "exec node services/${IDSYNC_SERVICE}/dist/main.js"]
