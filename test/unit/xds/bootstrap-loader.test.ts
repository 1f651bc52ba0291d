import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import type { BootstrapConfig, BootstrapFlags } from '../../../sidecar/src/config/bootstrap-config';
import type { FieldError, Validation } from '../../../sidecar/src/core/validation';
import { bootstrapFromJson, loadBootstrap, readConfigFile } from '../../../sidecar/src/xds/bootstrap-loader';

/** go-control-plane's example bootstrap (internal/example): ADS over the static cluster xds_cluster. */
const GO_CONTROL_PLANE = `
node:
  cluster: test-cluster
  id: test-id
  metadata: { NAMESPACE: default, LABELS: { app: demo }, INSTANCE_IPS: "10.0.0.1" }
  locality: { region: eu, zone: eu-1a, sub_zone: rack1 }
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services:
    - envoy_grpc:
        cluster_name: xds_cluster
  cds_config:
    resource_api_version: V3
    ads: {}
  lds_config:
    resource_api_version: V3
    ads: {}
static_resources:
  clusters:
  - type: STRICT_DNS
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config:
          http2_protocol_options: {}
    name: xds_cluster
    load_assignment:
      cluster_name: xds_cluster
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address:
                address: go-control-plane
                port_value: 18000
admin:
  address:
    socket_address: { address: 0.0.0.0, port_value: 19000 }
`;

const STATIC_HTTP = `
static_resources:
  listeners:
    name: ingress
    address: { socket_address: { address: 0.0.0.0, port_value: 8080 } }
    filter_chains:
      filters:
        name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          codec_type: auto
          stat_prefix: ingress_http
          route_config:
            name: local_route
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route: { cluster: backend }
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
  - name: backend
    connect_timeout: 0.25s
    type: strict_dns
    lb_policy: round_robin
    load_assignment:
      cluster_name: backend
      endpoints:
        lb_endpoints:
          endpoint: { address: { socket_address: { address: backend.local, port_value: 8000 } } }
layered_runtime:
  layers:
  - name: static_layer_0
    static_layer: { overload: { global_downstream_max_connections: 50000 } }
stats_sinks:
- name: envoy.stat_sinks.statsd
  typed_config:
    "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink
    address: { socket_address: { address: 127.0.0.1, port_value: 8125 } }
`;

function load(yaml: string | undefined, flags: BootstrapFlags = {}, env: Record<string, string> = {}): Validation<BootstrapConfig> {
  return bootstrapFromJson(yaml === undefined ? undefined : YAML.parse(yaml), null, flags, { env, version: '9.9.9' });
}

function ok(result: Validation<BootstrapConfig>): BootstrapConfig {
  if (!result.ok) assert.fail(`expected ok, got:\n${result.errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`);
  return result.value;
}

function errors(result: Validation<BootstrapConfig>): readonly FieldError[] {
  if (result.ok) assert.fail('expected errors, got ok');
  return result.errors;
}

function hasError(errs: readonly FieldError[], path: string, message: RegExp): boolean {
  return errs.some((e) => e.path === path && message.test(e.message));
}

