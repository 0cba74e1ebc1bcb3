# mend's worker and API image (docker-compose.yml runs it twice: the worker by default, the API
# with `node --require ./bin/ts-hook.js api/main.ts`). TypeScript is compiled as it loads by bin/ts-hook.js
# (esbuild, a runtime dependency), its compile cache in the container's /tmp.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first, so the layer is reused while package*.json are unchanged.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

COPY tsconfig.json mend.config.yaml ./
COPY workflows ./workflows
COPY activities ./activities
COPY domain ./domain
COPY workers ./workers
COPY client ./client
COPY api ./api
COPY cli ./cli
COPY core ./core
COPY demo ./demo
COPY bin ./bin
COPY kit ./kit
COPY runbooks ./runbooks

# MEND_HOME lives on a volume at /var/lib/mend, owned by the unprivileged user so a fresh named
# volume starts writable. The demo config keeps its state under .mend/ next to itself: point that
# there too.
RUN mkdir -p /var/lib/mend \
  && chown node:node /var/lib/mend \
  && ln -s /var/lib/mend /app/.mend

USER node

CMD ["node", "--require", "./bin/ts-hook.js", "workers/main.ts"]
