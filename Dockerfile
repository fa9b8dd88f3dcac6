# One image for all five services (and the idsync command): docker build --build-arg SERVICE=mapper -t idsync/mapper .
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.json ./
COPY libs ./libs
COPY services ./services
RUN npm ci --no-audit --no-fund --omit=optional && npx tsc -b tsconfig.build.json && npm prune --omit=dev

FROM node:24-bookworm-slim
ARG SERVICE
ENV NODE_ENV=production IDSYNC_SERVICE=${SERVICE} IDSYNC_CONFIG=/etc/idsync/config.yaml
WORKDIR /app
COPY --from=build /app /app
# The operations toolbox in every image, run as a Job with the idsync-cli Secret (k8s/ops/)
RUN ln -s /app/services/cli/bin/idsync /usr/local/bin/idsync
# A numeric non-root user (the base image's `node`, uid/gid 1000), so Kubernetes can check runAsNonRoot; the pods
# (k8s/) and compose run it as 1000:1000 with a read-only root file system: only /tmp is written (an emptyDir/tmpfs).
USER 1000:1000
CMD ["sh", "-c", "exec node services/${IDSYNC_SERVICE}/dist/main.js"]
