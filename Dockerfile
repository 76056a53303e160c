# One image for the worker and the API (the command picks which). Production mode refuses
# sandboxes and requires real credentials (see README, Configuration).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production LETHE_MODE=production
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
USER node
CMD ["node", "--import", "tsx", "worker/main.ts"]
