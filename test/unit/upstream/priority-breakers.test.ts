// Circuit breakers per routing priority: DEFAULT and HIGH thresholds are separate resources (specs §4.1).

import * as assert from 'node:assert/strict';
import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS } from '../../../sidecar/src/config/cluster-config';
import { ClusterManager } from '../../../sidecar/src/upstream/cluster-manager';
import { snapshot, staticCluster } from './upstream-fixtures';

describe('upstream: circuit breakers per routing priority', () => {
  it('HIGH has its own thresholds and counters, updated in place with the config', () => {
    const manager = new ClusterManager();
    const breakers = (high: number) => ({
      default: { ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, maxRequests: 1 },
      high: { ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, maxRequests: high, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } },
      perHostMaxConnections: { default: null, high: null },
    });
    manager.apply(snapshot([staticCluster('c', [{ host: '10.0.0.1', port: 80 }], { circuitBreakers: breakers(2) })]));
    const c = manager.get('c')!;
    assert.equal(c.breakerFor('DEFAULT').tryAcquireRequest(), true);
    assert.equal(c.breakerFor('DEFAULT').tryAcquireRequest(), false, 'DEFAULT max_requests 1');
    const high = c.breakerFor('HIGH');
    assert.equal(high.tryAcquireRequest(), true);
    assert.equal(high.tryAcquireRequest(), true);
    assert.equal(high.tryAcquireRequest(), false, 'HIGH max_requests 2, untouched by DEFAULT');
    assert.equal(high.maxRetries, 3, 'retry budget floor');
    manager.apply(snapshot([staticCluster('c', [{ host: '10.0.0.1', port: 80 }], { circuitBreakers: breakers(3) })]));
    assert.equal(c.breakerFor('HIGH'), high, 'same counters after an update');
    assert.equal(high.tryAcquireRequest(), true);
    void manager.close();
  });
});
