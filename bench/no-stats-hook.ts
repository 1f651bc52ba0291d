// Preloaded (node -r) into the "observability off" meshlet of observability.bench.ts: turns the stats observer's
// per-request hooks into no-ops, since meshlet has no switch for it (the observer stays in the list: one empty call
// per hook remains).

import { ExchangeStats } from '../sidecar/src/observability/exchange-stats';

const noop = (): void => undefined;
for (const hook of ['exchangeStarted', 'attemptStarted', 'attemptEnded', 'exchangeEnded'] as const) {
  Object.defineProperty(ExchangeStats.prototype, hook, { value: noop, writable: true, configurable: true });
}
