# The tests' stand-in for the official node:<version>-trixie-slim, which cannot
# be pulled on the machines the tests run on (only package registries are
# reachable). hack/image/test-base.ts lays out the context: rootfs.tar (Debian
# trixie minbase, slimmed as Debian's official images are), the pinned Node
# binary, and npm at the version that Node release bundles. Never publish it,
# nor an image built on it: the label below marks them.
FROM scratch
ADD rootfs.tar /
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
# As in the official image: npm and npx beside node, and the node user.
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --shell /bin/bash --create-home --no-log-init node \
 && node --version && npm --version
ARG NODE_VERSION
ENV NODE_VERSION=${NODE_VERSION}
LABEL dev.cpa.test-base="a local stand-in for node:${NODE_VERSION}-trixie-slim, made by hack/image/test-base.ts; not for publishing"
CMD ["node"]
