// GET /config_dump: bootstrap, per-resource xDS status and the active config as JSON (Envoy's admin endpoint).

import { sendJson } from './admin-response';
import type { AdminEndpoint } from './admin-server';

/** `dump` builds the document per request (admin only: it lists every route, cluster and endpoint). */
export function configDumpEndpoint(dump: () => unknown): AdminEndpoint {
  return {
    path: '/config_dump',
    method: 'GET',
    help: 'bootstrap, xDS resource status and active config as JSON',
    handle: (_req, res) => sendJson(res, 200, dump()),
  };
}
