import * as assert from 'node:assert/strict';
import type { RetryPolicyConfig } from '../../../sidecar/src/config/route-config';
import { compileRetryPolicy, RetryState, type AttemptOutcome } from '../../../sidecar/src/proxy/retry-state';

function policy(overrides: Partial<RetryPolicyConfig> = {}): RetryPolicyConfig {
  return {
    retryOn: ['5xx'],
    numRetries: 1,
    perTryTimeoutMs: null,
    perTryIdleTimeoutMs: null,
    retryBackOff: { baseIntervalMs: 25, maxIntervalMs: 250 },
    retriableStatusCodes: [],
    retriableHeaders: [],
    retriableRequestHeaders: [],
    retryHostPredicates: [],
    hostSelectionRetryMaxAttempts: 1,
    ...overrides,
  };
}

const response = (status: number, grpcStatus?: number): AttemptOutcome => ({ kind: 'response', status, grpcStatus });

describe('RetryState (Envoy retry_state_impl)', () => {
  it('back-off is random() % current with current 25, 50, 100, 200, then 250 ms (spec §7.6 vector)', () => {
    const state = new RetryState(compileRetryPolicy(policy({ numRetries: 10 })), {}, () => 999);
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => state.nextBackoffMs()), [24, 49, 99, 199, 249, 249]);
  });

  it('num_retries defaults to one retry, and x-envoy-max-retries overrides it when retry_on is set', () => {
    const one = new RetryState(compileRetryPolicy(policy()), {});
    assert.equal(one.takeRetry(response(503)), true);
    assert.equal(one.takeRetry(response(503)), false);
    const three = new RetryState(compileRetryPolicy(policy()), { maxRetries: '3' });
    assert.equal(three.remaining, 3);
    const none = new RetryState(compileRetryPolicy(policy({ retryOn: [] })), { maxRetries: '3' });
    assert.equal(none.remaining, 0, 'no retry_on: the header does not turn retries on');
  });

  const table: Array<[string[], AttemptOutcome, boolean]> = [
    [['5xx'], response(500), true],
    [['5xx'], response(404), false],
    [['5xx'], { kind: 'connect_failure' }, true],
    [['5xx'], { kind: 'reset', beforeRequestSent: false }, true],
    [['5xx'], { kind: 'per_try_timeout' }, true],
    [['5xx'], { kind: 'overflow' }, false],
    [['gateway-error'], response(500), false],
    [['gateway-error'], response(502), true],
    [['gateway-error'], response(504), true],
    [['connect-failure'], { kind: 'connect_failure' }, true],
    [['connect-failure'], response(503), false],
    [['connect-failure'], { kind: 'reset', beforeRequestSent: false }, false],
    [['reset'], { kind: 'reset', beforeRequestSent: false }, true],
    [['reset-before-request'], { kind: 'reset', beforeRequestSent: true }, true],
    [['reset-before-request'], { kind: 'reset', beforeRequestSent: false }, false],
    [['refused-stream'], { kind: 'refused_stream' }, true],
    [['retriable-4xx'], response(409), true],
    [['retriable-4xx'], response(408), false],
    [['unavailable'], response(200, 14), true],
    [['unavailable'], response(200, 13), false],
    [['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted'], response(200, 8), true],
    [['unknown-token'], response(503), false],
  ];
  for (const [retryOn, outcome, expected] of table) {
    it(`retry_on ${retryOn.join(',')}: ${JSON.stringify(outcome)} -> ${expected ? 'retry' : 'no retry'}`, () => {
      const state = new RetryState(compileRetryPolicy(policy({ retryOn, numRetries: 5 })), {});
      assert.equal(state.wouldRetry(outcome), expected);
    });
  }

  it('retriable-status-codes from config and from x-envoy-retriable-status-codes', () => {
    const state = new RetryState(compileRetryPolicy(policy({ retryOn: ['retriable-status-codes'], retriableStatusCodes: [418] })), { retriableStatusCodes: '429, 451' });
    assert.equal(state.wouldRetry(response(418)), true);
    assert.equal(state.wouldRetry(response(429)), true);
    assert.equal(state.wouldRetry(response(500)), false);
  });

  it('x-envoy-retry-on and x-envoy-retry-grpc-on widen the policy', () => {
    const state = new RetryState(compileRetryPolicy(policy({ retryOn: [] })), { retryOn: 'gateway-error', grpcRetryOn: 'unavailable', maxRetries: '2' });
    assert.equal(state.wouldRetry(response(503)), true);
    assert.equal(state.wouldRetry(response(200, 14)), true);
    assert.equal(state.remaining, 2);
  });
});
