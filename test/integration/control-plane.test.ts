// The reference control plane over real gRPC: SotW and delta subscriptions, ACK/NACK recording, full-state
// removal, test hooks (never answer, stale nonces, raw pushes), restart on the same port, and resource files.

import * as assert from 'node:assert/strict';
import * as childProcess from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { ProtoSchema } from '../../sidecar/src/xds/proto-schema';
import { ResourceFileError } from '../../examples/control-plane/control-plane-server';
import { parseResourceFile } from '../../examples/control-plane/resource-file';
import {
  clusterLoadAssignment,
  edsCluster,
  restartControlPlane,
  routeConfiguration,
  startControlPlane,
  staticCluster,
  httpListener,
  TYPE_URLS,
  type ControlPlaneServer,
  type RecordedRequest,
} from '../support/control-plane';
import type { DiscoveryRequest } from '../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryResponse';
import type { DeltaDiscoveryRequest } from '../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DeltaDiscoveryResponse__Output } from '../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import type { Cluster__Output } from '../../xds-protos/generated/envoy/config/cluster/v3/Cluster';

const schema = ProtoSchema.get();
const AdsClient = grpc.makeGenericClientConstructor(schema.serviceDefinition('envoy.service.discovery.v3.AggregatedDiscoveryService'), 'AggregatedDiscoveryService');
const NODE = { id: 'test-node', cluster: 'test' };
const LOCAL = { host: '127.0.0.1', port: 1 };

/** One raw ADS stream: send requests, take responses in order. */
class RawStream<Req, Res> {
  private readonly received: Res[] = [];
  private readonly takers: Array<(r: Res) => void> = [];
  ended: Error | undefined;
  /** Resolves with the stream's final status. */
  readonly status: Promise<grpc.StatusObject>;

  constructor(readonly call: grpc.ClientDuplexStream<Req, Res>) {
    this.status = new Promise((resolve) => call.on('status', resolve));
    call.on('data', (response: Res) => {
      const taker = this.takers.shift();
      if (taker !== undefined) taker(response);
      else this.received.push(response);
    });
    call.on('error', (error: Error) => {
      this.ended = error;
    });
  }

  send(request: Req): void {
    this.call.write(request);
  }

