// GET /ready and /live: the probe endpoints, one definition shared by the admin server and the health server.

import { sendText } from './admin-response';
import type { AdminEndpoint } from './admin-server';

/**
 * `/ready` answers 200 `LIVE` once `isReady()` (first complete config applied, listeners bound, not draining),
 * else 503 `PRE_INITIALIZING`, as Envoy's admin /ready; `/live` answers 200 while the process runs. `readyPaths`
 * serves the same readiness under more paths (Istio's `/healthz/ready` on 15021).
 */
export function probeEndpoints(isReady: () => boolean, readyPaths: readonly string[] = ['/ready']): AdminEndpoint[] {
  const handle: AdminEndpoint['handle'] = (_req, res) => {
    const ready = isReady();
    sendText(res, ready ? 200 : 503, ready ? 'LIVE\n' : 'PRE_INITIALIZING\n');
  };
  return [
    ...readyPaths.map((path): AdminEndpoint => ({ path, method: 'GET', help: '200 once the first complete config is applied, 503 before and while draining', handle })),
    { path: '/live', method: 'GET', help: '200 while the process runs', handle: (_req, res) => sendText(res, 200, 'LIVE\n') },
  ];
}
