# One image for the worker, the API and the codec server (the command picks which). It holds
# compiled JavaScript and production dependencies only: .dockerignore keeps local state
# (.lethe/: the embedded stack's token and keys), tests, benches and dev tooling out.
# Production mode refuses sandboxes and requires real credentials (see docs/configuration.md).
# Node 24 LTS (package.json engines).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json
# The workflow bundle is built here, once, so the worker never runs webpack in production: its
# peak would stay in the worker's memory high-water mark for good (worker/bundle.ts).
RUN node dist/worker/bundle.js dist/workflow-bundle.js

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production LETHE_MODE=production LETHE_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
# The worker deployment's build id (docs/releasing.md), e.g.
#   docker build --build-arg LETHE_BUILD_ID="$(node -p 'require("./package.json").version')-$(git rev-parse --short HEAD)" .
# Without it the worker names its version after the package version and the bundle's digest.
ARG LETHE_BUILD_ID=
ENV LETHE_BUILD_ID=${LETHE_BUILD_ID}
# Two malloc arenas and small V8 semi-spaces bound the worker's memory (worker/process.ts).
ENV MALLOC_ARENA_MAX=2
COPY package.json package-lock.json ./
# The image's own Node 24 runs the product; the Node 24 that npm installs for development
# (node-linux-* in optionalDependencies, for machines whose system Node is older) is a second
# runtime the image would carry unused and unpatched by image updates.
RUN npm ci --omit=dev --no-audit --no-fund && rm -rf node_modules/node-linux-* node_modules/.bin/node
COPY --from=build /app/dist ./dist
COPY bin ./bin
USER node
CMD ["node", "--max-semi-space-size=2", "--heap-growing-percent=50", "dist/worker/main.js"]