describe('bootstrap loader', () => {
  it('loads a go-control-plane style bootstrap: the xDS server is the single endpoint of xds_cluster', () => {
    const b = ok(load(GO_CONTROL_PLANE));
    assert.deepEqual(b.xds, {
      address: { host: 'go-control-plane', port: 18000 },
      apiType: 'SOTW',
      clusterNames: ['xds_cluster'],
      dynamicListeners: true,
      dynamicClusters: true,
      ldsInitialFetchTimeoutMs: 15000,
      cdsInitialFetchTimeoutMs: 15000,
    });
    assert.equal(b.node.id, 'test-id');
    assert.equal(b.node.cluster, 'test-cluster');
    assert.deepEqual(b.node.metadata, { NAMESPACE: 'default', LABELS: { app: 'demo' }, INSTANCE_IPS: '10.0.0.1' });
    assert.deepEqual(b.node.locality, { region: 'eu', zone: 'eu-1a', subZone: 'rack1' });
    assert.equal(b.node.userAgentName, 'meshlet');
    assert.equal(b.node.userAgentVersion, '9.9.9');
    assert.deepEqual(b.admin, { host: '0.0.0.0', port: 19000 });
    assert.deepEqual(b.staticResources.clusters.map((c) => c.name), ['xds_cluster']);
    assert.equal(b.source.path, null);
  });

  it('reads api_type DELTA_GRPC, initial_fetch_timeout (0 = forever) and a google_grpc target', () => {
    const yaml = `
node: { id: n }
dynamic_resources:
  ads_config: { api_type: DELTA_GRPC, grpc_services: { google_grpc: { target_uri: "istiod.istio-system.svc:15010", stat_prefix: x } } }
  lds_config: { ads: {}, initial_fetch_timeout: 0s }
  cds_config: { ads: {}, initial_fetch_timeout: 2.5s }
`;
    const b = ok(load(yaml));
    assert.deepEqual(b.xds?.address, { host: 'istiod.istio-system.svc', port: 15010 });
    assert.equal(b.xds?.apiType, 'DELTA');
    assert.equal(b.xds?.ldsInitialFetchTimeoutMs, 0);
    assert.equal(b.xds?.cdsInitialFetchTimeoutMs, 2500);
  });

  it('needs no file with --xds and --node-id, and defaults the admin address', () => {
    const b = ok(load(undefined, { xdsAddress: '127.0.0.1:18000', nodeId: 'sidecar~10.0.0.1~a.default~default.svc.cluster.local' }));
    assert.deepEqual(b.xds?.address, { host: '127.0.0.1', port: 18000 });
    assert.equal(b.xds?.dynamicListeners, true);
    assert.equal(b.xds?.dynamicClusters, true);
    assert.deepEqual(b.admin, { host: '127.0.0.1', port: 15000 });
    assert.equal(b.health, null, 'the health server is off by default');
    assert.deepEqual(b.source.raw, {});
    assert.deepEqual(b.source.overrides, { '--xds': '127.0.0.1:18000', '--node-id': 'sidecar~10.0.0.1~a.default~default.svc.cluster.local' });
  });

  it('applies flags over env vars over the file', () => {
    const env = { MESHLET_NODE_ID: 'env-id', MESHLET_NODE_CLUSTER: 'env-cluster', MESHLET_ADMIN_ADDRESS: '127.0.0.1:9901', MESHLET_XDS_ADDRESS: '[::1]:18001', MESHLET_XDS_DELTA: '1' };
    const fromEnv = ok(load(GO_CONTROL_PLANE, {}, env));
    assert.equal(fromEnv.node.id, 'env-id');
    assert.equal(fromEnv.node.cluster, 'env-cluster');
    assert.deepEqual(fromEnv.admin, { host: '127.0.0.1', port: 9901 });
    assert.deepEqual(fromEnv.xds?.address, { host: '::1', port: 18001 });
    assert.equal(fromEnv.xds?.apiType, 'DELTA');
    assert.deepEqual(fromEnv.xds?.clusterNames, ['xds_cluster']);

    const fromFlags = ok(load(GO_CONTROL_PLANE, { nodeId: 'flag-id', adminAddress: '0.0.0.0:0', xdsAddress: 'cp:1', xdsDelta: true }, env));
    assert.equal(fromFlags.node.id, 'flag-id');
    assert.equal(fromFlags.node.cluster, 'env-cluster');
    assert.deepEqual(fromFlags.admin, { host: '0.0.0.0', port: 0 });
    assert.deepEqual(fromFlags.xds?.address, { host: 'cp', port: 1 });
    assert.equal(fromFlags.xds?.apiType, 'DELTA');
    assert.equal(ok(load(GO_CONTROL_PLANE, {}, { MESHLET_XDS_DELTA: '0' })).xds?.apiType, 'SOTW');
  });

  it('--health-address beats MESHLET_HEALTH_ADDRESS; a bad value is an error on the name it came from', () => {
    const env = { MESHLET_HEALTH_ADDRESS: '0.0.0.0:15021' };
    assert.deepEqual(ok(load(GO_CONTROL_PLANE, {}, env)).health, { host: '0.0.0.0', port: 15021 });
    const fromFlag = ok(load(GO_CONTROL_PLANE, { healthAddress: '[::]:4191' }, env));
    assert.deepEqual(fromFlag.health, { host: '::', port: 4191 });
    assert.equal(fromFlag.source.overrides['--health-address'], '[::]:4191');
    assert.ok(hasError(errors(load(GO_CONTROL_PLANE, {}, { MESHLET_HEALTH_ADDRESS: 'nope' })), 'MESHLET_HEALTH_ADDRESS', /invalid address "nope"/));
    assert.ok(hasError(errors(load(GO_CONTROL_PLANE, { healthAddress: '1.2.3.4' })), '--health-address', /invalid address/));
  });

  it('requires a node id with an xDS server', () => {
    assert.ok(hasError(errors(load(undefined, { xdsAddress: '127.0.0.1:18000' })), 'node.id', /node id is required/));
  });

  it('accepts Envoy\'s lenient forms and warns about ignored telemetry', () => {
    const b = ok(load(STATIC_HTTP));
    assert.equal(b.xds, null);
    assert.deepEqual(b.staticResources.listeners.map((l) => l.name), ['ingress']);
    assert.deepEqual(b.staticResources.clusters.map((c) => c.name), ['backend']);
    const warned = b.warnings.map((w) => w.path);
    assert.ok(warned.includes('layered_runtime'), warned.join(', '));
    assert.ok(warned.includes('stats_sinks'), warned.join(', '));
  });

  it('cluster_manager.local_cluster_name names a static cluster (zone-aware routing); an unknown one is an error as in Envoy', () => {
    const yaml = (name: string): string => `
node: { id: n, locality: { region: r, zone: a } }
static_resources:
  clusters:
  - name: local
    type: STATIC
    load_assignment: { cluster_name: local, endpoints: [{ locality: { region: r, zone: a }, lb_endpoints: { endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 80 } } } } }] }
cluster_manager: { local_cluster_name: ${name} }
`;
    const b = ok(load(yaml('local')));
    assert.equal(b.localClusterName, 'local');
    assert.deepEqual(b.node.locality, { region: 'r', zone: 'a', subZone: '' });
    assert.equal(b.warnings.filter((w) => w.path.startsWith('cluster_manager')).length, 0);
    assert.ok(hasError(errors(load(yaml('nope'))), 'cluster_manager.local_cluster_name', /local cluster 'nope' must be defined/));
    assert.equal(ok(load(GO_CONTROL_PLANE)).localClusterName, null);
  });

  it('lists every problem at once, each with its path', () => {
    const yaml = `
node: { id: n }
hds_config: { api_type: GRPC, grpc_services: { envoy_grpc: { cluster_name: x } } }
dynamic_resources:
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
  cds_config: { api_config_source: { api_type: REST, cluster_names: [x] } }
static_resources:
  clusters:
  - name: a
    connect_timeout: 5
    typ: STATIC
  - name: a
    load_assignment: { cluster_name: a }
cluster_manager:
  load_stats_config: { api_type: GRPC, grpc_services: { envoy_grpc: { cluster_name: lrs } } }
`;
    const errs = errors(load(yaml, { adminAddress: 'nope' }));
    const expected: Array<[string, RegExp]> = [
      ['--admin', /invalid address "nope"/],
      ['hds_config', /HDS.*not supported/],
      ['cluster_manager.load_stats_config', /LRS.*not supported/],
      ['static_resources.clusters[0].connect_timeout', /invalid duration "5"/],
      ['static_resources.clusters[0].typ', /unknown field/],
    ];
    for (const [p, m] of expected) assert.ok(hasError(errs, p, m), `missing ${p} ${m}; got:\n${errs.map((e) => `${e.path}: ${e.message}`).join('\n')}`);
  });

  it('reports unsupported config sources and semantic errors once the file converts', () => {
    const yaml = `
node: { id: n }
dynamic_resources:
  ads_config: { api_type: GRPC, grpc_services: { envoy_grpc: { cluster_name: xds } } }
  lds_config: { path_config_source: { path: /etc/envoy/lds.yaml } }
  cds_config: { api_config_source: { api_type: REST, cluster_names: [x] } }
static_resources:
  clusters:
  - name: xds
    type: STATIC
    load_assignment: { cluster_name: xds, endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18000 } } } } } }
  - name: xds
    type: STATIC
`;
    const errs = errors(load(yaml));
    assert.ok(hasError(errs, 'dynamic_resources.lds_config.path_config_source', /filesystem config sources are not supported/), JSON.stringify(errs));
    assert.ok(hasError(errs, 'dynamic_resources.cds_config.api_config_source.api_type', /not supported/), JSON.stringify(errs));
    assert.ok(hasError(errs, 'static_resources.clusters[1].name', /duplicate cluster name "xds"/), JSON.stringify(errs));
  });

  it('rejects a static listener that needs RDS when there is no xDS server', () => {
    const yaml = `
static_resources:
  listeners:
  - name: l
    address: { socket_address: { address: 0.0.0.0, port_value: 8080 } }
    filter_chains:
    - filters:
      - name: hcm
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: x
          rds: { route_config_name: r, config_source: { ads: {} } }
          http_filters: [{ name: router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
`;
    assert.ok(hasError(errors(load(yaml)), 'static_resources.listeners[0]', /needs RouteConfiguration "r" from an xDS server/));
  });

  it('reads YAML and JSON files, reporting syntax errors with line numbers and never throwing', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-bootstrap-'));
    try {
      const yamlFile = path.join(dir, 'envoy.yaml');
      fs.writeFileSync(yamlFile, GO_CONTROL_PLANE);
      const fromFile = ok(loadBootstrap({ bootstrapPath: yamlFile }, { env: {} }));
      assert.equal(fromFile.source.path, yamlFile);
      assert.equal((fromFile.source.raw as { node: { id: string } }).node.id, 'test-id');

      const jsonFile = path.join(dir, 'envoy.json');
      fs.writeFileSync(jsonFile, JSON.stringify(YAML.parse(GO_CONTROL_PLANE)));
      assert.equal(ok(loadBootstrap({ bootstrapPath: jsonFile }, { env: {} })).node.id, 'test-id');

      const bad = path.join(dir, 'bad.yaml');
      fs.writeFileSync(bad, 'node:\n  id: x\n   cluster: {{ .Cluster }}\n');
      const badResult = readConfigFile(bad);
      assert.ok(!badResult.ok);
      assert.match(badResult.ok ? '' : badResult.errors[0]?.message ?? '', /invalid YAML at line \d+/);

      const missing = loadBootstrap({ bootstrapPath: path.join(dir, 'missing.yaml') }, { env: {} });
      assert.ok(!missing.ok && /no such file/.test(missing.errors[0]?.message ?? ''));
      fs.writeFileSync(path.join(dir, 'broken.json'), '{"node": ');
      assert.ok(!readConfigFile(path.join(dir, 'broken.json')).ok);
      fs.writeFileSync(path.join(dir, 'empty.yaml'), '\n');
      assert.ok(!readConfigFile(path.join(dir, 'empty.yaml')).ok);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
