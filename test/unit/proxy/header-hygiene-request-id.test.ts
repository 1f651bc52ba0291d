// x-request-id generation from the pooled UUID strings: RFC 9562 version 4 shape, no repeats across refills.

import * as assert from 'node:assert/strict';
import type { HttpConnectionManagerConfig } from '../../../sidecar/src/config/listener-config';
import { applyForwardingHeaders } from '../../../sidecar/src/proxy/header-hygiene';

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const hcm = { useRemoteAddress: false, generateRequestId: true, preserveExternalRequestId: false, skipXffAppend: false } as unknown as HttpConnectionManagerConfig;

describe('x-request-id generation', () => {
  it('makes version 4 UUIDs, all different, across several pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i += 1) {
      const headers: Record<string, string> = {};
      applyForwardingHeaders(headers, hcm, { remoteAddress: '10.0.0.1', scheme: 'http' });
      const id = headers['x-request-id'] ?? '';
      assert.match(id, UUID_V4);
      seen.add(id);
    }
    assert.equal(seen.size, 1_000);
  });

  it('keeps a request id the client sent when not at the edge', () => {
    const headers: Record<string, string> = { 'x-request-id': 'from-client' };
    applyForwardingHeaders(headers, hcm, { remoteAddress: '10.0.0.1', scheme: 'http' });
    assert.equal(headers['x-request-id'], 'from-client');
  });
});