  /** The next response, waiting up to 3 s. */
  next(): Promise<Res> {
    const queued = this.received.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no xDS response within 3 s')), 3000);
      this.takers.push((r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }

  /** Responses received and not yet taken. */
  get pending(): number {
    return this.received.length;
  }

  close(): void {
    this.call.cancel();
  }
}

function names(response: DiscoveryResponse__Output): string[] {
  return response.resources.map((any) => {
    const message = schema.unpackAny<{ name?: string; cluster_name?: string }>(any);
    return message?.name || message?.cluster_name || '?';
  });
}

describe('reference control plane', () => {
  let cp: ControlPlaneServer;
  const clients: grpc.Client[] = [];
  const streams: Array<RawStream<unknown, unknown>> = [];
  const children: childProcess.ChildProcess[] = [];

  function client(): grpc.Client {
    const c = new AdsClient(cp.address, grpc.credentials.createInsecure());
    clients.push(c);
    return c;
  }
  function sotw(): RawStream<DiscoveryRequest, DiscoveryResponse__Output> {
    const c = client() as unknown as { StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output> };
    const s = new RawStream(c.StreamAggregatedResources());
    streams.push(s as RawStream<unknown, unknown>);
    return s;
  }
  function delta(): RawStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output> {
    const c = client() as unknown as { DeltaAggregatedResources(): grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output> };
    const s = new RawStream(c.DeltaAggregatedResources());
    streams.push(s as RawStream<unknown, unknown>);
    return s;
  }
  /** Waits until the server has recorded one more request (so any answer to it has already been written). */
  async function recorded(mark: number, predicate: (r: RecordedRequest) => boolean = () => true): Promise<RecordedRequest> {
    return cp.waitForRequest(predicate, 3000, mark);
  }
  function responsesOn(streamId: number): number {
    return cp.responses.filter((r) => r.streamId === streamId).length;
  }

  beforeEach(async () => {
    cp = await startControlPlane();
    cp.setResources(TYPE_URLS.cds, [edsCluster('a'), edsCluster('b'), staticCluster('c', [LOCAL])]);
    cp.setResources(TYPE_URLS.eds, [clusterLoadAssignment('a', [LOCAL]), clusterLoadAssignment('b', [LOCAL])]);
  });

  afterEach(async () => {
    for (const s of streams.splice(0)) s.close();
    for (const c of clients.splice(0)) c.close();
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await cp.stop();
  });

  describe('SotW', () => {
    it('answers a wildcard CDS request with every cluster, then records the ACK (node only on the first request)', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      const response = await s.next();
      assert.equal(response.type_url, TYPE_URLS.cds);
      assert.equal(response.version_info, cp.version(TYPE_URLS.cds));
      assert.notEqual(response.nonce, '');
      assert.deepEqual(names(response), ['a', 'b', 'c']);
      const cluster = schema.unpackAny<Cluster__Output>(response.resources[0]!);
      assert.equal(cluster?.type, 'EDS');

      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.cds, version_info: response.version_info, response_nonce: response.nonce });
      const ack = await recorded(mark);
      assert.equal(ack.kind, 'ACK');
      assert.equal(ack.mode, 'sotw');
      assert.equal(ack.versionInfo, response.version_info);
      assert.equal(ack.node, undefined);
      assert.deepEqual((cp.requests[0]?.node as { id?: string } | undefined)?.id, 'test-node');
      assert.equal(cp.requests[0]?.kind, 'REQUEST');
      assert.equal(responsesOn(ack.streamId), 1, 'an ACK is not answered');
      assert.equal(cp.activeStreams(), 1);
    });

    it('answers a named EDS request with only the named resources that exist, and re-answers when the names change', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.eds, resource_names: ['a', 'missing'] });
      const first = await s.next();
      assert.deepEqual(names(first), ['a']);

      s.send({ type_url: TYPE_URLS.eds, resource_names: ['a', 'b'], version_info: first.version_info, response_nonce: first.nonce });
      const second = await s.next();
      assert.deepEqual(names(second), ['a', 'b']);
      assert.equal(second.version_info, first.version_info, 'same store version, new subscription');
      assert.ok(Number(second.nonce) > Number(first.nonce), 'nonces increase');
      assert.equal(cp.requests.at(-1)?.kind, 'ACK');

      // A change to a resource the stream did not name is not pushed to it; one it named is.
      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.eds, resource_names: ['a', 'b'], version_info: second.version_info, response_nonce: second.nonce });
      const ack = await recorded(mark);
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('z', [LOCAL]));
      assert.equal(responsesOn(ack.streamId), 2);
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('b', [LOCAL, { host: '127.0.0.1', port: 2 }]));
      const pushed = await s.next();
      assert.deepEqual(names(pushed), ['a', 'b']);
      assert.equal(pushed.version_info, cp.version(TYPE_URLS.eds));
    });

    it('records a NACK with its error and does not answer it; the next change is pushed', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      const first = await s.next();
      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.cds, version_info: '', response_nonce: first.nonce, error_detail: { code: 3, message: 'a: connect_timeout: must be positive' } });
      const nack = await recorded(mark);
      assert.equal(nack.kind, 'NACK');
      assert.deepEqual(nack.errorDetail, { code: 3, message: 'a: connect_timeout: must be positive' });
      assert.equal(responsesOn(nack.streamId), 1, 'a NACK is not answered with the same version');
      cp.removeResource(TYPE_URLS.cds, 'a');
      const next = await s.next();
      assert.deepEqual(names(next), ['b', 'c']);
    });

    it('sends full state for wildcard CDS: a removed cluster is absent from the next response, and an empty type is an empty response', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      const first = await s.next();
      s.send({ type_url: TYPE_URLS.cds, version_info: first.version_info, response_nonce: first.nonce });
      cp.removeResource(TYPE_URLS.cds, 'b');
      const second = await s.next();
      assert.deepEqual(names(second), ['a', 'c']);
      assert.notEqual(second.version_info, first.version_info);
      cp.setResources(TYPE_URLS.cds, []);
      const third = await s.next();
      assert.deepEqual(names(third), []);
      assert.equal(third.version_info, cp.version(TYPE_URLS.cds));
    });

    it('treats an empty list as unsubscribe-all once the stream named resources, but keeps a legacy wildcard', async () => {
      const named = sotw();
      named.send({ node: NODE, type_url: TYPE_URLS.eds, resource_names: ['a'] });
      const r1 = await named.next();
      const mark = cp.requests.length;
      named.send({ type_url: TYPE_URLS.eds, resource_names: [], version_info: r1.version_info, response_nonce: r1.nonce });
      const unsubscribe = await recorded(mark);
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('a', [{ host: '127.0.0.1', port: 9 }]));
      assert.equal(responsesOn(unsubscribe.streamId), 1, 'no response after unsubscribing everything');

      const legacy = sotw();
      legacy.send({ node: NODE, type_url: TYPE_URLS.cds });
      const w1 = await legacy.next();
      legacy.send({ type_url: TYPE_URLS.cds, resource_names: [], version_info: w1.version_info, response_nonce: w1.nonce });
      cp.upsertResource(TYPE_URLS.cds, edsCluster('d'));
      assert.deepEqual(names(await legacy.next()), ['a', 'b', 'c', 'd']);

      const explicit = sotw();
      explicit.send({ node: NODE, type_url: TYPE_URLS.cds, resource_names: ['*'] });
      assert.deepEqual(names(await explicit.next()), ['a', 'b', 'c', 'd']);
    });

    it('always answers a first request (empty nonce), even at the current version, and answers an ACK that lacks the current version', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.eds, resource_names: ['a'], version_info: cp.version(TYPE_URLS.eds) });
      const r1 = await s.next();
      assert.equal(r1.version_info, cp.version(TYPE_URLS.eds));
      // A change to another name bumps the EDS version without a push to this stream...
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('z', [LOCAL]));
      assert.equal(s.pending, 0);
      // ...so the ACK of the older version is answered with the current one.
      s.send({ type_url: TYPE_URLS.eds, resource_names: ['a'], version_info: r1.version_info, response_nonce: r1.nonce });
      const r2 = await s.next();
      assert.equal(r2.version_info, cp.version(TYPE_URLS.eds));
      assert.deepEqual(names(r2), ['a']);
      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.eds, resource_names: ['a'], version_info: r2.version_info, response_nonce: r2.nonce });
      const ack = await recorded(mark);
      assert.equal(responsesOn(ack.streamId), 2, 'an ACK of the current version is not answered');
    });

    it('does not answer types that were never set', async () => {
      const s = sotw();
      const mark = cp.requests.length;
      s.send({ node: NODE, type_url: TYPE_URLS.lds });
      const request = await recorded(mark);
      assert.equal(responsesOn(request.streamId), 0);
      cp.setResources(TYPE_URLS.lds, [httpListener('l', 10000, 'r')]);
      assert.deepEqual(names(await s.next()), ['l']);
    });
  });

  describe('delta', () => {
    it('serves a legacy wildcard CDS, named EDS, pushes changes and removed_resources', async () => {
      const s = delta();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      const cds = await s.next();
      assert.equal(cds.type_url, TYPE_URLS.cds);
      assert.equal(cds.system_version_info, cp.version(TYPE_URLS.cds));
      assert.deepEqual(cds.resources.map((r) => r.name), ['a', 'b', 'c']);
      assert.ok(cds.resources.every((r) => r.version.length > 0 && r.resource?.type_url === TYPE_URLS.cds));
      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.cds, response_nonce: cds.nonce });
      const ack = await recorded(mark);
      assert.equal(ack.kind, 'ACK');
      assert.equal(ack.mode, 'delta');

      s.send({ type_url: TYPE_URLS.eds, resource_names_subscribe: ['a', 'missing'] });
      const eds = await s.next();
      assert.deepEqual(eds.resources.map((r) => r.name), ['a']);
      s.send({ type_url: TYPE_URLS.eds, response_nonce: eds.nonce });

      // Only what changed is sent.
      cp.upsertResource(TYPE_URLS.cds, edsCluster('d'));
      const added = await s.next();
      assert.deepEqual(added.resources.map((r) => r.name), ['d']);
      assert.deepEqual(added.removed_resources, []);
      cp.removeResource(TYPE_URLS.cds, 'b');
      const removed = await s.next();
      assert.deepEqual(removed.resources, []);
      assert.deepEqual(removed.removed_resources, ['b']);

      // A newly existing subscribed name arrives; an unsubscribed one is no longer pushed.
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('missing', [LOCAL]));
      assert.deepEqual((await s.next()).resources.map((r) => r.name), ['missing']);
      const mark2 = cp.requests.length;
      s.send({ type_url: TYPE_URLS.eds, resource_names_unsubscribe: ['a'] });
      const unsubscribe = await recorded(mark2);
      const before = responsesOn(unsubscribe.streamId);
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('a', [{ host: '127.0.0.1', port: 7 }]));
      assert.equal(responsesOn(unsubscribe.streamId), before);
      cp.removeResource(TYPE_URLS.eds, 'missing');
      assert.deepEqual((await s.next()).removed_resources, ['missing']);
    });

    it('skips resources whose initial_resource_versions match, and reports known resources that are gone', async () => {
      const first = delta();
      first.send({ node: NODE, type_url: TYPE_URLS.cds, resource_names_subscribe: ['*'] });
      const full = await first.next();
      const versions = Object.fromEntries(full.resources.map((r) => [r.name, r.version]));
      first.close();

      cp.removeResource(TYPE_URLS.cds, 'c');
      cp.upsertResource(TYPE_URLS.cds, staticCluster('b', [{ host: '127.0.0.1', port: 5 }]));
      const again = delta();
      again.send({ node: NODE, type_url: TYPE_URLS.cds, resource_names_subscribe: ['*'], initial_resource_versions: versions });
      const response = await again.next();
      assert.deepEqual(response.resources.map((r) => r.name), ['b']);
      assert.deepEqual(response.removed_resources, ['c']);
      const request = cp.requests.at(-1);
      assert.deepEqual(request?.initialResourceVersions, versions);
      assert.deepEqual(request?.subscribe, ['*']);
    });

    it('resends a resource unsubscribed by name that the wildcard still covers', async () => {
      const s = delta();
      s.send({ node: NODE, type_url: TYPE_URLS.cds, resource_names_subscribe: ['*', 'a'] });
      assert.deepEqual((await s.next()).resources.map((r) => r.name), ['a', 'b', 'c']);
      s.send({ type_url: TYPE_URLS.cds, resource_names_unsubscribe: ['a'] });
      assert.deepEqual((await s.next()).resources.map((r) => r.name), ['a']);
    });

    it('answers a first request with nothing new with an empty response, and applies subscriptions carried by a stale nonce', async () => {
      const s = delta();
      s.send({ node: NODE, type_url: TYPE_URLS.eds, resource_names_subscribe: ['nothing-here'] });
      const empty = await s.next();
      assert.deepEqual(empty.resources, []);
      s.send({ type_url: TYPE_URLS.eds, response_nonce: 'not-a-nonce', resource_names_subscribe: ['b'] });
      const b = await s.next();
      assert.deepEqual(b.resources.map((r) => r.name), ['b']);
      assert.equal(cp.requests.at(-1)?.stale, true);
    });
  });

  describe('test hooks', () => {
    it('neverAnswer records requests without answering them; disabling it sends what is pending', async () => {
      cp.neverAnswer(TYPE_URLS.eds);
      const s = sotw();
      const mark = cp.requests.length;
      s.send({ node: NODE, type_url: TYPE_URLS.eds, resource_names: ['a'] });
      const request = await recorded(mark);
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('a', [{ host: '127.0.0.1', port: 3 }]));
      assert.equal(responsesOn(request.streamId), 0);
      cp.neverAnswer(TYPE_URLS.eds, false);
      assert.deepEqual(names(await s.next()), ['a']);

      const d = delta();
      cp.neverAnswer(TYPE_URLS.cds, true);
      const mark2 = cp.requests.length;
      d.send({ node: NODE, type_url: TYPE_URLS.cds });
      const deltaRequest = await recorded(mark2);
      assert.equal(responsesOn(deltaRequest.streamId), 0);
      cp.neverAnswer(TYPE_URLS.cds, false);
      assert.equal((await d.next()).resources.length, 3);
    });

    it('ignores SotW requests with a stale nonce by default, and acts on them when told to', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.eds, resource_names: ['a'] });
      const r1 = await s.next();
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('a', [{ host: '127.0.0.1', port: 4 }]));
      const r2 = await s.next();
      // The client still replies to r1 and asks for b: the nonce is stale, so istiod-like, the request is dropped.
      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.eds, resource_names: ['a', 'b'], version_info: r1.version_info, response_nonce: r1.nonce });
      const stale = await recorded(mark);
      assert.equal(stale.stale, true);
      assert.equal(stale.kind, 'REQUEST');
      assert.equal(responsesOn(stale.streamId), 2);

      cp.ignoreStaleNonceRequests = false;
      s.send({ type_url: TYPE_URLS.eds, resource_names: ['a', 'b'], version_info: r1.version_info, response_nonce: r1.nonce });
      assert.deepEqual(names(await s.next()), ['a', 'b']);
      assert.ok(r2.nonce !== r1.nonce);
    });

    it('answers a reconnecting client that replays a nonce from its previous stream, like istiod', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds, version_info: '1', response_nonce: '12345' });
      const response = await s.next();
      assert.deepEqual(names(response), ['a', 'b', 'c']);
      const request = cp.requests.at(-1);
      assert.equal(request?.stale, false);
      assert.equal(request?.kind, 'REQUEST');
    });

    it('resendWithStaleNonce resends the current response with the previous nonce; the reply to it is recorded as stale', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      const r1 = await s.next();
      assert.equal(cp.resendWithStaleNonce(TYPE_URLS.cds), 0, 'no older nonce yet');
      cp.upsertResource(TYPE_URLS.cds, edsCluster('d'));
      const r2 = await s.next();
      assert.equal(cp.resendWithStaleNonce(TYPE_URLS.cds), 1);
      const resent = await s.next();
      assert.equal(resent.nonce, r1.nonce);
      assert.equal(resent.version_info, r2.version_info);
      assert.deepEqual(names(resent), ['a', 'b', 'c', 'd']);
      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.cds, version_info: resent.version_info, response_nonce: resent.nonce });
      const reply = await recorded(mark);
      assert.equal(reply.stale, true);
      assert.equal(reply.kind, 'REQUEST');
      assert.equal(cp.responses.at(-1)?.cause, 'stale-nonce');
    });

    it('sendRaw pushes an arbitrary response to SotW streams, filling the nonce; its ACK counts', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      await s.next();
      const dup = schema.packAny('envoy.config.cluster.v3.Cluster', { name: 'dup', type: 'STATIC' });
      cp.sendRaw(TYPE_URLS.cds, { version_info: 'raw-1', resources: [dup, dup] });
      const raw = await s.next();
      assert.equal(raw.type_url, TYPE_URLS.cds);
      assert.equal(raw.version_info, 'raw-1');
      assert.deepEqual(names(raw), ['dup', 'dup']);
      assert.notEqual(raw.nonce, '');
      const mark = cp.requests.length;
      s.send({ type_url: TYPE_URLS.cds, version_info: '', response_nonce: raw.nonce, error_detail: { code: 3, message: 'duplicate cluster dup' } });
      const nack = await recorded(mark);
      assert.equal(nack.kind, 'NACK');
      assert.equal(nack.stale, false);
    });

    it('waitForRequest looks at past requests from an index, waits for future ones, and times out with the recent requests', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      await s.next();
      const past = await cp.waitForRequest((r) => r.typeUrl === TYPE_URLS.cds);
      assert.equal(past, cp.requests[0]);
      const future = cp.waitForRequest((r) => r.typeUrl === TYPE_URLS.cds, 3000, cp.requests.length);
      s.send({ type_url: TYPE_URLS.eds, resource_names: ['a'] });
      s.send({ type_url: TYPE_URLS.cds, resource_names: [], version_info: 'x', response_nonce: 'y' });
      assert.equal((await future).responseNonce, 'y');
      await assert.rejects(cp.waitForRequest((r) => r.typeUrl === 'nothing', 20), /no matching xDS request within 20 ms/);
    });
  });

  describe('lifecycle and files', () => {
    it('restarts on the same port: streams die at once, a new client connects to the new server', async () => {
      const s = sotw();
      s.send({ node: NODE, type_url: TYPE_URLS.cds });
      await s.next();
      assert.equal(cp.activeStreams(), 1);
      const port = cp.port;
      cp = await restartControlPlane(cp);
      assert.equal(cp.port, port);
      assert.equal(cp.activeStreams(), 0);
      const status = await s.status;
      assert.notEqual(status.code, grpc.status.OK, 'the old stream ended with an error');

      cp.setResources(TYPE_URLS.cds, [edsCluster('after-restart')]);
      const again = sotw();
      again.send({ node: NODE, type_url: TYPE_URLS.cds, version_info: '2' });
      assert.deepEqual(names(await again.next()), ['after-restart']);
      assert.equal(cp.activeStreams(), 1);
    });

    it('loads a YAML resources file, pushes only the types that changed, and keeps serving on an invalid file', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-cp-'));
      try {
        const file = path.join(dir, 'resources.yaml');
        fs.writeFileSync(file, yamlResources('5s'));
        cp.loadFile(file);
        assert.deepEqual(cp.resourceNames(TYPE_URLS.cds), ['service_a']);
        assert.deepEqual(cp.resourceNames(TYPE_URLS.eds), ['service_a']);
        assert.deepEqual(cp.resourceNames(TYPE_URLS.lds), ['listener_0']);
        assert.deepEqual(cp.resourceNames(TYPE_URLS.rds), ['local_route']);

        const s = sotw();
        s.send({ node: NODE, type_url: TYPE_URLS.cds });
        const cds = await s.next();
        const cluster = schema.unpackAny<Cluster__Output>(cds.resources[0]!);
        assert.equal(cluster?.connect_timeout?.seconds, '5');

        const versions = [TYPE_URLS.lds, TYPE_URLS.rds, TYPE_URLS.eds].map((t) => cp.version(t));
        fs.writeFileSync(file, yamlResources('7s'));
        cp.loadFile(file);
        assert.deepEqual([TYPE_URLS.lds, TYPE_URLS.rds, TYPE_URLS.eds].map((t) => cp.version(t)), versions, 'unchanged types keep their version');
        const pushed = schema.unpackAny<Cluster__Output>((await s.next()).resources[0]!);
        assert.equal(pushed?.connect_timeout?.seconds, '7');

        const cdsVersion = cp.version(TYPE_URLS.cds);
        fs.writeFileSync(file, `${yamlResources('7s')}- "@type": type.googleapis.com/envoy.config.cluster.v3.Nope\n- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  lb_policy: NOT_A_POLICY\n`);
        assert.throws(
          () => cp.loadFile(file),
          (error: unknown) => {
            assert.ok(error instanceof ResourceFileError);
            const paths = error.errors.map((e) => e.path);
            assert.ok(paths.includes('resources[4].@type'), paths.join(', '));
            assert.ok(paths.some((p) => p.startsWith('resources[5].lb_policy')), paths.join(', '));
            return true;
          },
        );
        assert.equal(cp.version(TYPE_URLS.cds), cdsVersion, 'an invalid file changes nothing');
        assert.throws(() => cp.loadFile(path.join(dir, 'absent.yaml')), ResourceFileError);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('CLI: serves a file on the given port, logs ACKs, reloads the file on change and keeps serving on a bad edit', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-cp-cli-'));
      const file = path.join(dir, 'resources.yaml');
      fs.writeFileSync(file, yamlResources('5s'));
      const child = childProcess.spawn(process.execPath, [path.resolve(__dirname, '../../examples/control-plane/main.js'), file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let output = '';
      const lines: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        for (const waiter of [...lines]) {
          const match = output.match(waiter.pattern);
          if (match !== null) {
            lines.splice(lines.indexOf(waiter), 1);
            waiter.resolve(match);
          }
        }
      });
      const logged = (pattern: RegExp): Promise<RegExpMatchArray> =>
        new Promise((resolve) => {
          const match = output.match(pattern);
          if (match !== null) resolve(match);
          else lines.push({ pattern, resolve });
        });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      try {
        const [, address] = await logged(/over ADS on (127\.0\.0\.1:\d+)/);
        const c = new AdsClient(address!, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
          StreamAggregatedResources(): grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse__Output>;
        };
        clients.push(c);
        const s = new RawStream(c.StreamAggregatedResources());
        streams.push(s as RawStream<unknown, unknown>);
        s.send({ node: NODE, type_url: TYPE_URLS.cds });
        const first = await s.next();
        assert.deepEqual(names(first), ['service_a']);
        s.send({ type_url: TYPE_URLS.cds, version_info: first.version_info, response_nonce: first.nonce });
        await logged(/Cluster ACK nonce/);

        fs.writeFileSync(file, 'resources: [ { "@type": nope } ]\n');
        await logged(/still serving the previous resources/);
        assert.match(output, /resources\[0\]\.@type/);
        fs.writeFileSync(file, yamlResources('9s'));
        const pushed = schema.unpackAny<Cluster__Output>((await s.next()).resources[0]!);
        assert.equal(pushed?.connect_timeout?.seconds, '9');
      } finally {
        child.kill('SIGTERM');
        assert.equal(await exited, 0);
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('parses JSON resource files (camelCase, a single object for the list) and reports every error with its path', () => {
      const good = parseResourceFile(
        schema,
        JSON.stringify({
          versionInfo: 'ignored',
          resources: { '@type': TYPE_URLS.eds, clusterName: 'svc', endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 80 } } } }] }] },
        }),
      );
      assert.ok(good.ok);
      assert.deepEqual(good.value.get(TYPE_URLS.eds)?.map((r) => r.name), ['svc']);
      assert.deepEqual(good.value.get(TYPE_URLS.cds), []);

      const bad = parseResourceFile(
        schema,
        JSON.stringify({
          extra: 1,
          resources: [
            { '@type': TYPE_URLS.cds, name: 'x', type: 'STATIC' },
            { '@type': TYPE_URLS.cds, name: 'x' },
            { '@type': TYPE_URLS.lds },
            'not an object',
            { '@type': TYPE_URLS.rds, name: 'r', no_such_field: true },
          ],
        }),
      );
      assert.equal(bad.ok, false);
      const paths = bad.ok ? [] : bad.errors.map((e) => e.path);
      assert.deepEqual(paths.slice(0, 4), ['extra', 'resources[1].name', 'resources[2].name', 'resources[3]']);
      assert.ok(paths[4]?.startsWith('resources[4]'), paths.join(', '));
      assert.equal(parseResourceFile(schema, 'resources: [ {').ok, false);
    });

    it('loads the sample examples/control-plane/resources.yaml', () => {
      cp.loadFile(path.resolve(__dirname, '../../../examples/control-plane/resources.yaml'));
      assert.deepEqual(cp.resourceNames(TYPE_URLS.lds), ['listener_0']);
      assert.deepEqual(cp.resourceNames(TYPE_URLS.rds), ['local_route']);
      assert.deepEqual(cp.resourceNames(TYPE_URLS.cds).sort(), ['service_a', 'service_static']);
      assert.deepEqual(cp.resourceNames(TYPE_URLS.eds), ['service_a']);
    });
  });
});

function yamlResources(connectTimeout: string): string {
  return `resources:
- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: listener_0
  address: { socket_address: { address: 0.0.0.0, port_value: 10000 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: ingress_http
        codec_type: auto
        rds: { route_config_name: local_route, config_source: { ads: {}, resource_api_version: V3 } }
        http_filters:
        - name: envoy.filters.http.router
          typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
- "@type": type.googleapis.com/envoy.config.route.v3.RouteConfiguration
  name: local_route
  virtual_hosts:
  - { name: local, domains: ["*"], routes: [{ match: { prefix: / }, route: { cluster: service_a } }] }
- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: service_a
  type: EDS
  connect_timeout: ${connectTimeout}
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: V3 } }
- "@type": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment
  cluster_name: service_a
  endpoints:
  - lb_endpoints:
    - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 8081 } } }
`;
}
