# Tenantry's production image. Build: docker build -t tenantry .
# Run:   docker run -e DATABASE_URL=postgres://… -e CC_ADMIN_TOKEN=… -p 8000:8000 tenantry
# test/deploy/deploy-files.test.ts checks its commands against package.json and the README.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Every dependency: the build needs TypeScript and the web app's tools.
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# tini forwards SIGTERM to Node and reaps children, so `docker stop` drains requests gracefully;
# postgresql-client-15 gives the backup commands their pg_dump/pg_restore.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini postgresql-client-15 \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=8000 HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The web app, built by Vite; served under /app/ (src/http/web-app.ts).
COPY --from=build /app/web/dist ./web/dist
# Never root: the image's own unprivileged user.
USER node
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/src/server.js"]
