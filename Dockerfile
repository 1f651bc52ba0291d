# syntax=docker/dockerfile:1
# The meshlet image: the proxy (`meshlet run`), the iptables init (`meshlet iptables`) and the injector
# (`meshlet injector`), as charts/meshlet expects (image ghcr.io/meshlet/meshlet:<appVersion>, `meshlet` on PATH,
# proxy UID/GID 1337). Not built in CI (no Docker engine there); checked by reading.

# ---- build: TypeScript and the SO_ORIGINAL_DST addon (needs a compiler and Node's headers)
FROM node:20-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The repository's .npmrc points nodedir at Debian's /usr; the official image has Node's headers under /usr/local.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json .npmrc binding.gyp ./
COPY sidecar/native sidecar/native
RUN npm ci --no-audit --no-fund --ignore-scripts \
 && npx --no-install node-gyp rebuild
COPY tsconfig.json ./
COPY sidecar sidecar
COPY xds-protos xds-protos
COPY examples examples
COPY test test
COPY bench bench
RUN npx --no-install tsc -p . \
 && npm prune --omit=dev --ignore-scripts

# ---- runtime: Node 20 slim + iptables (nft and legacy backends), non-root proxy user 1337
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1337 meshlet \
 && useradd --uid 1337 --gid 1337 --no-create-home --shell /usr/sbin/nologin meshlet
WORKDIR /opt/meshlet
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/build/Release/original_dst.node build/Release/original_dst.node
COPY --from=build /src/dist/sidecar dist/sidecar
COPY --from=build /src/dist/examples dist/examples
COPY --from=build /src/dist/xds-protos dist/xds-protos
COPY --from=build /src/xds-protos xds-protos
COPY --from=build /src/sidecar/bin sidecar/bin
RUN ln -s /opt/meshlet/sidecar/bin/meshlet.js /usr/local/bin/meshlet
# The proxy's UID: its own traffic is never captured. The init container overrides this with runAsUser 0.
USER 1337:1337
EXPOSE 15001 15006 15021 9443
ENTRYPOINT ["meshlet"]
CMD ["run"]
