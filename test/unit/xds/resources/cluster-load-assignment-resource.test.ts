import * as assert from 'node:assert/strict';
import { struct } from '../../../fixtures/istio-config';
import { clusterLoadAssignmentResource } from '../../../../sidecar/src/xds/resources/cluster-load-assignment-resource';
import { decodeVia, expectErrors, expectValid, hasError } from './decode-helpers';

const ep = (address: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ endpoint: { address: { socket_address: { address, port_value: 8080 } } }, ...extra });

describe('clusterLoadAssignmentResource', () => {
  it('groups localities by priority with defaults (weight 1, overprovisioning 140)', () => {
    const cla = expectValid(
      decodeVia(clusterLoadAssignmentResource, {
        cluster_name: 'svc',
        endpoints: [
          { priority: 2, lb_endpoints: [ep('10.0.0.3', { health_status: 'DRAINING' })] },
          { locality: { zone: 'a' }, load_balancing_weight: { value: 5 }, lb_endpoints: [ep('10.0.0.1', { metadata: { filter_metadata: { 'envoy.lb': struct({ hash_key: 'k1' }) } } }), ep('::1', { load_balancing_weight: { value: 3 } })] },
        ],
      }).result,
    );
    assert.equal(cla.priorities.length, 3);
    assert.deepEqual(cla.priorities[1], []);
    const [loc] = cla.priorities[0] ?? [];
    assert.equal(loc?.loadBalancingWeight, 5);
    assert.deepEqual(loc?.endpoints.map((e) => [e.loadBalancingWeight, e.healthStatus]), [[1, 'UNKNOWN'], [3, 'UNKNOWN']]);
    assert.deepEqual(loc?.endpoints[0]?.metadata, { 'envoy.lb': { hash_key: 'k1' } });
    assert.equal(cla.priorities[2]?.[0]?.endpoints[0]?.healthStatus, 'DRAINING');
    assert.equal(cla.priorities[2]?.[0]?.loadBalancingWeight, null);
    assert.equal(cla.policy.overprovisioningFactor, 140);
  });

  it('reports bad endpoints with paths and keeps the name', () => {
    const decoded = decodeVia(clusterLoadAssignmentResource, { cluster_name: 'svc', endpoints: [{ lb_endpoints: [ep('not-an-ip'), ep('10.0.0.1', { load_balancing_weight: { value: 0 } })] }] });
    assert.equal(decoded.name, 'svc');
    const errs = expectErrors(decoded.result);
    assert.ok(hasError(errs, 'endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address', 'malformed IP address'), JSON.stringify(errs));
    assert.ok(hasError(errs, 'endpoints[0].lb_endpoints[1].load_balancing_weight', 'greater than or equal to 1'));
  });

  it('resolves named endpoints', () => {
    const cla = expectValid(decodeVia(clusterLoadAssignmentResource, { cluster_name: 'svc', named_endpoints: { a: { address: { socket_address: { address: '10.1.1.1', port_value: 1 } } } }, endpoints: [{ lb_endpoints: [{ endpoint_name: 'a' }] }] }).result);
    assert.equal(cla.priorities[0]?.[0]?.endpoints[0]?.address.kind === 'socket' ? cla.priorities[0]?.[0]?.endpoints[0]?.address.host : '', '10.1.1.1');
  });
});
