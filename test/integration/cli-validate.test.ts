import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const bin = path.join(repoRoot, 'sidecar', 'bin', 'meshlet.js');

/** Runs the real `meshlet` binary with a clean environment (no MESHLET_* overrides leaking in). */
function meshlet(args: readonly string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const cleanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESHLET_') && v !== undefined) cleanEnv[k] = v;
  const run = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...cleanEnv, ...env }, timeout: 30_000 });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

function assertNoStackTrace(output: string): void {
  assert.doesNotMatch(output, /^\s+at /m, `stack trace in output:\n${output}`);
}

const GOOD = `
node: { id: test-id, cluster: test-cluster }
dynamic_resources:
  ads_config: { api_type: GRPC, grpc_services: [{ envoy_grpc: { cluster_name: xds_cluster } }] }
  lds_config: { ads: {} }
  cds_config: { ads: {} }
static_resources:
  clusters:
  - name: xds_cluster
    type: STATIC
    load_assignment:
      cluster_name: xds_cluster
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 18000 } } } }] }]
stats_sinks: [{ name: envoy.stat_sinks.statsd, typed_config: { "@type": type.googleapis.com/envoy.config.metrics.v3.StatsdSink } }]
`;

const BAD = `
node: { id: n }
static_resources:
  clusters:
  - name: a
    connect_timeout: 5
    lb_policy: SOMETIMES
  - name: b
    type: STATIC
    bogus_field: 1
  listeners:
  - name: l
    address: { socket_address: { address: 0.0.0.0, port_value: 10000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.redis_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy
          stat_prefix: redis
hds_config: { api_type: GRPC }
`;

describe('meshlet CLI (spawned)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-cli-'));
    fs.writeFileSync(path.join(dir, 'good.yaml'), GOOD);
    fs.writeFileSync(path.join(dir, 'bad.yaml'), BAD);
    fs.writeFileSync(path.join(dir, 'template.yaml'), 'node:\n  id: {{ .NodeId }\n  cluster: [\n');
    fs.writeFileSync(path.join(dir, 'resources.yaml'), `
resources:
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: example_proxy_cluster
  type: LOGICAL_DNS
  load_assignment:
    cluster_name: example_proxy_cluster
    endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: service1, port_value: 8080 } } } } }
- "@type": type.googleapis.com/envoy.api.v2.Cluster
  name: old
`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('validate: a good bootstrap exits 0 with a summary and warnings', () => {
    const run = meshlet(['validate', path.join(dir, 'good.yaml')]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ok: 0 listeners, 1 cluster, xDS server 127\.0\.0\.1:18000/m);
    assert.match(run.stdout, /warning: stats_sinks: /);
    assert.equal(run.stderr, '');
  });

  it('validate: a bad bootstrap exits 2 listing every error with its path on stderr', () => {
    const run = meshlet(['validate', path.join(dir, 'bad.yaml')]);
    assert.equal(run.code, 2);
    for (const expected of [
      'static_resources.clusters[0].connect_timeout: invalid duration "5"',
      'static_resources.clusters[0].lb_policy: invalid value "SOMETIMES"',
      'static_resources.clusters[1].bogus_field: unknown field',
      'static_resources.listeners[0].filter_chains[0].filters[0]',
      'hds_config: ',
    ]) {
      assert.ok(run.stderr.includes(expected), `missing "${expected}" in:\n${run.stderr}`);
    }
    assert.match(run.stderr, /redis_proxy/);
    assertNoStackTrace(run.stderr + run.stdout);
  });

  it('validate: a template that is not valid YAML gets a parse error and exit 2', () => {
    const run = meshlet(['validate', path.join(dir, 'template.yaml')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /invalid YAML at line \d+/);
    assertNoStackTrace(run.stderr);
  });

  it('validate: xDS resource files are decoded per resource; v2 types are named as unsupported', () => {
    const run = meshlet(['validate', path.join(dir, 'resources.yaml')]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /resources\[1\]: envoy\.api\.v2\.Cluster is an xDS v2 type/);
    assert.doesNotMatch(run.stderr, /resources\[0\]/);
  });

  it('validate: a missing file is exit 2 with a message, several files are each reported', () => {
    const run = meshlet(['validate', path.join(dir, 'good.yaml'), path.join(dir, 'missing.yaml')]);
    assert.equal(run.code, 2);
    assert.match(run.stdout, /good\.yaml: ok: /);
    assert.match(run.stderr, /missing\.yaml: no such file/);
    assertNoStackTrace(run.stderr);
  });

  it('run: a bad bootstrap lists every error and exits 2 without starting; bad flags are errors too', () => {
    const run = meshlet(['run', '--bootstrap', path.join(dir, 'bad.yaml'), '--admin', 'nonsense', '--health-address', 'no-port']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--admin: invalid address "nonsense"/);
    assert.match(run.stderr, /--health-address: invalid address "no-port"/);
    assert.match(run.stderr, /static_resources\.clusters\[0\]\.connect_timeout/);
    assertNoStackTrace(run.stderr);
    const envRun = meshlet(['run', '--node-id', 'x'], { MESHLET_XDS_ADDRESS: 'no-port' });
    assert.equal(envRun.code, 2);
    assert.match(envRun.stderr, /MESHLET_XDS_ADDRESS: invalid address "no-port"/);
  });

  it('--help, --version and usage errors', () => {
    const help = meshlet(['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /run/);
    assert.match(help.stdout, /validate/);
    const runHelp = meshlet(['run', '--help']);
    assert.match(runHelp.stdout, /--xds <host:port>/);
    assert.match(runHelp.stdout, /MESHLET_NODE_ID/);
    const version = meshlet(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);
    const unknown = meshlet(['frobnicate']);
    assert.equal(unknown.code, 2);
    assertNoStackTrace(unknown.stderr);
    const missingArg = meshlet(['validate']);
    assert.equal(missingArg.code, 2);
  });
});
