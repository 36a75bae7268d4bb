# Baton image: one image for every role (BATON_ROLE=all|api|worker) and for the CLI (db:migrate before new code).
# Multi-stage: the build stage compiles TypeScript with the dev dependencies; the runtime stage holds the compiled
# dist/ and production dependencies only, and runs as the unprivileged `node` user.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LOG_FORMAT=json \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# projectRoot() finds the repository root by package.json + nest-cli.json; definitions and seeds read from it.
COPY nest-cli.json ./
COPY seeds ./seeds
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# API roles: /ready (database, migrations, event tail, worker loop). Worker-only processes serve no HTTP API:
# they are probed on their metrics listener (set BATON_METRICS_PORT).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "const w=process.env.BATON_ROLE==='worker';const u='http://127.0.0.1:'+(w?process.env.BATON_METRICS_PORT:process.env.PORT)+(w?'/metrics':'/ready');fetch(u).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/apps/api/src/main.js"]
