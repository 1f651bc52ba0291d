import * as assert from 'node:assert/strict';
import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS } from '../../../sidecar/src/config/cluster-config';
import { CircuitBreaker } from '../../../sidecar/src/upstream/circuit-breaker';

describe('CircuitBreaker (specs/load-balancing.md §4.1)', () => {
  it('defaults 1024/1024/1024/3', () => {
    const b = new CircuitBreaker();
    for (let i = 0; i < 1024; i++) assert.ok(b.tryAcquireRequest());
    assert.equal(b.tryAcquireRequest(), false);
    assert.equal(b.stats.requestOverflow, 1);
    for (let i = 0; i < 3; i++) assert.ok(b.tryAcquireRetry());
    assert.equal(b.tryAcquireRetry(), false);
    assert.equal(b.stats.retryOverflow, 1);
    b.releaseRetry();
    assert.ok(b.tryAcquireRetry());
  });

  it('counts requests, pending and connections against their limits, release frees a unit', () => {
    const b = new CircuitBreaker({ ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, maxRequests: 2, maxPendingRequests: 1, maxConnections: 1 });
    assert.ok(b.tryAcquireRequest());
    assert.ok(b.tryAcquireRequest());
    assert.equal(b.tryAcquireRequest(), false);
    b.releaseRequest();
    assert.ok(b.tryAcquireRequest());
    assert.ok(b.tryAcquirePending());
    assert.equal(b.tryAcquirePending(), false);
    b.releasePending();
    b.releasePending(); // never below zero
    assert.equal(b.pending, 0);
    assert.ok(b.tryAcquireConnection());
    assert.equal(b.tryAcquireConnection(), false);
    assert.deepEqual(b.stats, { requestOverflow: 1, pendingOverflow: 1, retryOverflow: 0, connectionOverflow: 1 });
  });

  it('a retry budget replaces max_retries: max(20% of (active + pending), 3) (§7.6)', () => {
    const b = new CircuitBreaker({ ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
    for (let i = 0; i < 40; i++) b.tryAcquireRequest();
    for (let i = 0; i < 10; i++) b.tryAcquirePending();
    assert.equal(b.maxRetries, 10);
    const small = new CircuitBreaker({ ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, retryBudget: { budgetPercent: 20, minRetryConcurrency: 3 } });
    for (let i = 0; i < 5; i++) small.tryAcquireRequest();
    assert.equal(small.maxRetries, 3);
  });

  it('update() swaps thresholds and keeps the counts', () => {
    const b = new CircuitBreaker({ ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, maxRequests: 1 });
    assert.ok(b.tryAcquireRequest());
    b.update({ ...DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, maxRequests: 2 });
    assert.equal(b.requests, 1);
    assert.ok(b.tryAcquireRequest());
    assert.equal(b.tryAcquireRequest(), false);
  });
});
