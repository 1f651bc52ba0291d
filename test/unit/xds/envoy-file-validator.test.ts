import * as assert from 'node:assert/strict';
import { validateEnvoyJson } from '../../../sidecar/src/xds/envoy-file-validator';
import type { JsonValue } from '../../../sidecar/src/config/endpoint-config';

const CLUSTER = {
  '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  name: 'c1',
  type: 'STATIC',
  connect_timeout: '1s',
  load_assignment: { cluster_name: 'c1', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 80 } } } }] }] },
};

const ROUTE = {
  '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  name: 'r1',
  virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c1' } }] }],
};

describe('validateEnvoyJson', () => {
  const check = (json: JsonValue) => validateEnvoyJson(json, null, { env: {} });

  it('detects an admin config dump ({configs: [...]}) and decodes the resources and bootstrap it holds', () => {
    const result = check({
      configs: [
        { '@type': 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump', bootstrap: { node: { id: 'n' } } },
        { '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', static_clusters: [{ cluster: CLUSTER }], dynamic_active_clusters: [{ version_info: '1', cluster: { ...CLUSTER, name: 'c2', load_assignment: { ...CLUSTER.load_assignment, cluster_name: 'c2' } } }] },
        { '@type': 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump', dynamic_route_configs: [{ version_info: '1', route_config: ROUTE }] },
      ],
    });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.value.kind, 'config-dump');
    assert.match(result.value.summary, /1 Bootstrap/);
    assert.match(result.value.summary, /2 Cluster/);
    assert.match(result.value.summary, /1 RouteConfiguration/);
  });

  it('reports errors inside a config dump with their full path', () => {
    const result = check({
      configs: [{ '@type': 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump', dynamic_active_clusters: [{ cluster: { ...CLUSTER, connect_timeout: '-1s' } }] }],
    });
    assert.ok(!result.ok);
    assert.ok(result.errors.every((e) => e.path.startsWith('configs[0].dynamic_active_clusters[0].cluster')), JSON.stringify(result.errors));
  });

  it('decodes each resource of a resource file on its own: one bad resource does not hide the others', () => {
    const result = check({ version_info: '1', resources: [CLUSTER, { ...CLUSTER, name: 'bad', lb_polcy: 'x' }, ROUTE, { '@type': 'type.googleapis.com/envoy.config.core.v3.Node' }] });
    assert.ok(!result.ok);
    const paths = result.errors.map((e) => e.path);
    assert.deepEqual(paths, ['resources[1].lb_polcy', 'resources[3]']);
    assert.match(result.errors[1]?.message ?? '', /resource type envoy\.config\.core\.v3\.Node is not supported/);
  });

  it('reads config-dump excerpts (a list of entries) and treats anything else as a bootstrap', () => {
    const excerpt = check([{ version_info: '1', cluster: CLUSTER, last_updated: '2020-10-25T20:20:54.897Z' }, { route_config: ROUTE }]);
    assert.ok(excerpt.ok, JSON.stringify(excerpt));
    assert.match(excerpt.value.summary, /config dump excerpt with 1 Cluster, 1 RouteConfiguration/);
    const notEntry = check([{ foo: 1 }]);
    assert.ok(!notEntry.ok && notEntry.errors[0]?.path === '[0]');
    const bootstrap = check({ static_resources: { clusters: [CLUSTER] } });
    assert.ok(!bootstrap.ok, 'an "@type" inside a bootstrap cluster is an unknown field, as in Envoy');
    assert.ok(!check('just a string').ok);
  });
});
