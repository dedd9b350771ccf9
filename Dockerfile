# syntax=docker/dockerfile:1
# matrix-agent-bot: build with the toolchain sqlite3 may need, run as a non-root user with production
# dependencies only. The same image runs the bot (default) and the reference agent
# (`node dist/src/reference-agent/main.js`); the operator commands are `node dist/src/cli/<register|login|doctor>.js`.

# ---------------------------------------------------------------- build
FROM node:20-bookworm AS build
# sqlite3 (used by @keyv/sqlite) builds from source when no prebuilt binary fits.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The local crypto stand-in is a file: dependency, so it must be present before npm ci.
COPY package.json package-lock.json ./
COPY packages ./packages
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---------------------------------------------------------------- run
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HTTP_BIND=0.0.0.0:8080 \
    APPSERVICE_BIND=0.0.0.0:9999
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
# node_modules/@matrix-org/matrix-sdk-crypto-nodejs links to packages/: keep both.
COPY --from=build /app/packages ./packages
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# /data (state) and /appservice (the registration shared with Synapse) belong to the unprivileged user, so
# named volumes mounted there start out writable by it.
RUN mkdir -p /data /appservice \
 && chown node:node /data /appservice
USER node
VOLUME ["/data"]
EXPOSE 8080 9999
# Liveness: GET /healthz on the port of HTTP_BIND.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const p=(process.env.HTTP_BIND||'127.0.0.1:8080').split(':').pop();fetch('http://127.0.0.1:'+p+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/main.js"]
