// A third-party xDS client (@grpc/grpc-js-xds, proxyless gRPC) against the reference control plane: it resolves
// xds:///echo-service through LDS -> RDS -> CDS -> EDS, reaches a real grpc-js backend and ACKs all four types.

import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as grpcJsXds from '@grpc/grpc-js-xds';
import {
  apiListener,
  clusterLoadAssignment,
  edsCluster,
  routeConfiguration,
  startControlPlane,
  TYPE_URLS,
  type ControlPlaneServer,
  type RecordedRequest,
} from '../support/control-plane';

/** grpc-js-xds reads a per-channel bootstrap from this channel option (its own tests use it). */
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

/** A unary echo service with string messages, defined in code (no .proto needed). */
const utf8 = {
  serialize: (value: string) => Buffer.from(value, 'utf8'),
  deserialize: (bytes: Buffer) => bytes.toString('utf8'),
};
const ECHO_SERVICE: grpc.ServiceDefinition = {
  Echo: {
    path: '/meshlet.test.EchoService/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: utf8.serialize,
    requestDeserialize: utf8.deserialize,
    responseSerialize: utf8.serialize,
    responseDeserialize: utf8.deserialize,
  },
};
const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'EchoService');

function startBackend(name: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, {
    Echo: (call: grpc.ServerUnaryCall<string, string>, callback: grpc.sendUnaryData<string>) => callback(null, `${name}: ${call.request}`),
  });
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error !== null ? reject(error) : resolve({ server, port })));
  });
}

function echo(client: grpc.Client, message: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 10_000;
    (client as unknown as { Echo(m: string, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: string) => void): void }).Echo(
      message,
      { deadline },
      (error, response) => (error !== null ? reject(error) : resolve(response ?? '')),
    );
  });
}

describe('@grpc/grpc-js-xds against the reference control plane', () => {
  let cp: ControlPlaneServer;
  let backend: { server: grpc.Server; port: number };
  const extraBackends: grpc.Server[] = [];
  let client: grpc.Client | undefined;

  before(async () => {
    grpcJsXds.register();
    cp = await startControlPlane();
    backend = await startBackend('backend-1');
    cp.setResources(TYPE_URLS.lds, [apiListener('echo-service', 'echo-routes')]);
    cp.setResources(TYPE_URLS.rds, [routeConfiguration('echo-routes', 'echo-cluster', ['echo-service'])]);
    cp.setResources(TYPE_URLS.cds, [edsCluster('echo-cluster')]);
    cp.setResources(TYPE_URLS.eds, [clusterLoadAssignment('echo-cluster', [{ host: '127.0.0.1', port: backend.port }])]);
  });

  after(async () => {
    client?.close();
    await cp.stop();
    backend.server.forceShutdown();
    for (const server of extraBackends) server.forceShutdown();
  });

  it('resolves xds:///echo-service, reaches the backend and ACKs LDS, RDS, CDS and EDS', async () => {
    const bootstrap = {
      xds_servers: [{ server_uri: cp.address, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'grpc-js-xds-test', cluster: 'test', locality: {} },
    };
    client = new EchoClient('xds:///echo-service', grpc.credentials.createInsecure(), { [BOOTSTRAP_OPTION]: JSON.stringify(bootstrap) });
    assert.equal(await echo(client, 'hello'), 'backend-1: hello');

    const acked = (typeUrl: string, name: string) => (r: RecordedRequest) =>
      r.typeUrl === typeUrl && r.kind === 'ACK' && r.versionInfo === cp.version(typeUrl) && r.resourceNames.includes(name);
    await cp.waitForRequest(acked(TYPE_URLS.lds, 'echo-service'));
    await cp.waitForRequest(acked(TYPE_URLS.rds, 'echo-routes'));
    await cp.waitForRequest(acked(TYPE_URLS.cds, 'echo-cluster'));
    await cp.waitForRequest(acked(TYPE_URLS.eds, 'echo-cluster'));
    assert.equal(cp.requests.filter((r) => r.kind === 'NACK').length, 0, 'nothing NACKed');
    const first = cp.requests[0];
    assert.equal((first?.node as { id?: string } | undefined)?.id, 'grpc-js-xds-test');
    assert.equal(cp.requests.filter((r) => r.node !== undefined).length, 1, 'node only on the first request of the stream');
  });

  it('follows an EDS update to a new backend', async () => {
    assert.ok(client !== undefined);
    const second = await startBackend('backend-2');
    extraBackends.push(second.server);
    const mark = cp.requests.length;
    cp.setResources(TYPE_URLS.eds, [clusterLoadAssignment('echo-cluster', [{ host: '127.0.0.1', port: second.port }])]);
    await cp.waitForRequest((r) => r.typeUrl === TYPE_URLS.eds && r.kind === 'ACK' && r.versionInfo === cp.version(TYPE_URLS.eds), 5000, mark);
    // The picker switches once the new subchannel is READY; retry until then (no timing assertion).
    let reply = '';
    for (let attempt = 0; attempt < 50 && reply !== 'backend-2: again'; attempt += 1) {
      reply = await echo(client, 'again');
      if (reply !== 'backend-2: again') await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(reply, 'backend-2: again');
  });

  it('records a NACK from grpc-js-xds for an invalid resource and keeps serving the last good config', async () => {
    assert.ok(client !== undefined);
    const mark = cp.requests.length;
    // grpc-js-xds accepts only EDS, LOGICAL_DNS and aggregate clusters: a STATIC cluster is NACKed.
    cp.setResources(TYPE_URLS.cds, [{ name: 'echo-cluster', message: { name: 'echo-cluster', type: 'STATIC', connect_timeout: { seconds: 1 } } }]);
    const nack = await cp.waitForRequest((r) => r.typeUrl === TYPE_URLS.cds && r.kind === 'NACK', 5000, mark);
    // grpc-js-xds names the resource by index, not by name.
    assert.match(nack.errorDetail?.message ?? '', /Unsupported type STATIC/);
    assert.notEqual(nack.versionInfo, cp.version(TYPE_URLS.cds), 'a NACK carries the last accepted version');
    assert.equal(await echo(client, 'still'), 'backend-2: still');
  });
});
