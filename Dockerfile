# hookline: one image, every process (`registry`, `dispatcher`, `all`, `sidecar`, the CLI).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json cli.ts ./
COPY core core
COPY registry registry
COPY dispatcher dispatcher
COPY sidecar sidecar
COPY cli cli
COPY demo demo
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
USER node
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["all"]
