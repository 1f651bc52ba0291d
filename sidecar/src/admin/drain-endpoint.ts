// POST /drain: starts the graceful drain SIGTERM does (/ready answers 503, listeners stop accepting), Envoy's
// /drain_listeners?graceful; `?timeout=SECONDS` bounds how long in-flight requests may take.

import { sendText } from './admin-response';
import type { AdminEndpoint } from './admin-server';

/** `drain` is the sidecar's drain; the response is sent at once, before the drain completes. */
export function drainEndpoint(drain: (timeoutMs: number) => Promise<void>, defaultTimeoutMs = 5000): AdminEndpoint {
  return {
    path: '/drain',
    method: 'POST',
    help: 'drain listeners gracefully (?timeout=SECONDS); /ready then answers 503',
    handle(_req, res, url) {
      const raw = url.searchParams.get('timeout');
      const seconds = raw === null ? defaultTimeoutMs / 1000 : Number(raw);
      if (!Number.isFinite(seconds) || seconds < 0) {
        sendText(res, 400, `timeout must be a number of seconds >= 0, got "${raw}"\n`);
        return;
      }
      void drain(seconds * 1000).catch(() => undefined);
      sendText(res, 202, `draining (timeout ${seconds}s)\n`);
    },
  };
}
