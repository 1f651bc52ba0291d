// xDS over TLS with a bearer token, as to istiod:15012: the reference control plane serves TLS with a certificate for
// istiod.istio-system.svc and requires the token; the sidecar verifies the server, sends the token, and a rotated
// token file is used by the next stream. Also the pod identity env -> node id and metadata, and bootstrap TLS.

import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ControlPlaneServer } from '../../examples/control-plane/control-plane-server';
import { silentLogger } from '../../sidecar/src/observability/logger';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { bootstrapFromJson, loadBootstrap } from '../../sidecar/src/xds/bootstrap-loader';
import { jwtAudiences } from '../../sidecar/src/xds/xds-credentials';

const TLS = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'tls');
const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

/** An unsigned JWT-shaped token with the given audience (the server here compares strings; istiod verifies). */
function fakeJwt(aud: string, id: string): string {
  const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'RS256' })}.${b64({ aud: [aud], sub: 'system:serviceaccount:shop:web', jti: id })}.c2ln`;
}

const POD_ENV = {
  POD_NAME: 'web-7d4b9-x2x',
  POD_NAMESPACE: 'shop',
  INSTANCE_IP: '10.1.2.3',
  SERVICE_ACCOUNT: 'web',
  CLUSTER_ID: 'Kubernetes',
  ISTIO_VERSION: '1.27.0',
  INTERCEPTION_MODE: 'REDIRECT',
  MESHLET_NODE_LABELS: '{"app":"web"}',
};

describe('xDS over TLS with a bearer token (istiod 15012 style)', function () {
  this.timeout(20_000);
  let dir: string;
  let tokenFile: string;
  let expected = '';
  let server: ControlPlaneServer | undefined;
  let sidecar: Sidecar | undefined;
  const serverCredentials = (): grpc.ServerCredentials => grpc.ServerCredentials.createSsl(null, [{
    cert_chain: fs.readFileSync(path.join(TLS, 'istiod.crt')),
    private_key: fs.readFileSync(path.join(TLS, 'istiod.key')),
  }]);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-xds-tls-'));
    tokenFile = path.join(dir, 'istio-token');
    expected = fakeJwt('istio-ca', 'one');
    fs.writeFileSync(tokenFile, `${expected}\n`);
  });
  afterEach(async () => {
    await sidecar?.stop();
    sidecar = undefined;
    await server?.stop();
    server = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function start(serverName: string): Promise<ControlPlaneServer> {
    server = await ControlPlaneServer.start({ credentials: serverCredentials(), requiredToken: () => expected });
    const loaded = loadBootstrap({
      xdsAddress: server.address,
      adminAddress: '127.0.0.1:0',
      xdsCa: path.join(TLS, 'ca.crt'),
      xdsServerName: serverName,
      xdsToken: tokenFile,
      xdsTokenAudience: 'istio-ca',
    }, { env: POD_ENV });
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
    sidecar = await createSidecar(loaded.value, {
      logger: silentLogger(),
      xdsBackoff: { initialMs: 50, maxMs: 200 },
      xdsChannelOptions: { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 200 },
    });
    return server;
  }

  it('verifies istiod.istio-system.svc against the CA, sends the token, and a rotated token on the next stream', async () => {
    const cp = await start('istiod.istio-system.svc');
    await cp.waitForRequest((r) => r.typeUrl === CLUSTER_TYPE, 8000);
    assert.equal(cp.authorizations[0], `Bearer ${expected}`);
    assert.equal(sidecar?.bootstrap.node.id, 'sidecar~10.1.2.3~web-7d4b9-x2x.shop~shop.svc.cluster.local');

    // The kubelet rewrites the projected token; istiod then only accepts the new one. Next stream, new token.
    expected = fakeJwt('istio-ca', 'two');
    fs.writeFileSync(tokenFile, expected);
    const port = cp.port;
    await cp.stop();
    server = await ControlPlaneServer.start({ port, credentials: serverCredentials(), requiredToken: () => expected });
    await server.waitForRequest((r) => r.typeUrl === CLUSTER_TYPE, 8000);
    assert.equal(server.authorizations.at(-1), `Bearer ${expected}`);
  });

  it('refuses a server whose certificate does not carry the expected name', async () => {
    const cp = await start('istiod.other-namespace.svc');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(cp.requests.length, 0);
    assert.equal(cp.authorizations.length, 0, 'no stream may reach a server that failed verification');
  });

  it('a server requiring a token ends a stream without the right one (UNAUTHENTICATED) and accepts the next', async () => {
    fs.writeFileSync(tokenFile, fakeJwt('istio-ca', 'stale'));
    const cp = await start('istiod.istio-system.svc');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(cp.requests.length, 0);
    assert.ok(cp.authorizations.length >= 1);
    fs.writeFileSync(tokenFile, expected);
    await cp.waitForRequest((r) => r.typeUrl === CLUSTER_TYPE, 8000);
    assert.equal(cp.authorizations.at(-1), `Bearer ${expected}`);
  });
});

describe('bootstrap: xDS TLS, token and pod identity', () => {
  it('puts the pod identity env into node.metadata, with istiod keys (no ISTIO_META_ prefix)', () => {
    const loaded = loadBootstrap({ xdsAddress: 'istiod.istio-system.svc:15012', xdsCa: '/ca.pem' }, { env: { ...POD_ENV, MESHLET_NODE_METADATA: '{"MESH_ID":"m1","CLUSTER_ID":"c2"}' } });
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
    assert.deepEqual(loaded.value.node.metadata, {
      NAME: 'web-7d4b9-x2x', NAMESPACE: 'shop', INSTANCE_IPS: '10.1.2.3', SERVICE_ACCOUNT: 'web', CLUSTER_ID: 'c2',
      ISTIO_VERSION: '1.27.0', INTERCEPTION_MODE: 'REDIRECT', LABELS: { app: 'web' }, MESH_ID: 'm1',
    });
    assert.deepEqual(loaded.value.xds?.tls, { ca: { kind: 'filename', path: '/ca.pem' } });
  });

  it('an explicit node id wins over the derived one; bad JSON metadata is an error with the variable name', () => {
    const loaded = loadBootstrap({ xdsAddress: 'x:1', nodeId: 'mine' }, { env: POD_ENV });
    assert.ok(loaded.ok);
    assert.equal(loaded.value.node.id, 'mine');
    const bad = loadBootstrap({ xdsAddress: 'x:1' }, { env: { ...POD_ENV, MESHLET_NODE_METADATA: '[1]' } });
    assert.ok(!bad.ok);
    assert.match(bad.errors[0]?.path ?? '', /MESHLET_NODE_METADATA/);
  });

  it('refuses a token over plaintext', () => {
    const loaded = loadBootstrap({ xdsAddress: 'x:15010', nodeId: 'n', xdsToken: '/token' }, { env: {} });
    assert.ok(!loaded.ok);
    assert.match(loaded.errors.map((e) => e.message).join('\n'), /needs TLS/);
  });

  it('accepts an UpstreamTlsContext with a trusted CA on the xDS cluster (was rejected before)', () => {
    const loaded = bootstrapFromJson({
      node: { id: 'n' },
      dynamic_resources: {
        ads_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
        lds_config: { ads: {}, resource_api_version: 'V3' },
        cds_config: { ads: {}, resource_api_version: 'V3' },
      },
      static_resources: {
        clusters: [{
          name: 'xds-grpc',
          type: 'STRICT_DNS',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 'istiod.istio-system.svc', port_value: 15012 } } } }] }] },
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
              sni: 'istiod.istio-system.svc',
              common_tls_context: { validation_context: { trusted_ca: { filename: '/var/run/secrets/istio/root-cert.pem' } } },
            },
          },
        }],
      },
    }, null, {}, { env: {} });
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.errors));
    assert.deepEqual(loaded.value.xds?.tls, { ca: { kind: 'filename', path: '/var/run/secrets/istio/root-cert.pem' }, serverName: 'istiod.istio-system.svc' });
  });

  it('reads the audience of a JWT', () => {
    assert.deepEqual(jwtAudiences(fakeJwt('istio-ca', 'x')), ['istio-ca']);
    assert.equal(jwtAudiences('not-a-jwt'), undefined);
  });
});
