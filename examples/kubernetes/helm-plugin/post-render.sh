#!/bin/sh
# Helm post-renderer: rendered manifests on stdin, injected manifests on stdout (Helm 3: --post-renderer PATH/post-render.sh).
set -e
if [ -n "${MESHLET_INJECT_CONFIG:-}" ]; then
  exec meshlet inject -f - --config "$MESHLET_INJECT_CONFIG" --namespace "${HELM_NAMESPACE:-default}"
fi
exec meshlet inject -f - --namespace "${HELM_NAMESPACE:-default}"
