import * as assert from 'node:assert/strict';
import type { ConfigSnapshot } from '../../../sidecar/src/config/config-snapshot';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
} from '../../../sidecar/src/xds/resources/resource-type';
import type { StaticResources } from '../../../sidecar/src/xds/snapshot-assembler';
import { XdsClient, type XdsClientOptions } from '../../../sidecar/src/xds/xds-client';
import type { DeltaDiscoveryRequest } from '../../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DiscoveryRequest } from '../../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryRequest';
import { build, deltaResponse, FakeClock, FakeTransport, sotwResponse, TEST_TYPES, testDecodeContext, type Packed, type TestCluster } from '../../support/ads-fakes';

function setup(overrides: Partial<XdsClientOptions> = {}) {
  const clock = new FakeClock();
  const transport = new FakeTransport();
  const client = new XdsClient({
    server: transport.server,
    node: { id: 'sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local', cluster: 'app.ns', client_features: ['envoy.lrs.supports_send_all_clusters'] },
    resourceTypes: TEST_TYPES,
    decodeContext: testDecodeContext(),
    clock,
    transport,
    backoff: { initialMs: 100, multiplier: 2, jitter: 0, maxMs: 1000 },
    userAgentVersion: '9.9.9',
    ...overrides,
  });
  const published: ConfigSnapshot[] = [];
  client.store.subscribe((s) => published.push(s));
  return { client, transport, clock, published, store: client.store };
}

/** The SotW requests of the current call for one type. */
function sotwRequests(transport: FakeTransport, typeUrl: string): DiscoveryRequest[] {
  return transport.sotw.requests.filter((r) => r.type_url === typeUrl);
}

function current(env: { store: { current: ConfigSnapshot | undefined } }): ConfigSnapshot {
  const snapshot = env.store.current;
  assert.ok(snapshot !== undefined, 'no snapshot published');
  return snapshot;
}

function last<T>(items: readonly T[]): T {
  const item = items[items.length - 1];
  assert.ok(item !== undefined, 'expected at least one item');
  return item;
}

/** Brings a SotW client to a complete first snapshot: listener l1 -> route r1; cluster c1 (EDS) -> endpoints c1. */
function bootSotw(env: ReturnType<typeof setup>): void {
  const { client, transport } = env;
  client.start();
  transport.setReady(true);
  transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-c1', [build.edsCluster('c1')]));
  transport.sotw.respond(sotwResponse(LDS, 'l1', 'n-l1', [build.listener('l1', ['r1'])]));
  transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('c1', '10.0.0.1:80')]));
  transport.sotw.respond(sotwResponse(RDS, 'r1', 'n-r1', [build.route('r1')]));
}

describe('XdsClient (SotW, fake transport)', () => {
  it('opens with wildcard CDS then LDS, node with user agent on the first request only, no empty named requests', () => {
    const { client, transport } = setup();
    client.start();
    const requests = transport.sotw.requests;
    assert.deepEqual(requests.map((r) => r.type_url), [CDS, LDS]);
    const [first, second] = requests as [DiscoveryRequest, DiscoveryRequest];
    assert.deepEqual(first.resource_names, []);
    assert.equal(first.version_info, '');
    assert.equal(first.response_nonce, '');
    assert.equal(first.node?.id, 'sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local');
    assert.equal(first.node?.user_agent_name, 'meshlet');
    assert.equal(first.node?.user_agent_version, '9.9.9');
    assert.deepEqual(first.node?.client_features, ['envoy.lrs.supports_send_all_clusters']);
    assert.ok(!(first.node?.client_features ?? []).includes('envoy.lb.does_not_support_overprovisioning'));
    assert.equal(second.node, undefined);
    client.stop();
  });

  it('ACKs with the new version and nonce, then subscribes EDS/RDS by full name list; publishes only the complete tree', () => {
    const env = setup();
    const { client, transport, published } = env;
    client.start();
    transport.setReady(true);
    transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-c1', [build.edsCluster('c1'), build.edsCluster('c2', 'svc2'), build.staticCluster('s1')]));
    const cdsAck = last(sotwRequests(transport, CDS));
    assert.equal(cdsAck.version_info, 'c1');
    assert.equal(cdsAck.response_nonce, 'n-c1');
    assert.equal(cdsAck.error_detail, undefined);
    const edsReq = last(sotwRequests(transport, EDS));
    assert.deepEqual([...(edsReq.resource_names ?? [])].sort(), ['c1', 'svc2']);
    assert.equal(edsReq.response_nonce, '');
    // The ACK goes out before the dependent subscription.
    const order = transport.sotw.requests.map((r) => r.type_url);
    assert.ok(order.lastIndexOf(CDS) < order.indexOf(EDS));
    transport.sotw.respond(sotwResponse(LDS, 'l1', 'n-l1', [build.listener('l1', ['r1'])]));
    assert.deepEqual(last(sotwRequests(transport, RDS)).resource_names, ['r1']);
    transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('c1', '10.0.0.1:80')]));
    transport.sotw.respond(sotwResponse(RDS, 'r1', 'n-r1', [build.route('r1')]));
    assert.equal(published.length, 0, 'svc2 endpoints still missing');
    assert.deepEqual(client.pendingDependencies, ["EDS 'svc2'"]);
    transport.sotw.respond(sotwResponse(EDS, 'e2', 'n-e2', [build.endpoints('svc2', '10.0.0.2:80')]));
    assert.equal(published.length, 1);
    const snap = published[0] as ConfigSnapshot;
    assert.equal(snap.version, 1);
    assert.deepEqual([...snap.clusters.keys()].sort(), ['c1', 'c2', 's1']);
    assert.deepEqual([...snap.endpoints.keys()].sort(), ['c1', 'svc2']);
    assert.deepEqual([...snap.listeners.keys()], ['l1']);
    assert.deepEqual([...snap.routes.keys()], ['r1']);
    // The EDS ACK carries the full list and the latest EDS nonce.
    const edsAck = last(sotwRequests(transport, EDS));
    assert.deepEqual([...(edsAck.resource_names ?? [])].sort(), ['c1', 'svc2']);
    assert.equal(edsAck.response_nonce, 'n-e2');
    assert.equal(edsAck.version_info, 'e2');
    client.stop();
  });

  it('NACKs one invalid cluster with its name and field path, applies the valid ones, keeps the last good value', () => {
    const env = setup();
    const { client, transport, published } = env;
    bootSotw(env);
    assert.equal(published.length, 1);
    transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', [build.edsCluster('c1'), build.staticCluster('ok'), build.badCluster('bad')]));
    const nack = last(sotwRequests(transport, CDS));
    assert.equal(nack.version_info, 'c1', 'version stays at the last accepted');
    assert.equal(nack.response_nonce, 'n-c2');
    assert.equal(nack.error_detail?.code, 3);
    assert.equal(nack.error_detail?.message, "cluster 'bad': connect_timeout: value must be greater than 0s");
    assert.equal(published.length, 2);
    assert.deepEqual([...(published[1] as ConfigSnapshot).clusters.keys()].sort(), ['c1', 'ok']);
    const bad = client.resourceStatuses(CDS).find((r) => r.name === 'bad');
    assert.equal(bad?.status, 'NACKED');
    assert.match(bad?.error ?? '', /connect_timeout/);
    assert.equal(bad?.lastGood, undefined);
    const types = client.typeStatuses().find((t) => t.typeUrl === CDS);
    assert.equal(types?.version, 'c1');
    assert.equal(types?.lastNack?.nonce, 'n-c2');
    // 'ok' now turns invalid: it keeps its last good value, still serves, and is reported NACKED.
    transport.sotw.respond(sotwResponse(CDS, 'c3', 'n-c3', [build.edsCluster('c1'), build.badCluster('ok')]));
    assert.equal(last(sotwRequests(transport, CDS)).version_info, 'c1');
    const ok = client.resourceStatuses(CDS).find((r) => r.name === 'ok');
    assert.equal(ok?.status, 'NACKED');
    assert.equal(ok?.version, 'c2');
    assert.deepEqual(ok?.lastGood, { name: 'ok', connectTimeoutS: 1 });
    assert.ok(env.store.current?.clusters.has('ok'));
    // Fixed: ACKed with the new version.
    transport.sotw.respond(sotwResponse(CDS, 'c4', 'n-c4', [build.edsCluster('c1'), build.staticCluster('ok')]));
    const ack = last(sotwRequests(transport, CDS));
    assert.equal(ack.version_info, 'c4');
    assert.equal(ack.error_detail, undefined);
    assert.equal(client.resourceStatuses(CDS).find((r) => r.name === 'ok')?.status, 'ACKED');
    client.stop();
  });

  it('NACKs a response naming the same resource twice and applies neither copy', () => {
    const env = setup();
    const { client, transport } = env;
    bootSotw(env);
    transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', [build.edsCluster('c1'), build.staticCluster('dup'), build.staticCluster('dup')]));
    const nack = last(sotwRequests(transport, CDS));
    assert.equal(nack.error_detail?.message, "cluster 'dup': appears 2 times in the response");
    assert.equal(nack.version_info, 'c1');
    assert.ok(!env.store.current?.clusters.has('dup'));
    client.stop();
  });

  it('deletes LDS/CDS resources missing from a SotW response, drops their EDS names; EDS/RDS absence means nothing', () => {
    const env = setup();
    const { client, transport, published } = env;
    bootSotw(env);
    transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', [build.edsCluster('c1'), build.edsCluster('c2')]));
    transport.sotw.respond(sotwResponse(EDS, 'e2', 'n-e2', [build.endpoints('c2', '10.0.0.9:80')]));
    assert.deepEqual([...current(env).clusters.keys()].sort(), ['c1', 'c2']);
    assert.deepEqual([...current(env).endpoints.keys()].sort(), ['c1', 'c2'], 'c1 endpoints kept though absent from e2');
    const before = published.length;
    transport.sotw.respond(sotwResponse(CDS, 'c3', 'n-c3', [build.edsCluster('c2')]));
    assert.equal(published.length, before + 1);
    const snap = current(env);
    assert.deepEqual([...snap.clusters.keys()], ['c2']);
    assert.deepEqual([...snap.endpoints.keys()], ['c2']);
    const edsReq = last(sotwRequests(transport, EDS));
    assert.deepEqual(edsReq.resource_names, ['c2']);
    assert.equal(edsReq.response_nonce, 'n-e2');
    assert.deepEqual(client.resourceStatuses(EDS).map((r) => r.name), ['c2']);
    // An empty CDS response deletes every cluster, but the EDS list is then never sent empty.
    const edsCount = sotwRequests(transport, EDS).length;
    transport.sotw.respond(sotwResponse(CDS, 'c4', 'n-c4', []));
    assert.equal(current(env).clusters.size, 0);
    assert.equal(sotwRequests(transport, EDS).length, edsCount);
    client.stop();
  });

  it('ignores unrequested named resources and publishes an EDS-only update at once', () => {
    const env = setup();
    const { transport, published } = env;
    bootSotw(env);
    transport.sotw.respond(sotwResponse(EDS, 'e2', 'n-e2', [build.endpoints('c1', '10.0.0.1:80', '10.0.0.2:80'), build.endpoints('other', '1.1.1.1:1')]));
    assert.equal(published.length, 2);
    const snap = published[1] as ConfigSnapshot;
    assert.deepEqual(snap.endpoints.get('c1'), { name: 'c1', addresses: ['10.0.0.1:80', '10.0.0.2:80'] });
    assert.ok(!snap.endpoints.has('other'));
    assert.equal(snap.clusters.get('c1'), (published[0] as ConfigSnapshot).clusters.get('c1'), 'unchanged resources keep their objects');
    // An identical resend changes nothing.
    transport.sotw.respond(sotwResponse(EDS, 'e3', 'n-e3', [build.endpoints('c1', '10.0.0.1:80', '10.0.0.2:80')]));
    assert.equal(published.length, 2);
    assert.equal(last(sotwRequests(transport, EDS)).version_info, 'e3');
    env.client.stop();
  });

  it('keeps the old snapshot serving while a new cluster warms (its EDS not yet answered, initial_fetch_timeout 0s)', () => {
    const env = setup();
    const { transport, published, clock } = env;
    bootSotw(env);
    transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', [build.edsCluster('c1'), build.edsCluster('new', undefined, 0)]));
    transport.sotw.respond(sotwResponse(LDS, 'l2', 'n-l2', [build.listener('l1', ['r1']), build.listener('l2', [])]));
    clock.advance(600_000);
    assert.equal(published.length, 1, 'nothing published while new is warming');
    assert.ok(!env.store.current?.clusters.has('new'));
    transport.sotw.respond(sotwResponse(EDS, 'e2', 'n-e2', [build.endpoints('new', '10.1.1.1:80')]));
    assert.equal(published.length, 2);
    assert.ok(env.store.current?.clusters.has('new'));
    assert.ok(env.store.current?.listeners.has('l2'));
    env.client.stop();
  });

  it('after a stream that got responses closes: reconnects at once, resends versions and full names with no nonce, node again', () => {
    const env = setup();
    const { client, transport, clock } = env;
    bootSotw(env);
    transport.sotw.close(0, 'max connection age');
    assert.equal(transport.calls.length, 2, 'reconnected without waiting');
    assert.deepEqual(clock.pending().filter((d) => d === 100), [], 'no backoff timer');
    const reqs = transport.sotw.requests;
    assert.deepEqual(reqs.map((r) => r.type_url), [CDS, LDS, EDS, RDS]);
    assert.deepEqual(reqs.map((r) => r.version_info), ['c1', 'l1', 'e1', 'r1']);
    assert.deepEqual(reqs.map((r) => r.response_nonce), ['', '', '', '']);
    assert.deepEqual(reqs.map((r) => r.resource_names), [[], [], ['c1'], ['r1']]);
    assert.ok(reqs[0]?.node !== undefined);
    assert.ok(reqs.slice(1).every((r) => r.node === undefined));
    assert.equal(client.connection.reconnects, 1);
    assert.equal(client.connection.lastError, undefined);
    client.stop();
  });

  it('backs off after failures before any response, keeps the config, and resets backoff on a response', () => {
    const env = setup();
    const { client, transport, clock, published } = env;
    bootSotw(env);
    transport.setReady(false);
    transport.sotw.close(14, 'connection refused');
    assert.equal(transport.calls.length, 2);
    transport.sotw.close(14, 'connection refused');
    assert.equal(client.connection.state, 'BACKOFF');
    assert.equal(client.connection.lastError, '14 connection refused');
    clock.advance(99);
    assert.equal(transport.calls.length, 2);
    clock.advance(1);
    assert.equal(transport.calls.length, 3);
    transport.sotw.close(14, 'connection refused');
    clock.advance(199);
    assert.equal(transport.calls.length, 3);
    clock.advance(1);
    assert.equal(transport.calls.length, 4, 'second delay doubled');
    clock.advance(600_000);
    assert.equal(published.length, 1, 'config unchanged while the server is away');
    assert.ok(env.store.current?.clusters.has('c1'));
    // A response resets the backoff: the next failure waits the initial delay again.
    transport.setReady(true);
    transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-x', [build.edsCluster('c1')]));
    assert.equal(client.connection.state, 'CONNECTED');
    transport.sotw.close(14, 'gone');
    assert.equal(transport.calls.length, 5, 'closed after a response: at once');
    transport.sotw.close(14, 'refused');
    clock.advance(100);
    assert.equal(transport.calls.length, 6);
    client.stop();
  });

  it('runs a named resource\'s wait timer (default 15 s when the referrer sets none) only while the stream is up', () => {
    const env = setup();
    const { client, transport, clock, published } = env;
    client.start();
    transport.setReady(true);
    transport.sotw.respond(sotwResponse(LDS, 'l1', 'n-l1', []));
    transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-c1', [build.edsCluster('c1'), build.edsCluster('ghost')]));
    transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('c1', '10.0.0.1:80')]));
    clock.advance(10_000);
    // Connectivity lost: timers stop, nothing fires however long the server is away.
    transport.setReady(false);
    transport.sotw.close(14, 'unavailable');
    transport.sotw.close(14, 'unavailable');
    clock.advance(60_000);
    assert.equal(client.resourceStatuses(EDS).find((r) => r.name === 'ghost')?.status, 'REQUESTED');
    assert.equal(published.length, 0);
    // Back up: a fresh 15 s.
    clock.advance(100_000);
    transport.setReady(true);
    clock.advance(14_999);
    assert.equal(published.length, 0);
    clock.advance(1);
    assert.equal(client.resourceStatuses(EDS).find((r) => r.name === 'ghost')?.status, 'DOES_NOT_EXIST');
    assert.equal(published.length, 1);
    assert.deepEqual([...(published[0] as ConfigSnapshot).endpoints.keys()], ['c1']);
    assert.ok((published[0] as ConfigSnapshot).clusters.has('ghost'));
    client.stop();
  });

  it('initial_fetch_timeout: a never-answered wildcard type stops blocking readiness after it expires; 0 waits forever', () => {
    const a = setup({ initialFetchTimeoutsMs: { [LDS]: 5_000 } });
    a.client.start();
    a.transport.setReady(true);
    a.transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-c1', [build.staticCluster('s1')]));
    a.clock.advance(4_999);
    assert.equal(a.store.current, undefined);
    a.clock.advance(1);
    assert.deepEqual([...current(a).clusters.keys()], ['s1']);
    a.client.stop();

    const b = setup({ initialFetchTimeoutsMs: { [LDS]: 0 } });
    b.client.start();
    b.transport.setReady(true);
    b.transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-c1', [build.staticCluster('s1')]));
    b.clock.advance(3_600_000);
    assert.equal(b.store.current, undefined);
    b.transport.sotw.respond(sotwResponse(LDS, 'l1', 'n-l1', []));
    assert.ok(b.store.current !== undefined);
    b.client.stop();
  });

  it('always sends the full current list with the latest nonce of the type when a dependency changes', () => {
    const env = setup();
    const { transport } = env;
    bootSotw(env);
    transport.sotw.respond(sotwResponse(RDS, 'r2', 'n-r2', [build.route('r1', 'x')]));
    transport.sotw.respond(sotwResponse(LDS, 'l2', 'n-l2', [build.listener('l1', ['r1']), build.listener('l2', ['r2'])]));
    const req = last(sotwRequests(transport, RDS));
    assert.deepEqual(req.resource_names, ['r1', 'r2']);
    assert.equal(req.response_nonce, 'n-r2');
    assert.equal(req.version_info, 'r2');
    env.client.stop();
  });

  it('ignores a resend carrying an already-seen nonce and keeps replying with the latest nonce', () => {
    const env = setup();
    const { transport } = env;
    bootSotw(env);
    transport.sotw.respond(sotwResponse(EDS, 'e2', 'n-e2', [build.endpoints('c1', '10.0.0.2:80')]));
    const count = transport.sotw.requests.length;
    transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('c1', '10.0.0.1:80')]));
    assert.equal(transport.sotw.requests.length, count, 'no reply with the stale nonce');
    assert.deepEqual((current(env).endpoints.get('c1') as unknown as { addresses: string[] }).addresses, ['10.0.0.2:80'], 'older content not applied');
    transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', [build.edsCluster('c1'), build.edsCluster('c9')]));
    const req = last(sotwRequests(transport, EDS));
    assert.deepEqual(req.resource_names, ['c1', 'c9']);
    assert.equal(req.response_nonce, 'n-e2');
    assert.equal(req.version_info, 'e2');
    env.client.stop();
  });

  it('NACKs a response of a type it does not handle', () => {
    const env = setup({ resourceTypes: TEST_TYPES.filter((t) => t.typeUrl !== RDS) });
    const { transport } = env;
    env.client.start();
    transport.sotw.respond(sotwResponse(RDS, 'r1', 'n-r1', [build.route('r1')]));
    const nack = last(transport.sotw.requests);
    assert.equal(nack.type_url, RDS);
    assert.equal(nack.response_nonce, 'n-r1');
    assert.match(nack.error_detail?.message ?? '', /does not handle/);
    env.client.stop();
  });

  it('includes static resources always, subscribes to their dependencies, and never deletes them on SotW', () => {
    const staticResources: StaticResources = {
      clusters: new Map<string, unknown>([
        ['static-eds', { name: 'static-eds', eds: 'static-eds', connectTimeoutS: 1 } satisfies TestCluster],
        ['static-inline', { name: 'static-inline', connectTimeoutS: 1 } satisfies TestCluster],
      ]) as StaticResources['clusters'] & object,
    };
    const env = setup({ staticResources });
    const { client, transport } = env;
    client.start();
    assert.deepEqual(last(sotwRequests(transport, EDS)).resource_names, ['static-eds']);
    transport.setReady(true);
    transport.sotw.respond(sotwResponse(LDS, 'l1', 'n-l1', []));
    transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-c1', [build.staticCluster('static-inline'), build.staticCluster('d1')]));
    assert.equal(env.store.current, undefined, 'static-eds endpoints pending');
    transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('static-eds', '10.0.0.1:80')]));
    const snap = current(env);
    assert.deepEqual([...snap.clusters.keys()].sort(), ['d1', 'static-eds', 'static-inline']);
    assert.equal(snap.clusters.get('static-inline'), staticResources.clusters?.get('static-inline'), 'static wins over dynamic of the same name');
    transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', []));
    assert.deepEqual([...current(env).clusters.keys()].sort(), ['static-eds', 'static-inline']);
    client.stop();
  });

  it('NACKs resources it cannot decode or whose type_url differs, naming them', () => {
    const env = setup();
    const { transport } = env;
    bootSotw(env);
    transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', [build.edsCluster('c1'), build.listener('x'), { type_url: CDS, value: Buffer.from([0xff, 0xff]) }]));
    const nack = last(sotwRequests(transport, CDS));
    assert.match(nack.error_detail?.message ?? '', /cluster #1 \(no name\): type_url .*Listener does not match/);
    assert.match(nack.error_detail?.message ?? '', /cluster #2 \(no name\): cannot decode/);
    assert.ok(env.store.current?.clusters.has('c1'), 'no full-state deletion when a resource had no name');
    env.client.stop();
  });

  it('exposes connection, type and resource status', () => {
    const env = setup();
    const { client } = env;
    bootSotw(env);
    assert.deepEqual(client.connection, { state: 'CONNECTED', server: '127.0.0.1:1', reconnects: 0 });
    const types = client.typeStatuses();
    assert.deepEqual(types.map((t) => [t.shortName, t.wildcard, t.version, t.nonce]), [
      ['CDS', true, 'c1', 'n-c1'],
      ['LDS', true, 'l1', 'n-l1'],
      ['EDS', false, 'e1', 'n-e1'],
      ['RDS', false, 'r1', 'n-r1'],
    ]);
    assert.equal(types[0]?.lastAck?.version, 'c1');
    const c1 = client.resourceStatuses(CDS)[0];
    assert.equal(c1?.name, 'c1');
    assert.equal(c1?.status, 'ACKED');
    assert.equal(c1?.version, 'c1');
    assert.match(c1?.lastUpdated ?? '', /^\d{4}-\d\d-\d\dT/);
    assert.deepEqual(c1?.lastGood, { name: 'c1', eds: 'c1', connectTimeoutS: 1 });
    client.stop();
  });

  it('stop() cancels the call and closes the transport; later events are ignored', () => {
    const env = setup();
    const { client, transport, clock } = env;
    bootSotw(env);
    const call = transport.sotw;
    client.stop();
    assert.ok(call.cancelled);
    assert.ok(transport.closed);
    clock.advance(600_000);
    assert.equal(transport.calls.length, 1);
  });
});

describe('XdsClient initial_fetch_timeout of named resources (fake clock)', () => {
  const TEN_MINUTES = 600_000;

  /** Starts a SotW client with the stream up and answers CDS and LDS. */
  function startWith(clusters: Packed[], listeners: Packed[]) {
    const env = setup();
    env.client.start();
    env.transport.setReady(true);
    env.transport.sotw.respond(sotwResponse(CDS, 'c1', 'n-c1', clusters));
    env.transport.sotw.respond(sotwResponse(LDS, 'l1', 'n-l1', listeners));
    return env;
  }

  function statusOf(env: ReturnType<typeof setup>, typeUrl: string, name: string): string | undefined {
    return env.client.resourceStatuses(typeUrl).find((r) => r.name === name)?.status;
  }

  it('EDS referenced with 0s never becomes absent: not ready after 10 minutes with the stream up, REQUESTED; ready once it arrives', () => {
    const env = startWith([build.edsCluster('c1', undefined, 0)], []);
    env.clock.advance(TEN_MINUTES);
    assert.equal(env.store.current, undefined);
    assert.equal(statusOf(env, EDS, 'c1'), 'REQUESTED');
    assert.deepEqual(env.client.pendingDependencies, ["EDS 'c1'"]);
    assert.deepEqual(env.clock.pending(), [], 'no timer left running');
    env.transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('c1', '10.0.0.1:80')]));
    assert.deepEqual([...current(env).endpoints.keys()], ['c1']);
    env.client.stop();
  });

  it('EDS referenced with 5s is DOES_NOT_EXIST at 5 s: the snapshot has the cluster without endpoints', () => {
    const env = startWith([build.edsCluster('c1', undefined, 5_000), build.staticCluster('s1')], []);
    env.clock.advance(4_999);
    assert.equal(env.store.current, undefined);
    assert.equal(statusOf(env, EDS, 'c1'), 'REQUESTED');
    env.clock.advance(1);
    assert.equal(statusOf(env, EDS, 'c1'), 'DOES_NOT_EXIST');
    assert.deepEqual([...current(env).clusters.keys()].sort(), ['c1', 's1']);
    assert.equal(current(env).endpoints.size, 0);
    // Arriving later still counts.
    env.transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('c1', '10.0.0.1:80')]));
    assert.equal(statusOf(env, EDS, 'c1'), 'ACKED');
    assert.deepEqual([...current(env).endpoints.keys()], ['c1']);
    env.client.stop();
  });

  it('RDS referenced with 0s never becomes absent; with 5s the listener is published without its routes at 5 s', () => {
    const forever = startWith([build.staticCluster('s1')], [build.rdsListener('l1', ['r1'], 0)]);
    forever.clock.advance(TEN_MINUTES);
    assert.equal(forever.store.current, undefined);
    assert.equal(statusOf(forever, RDS, 'r1'), 'REQUESTED');
    forever.client.stop();

    const five = startWith([build.staticCluster('s1')], [build.rdsListener('l1', ['r1'], 5_000)]);
    five.clock.advance(4_999);
    assert.equal(five.store.current, undefined);
    five.clock.advance(1);
    assert.equal(statusOf(five, RDS, 'r1'), 'DOES_NOT_EXIST');
    assert.deepEqual([...current(five).listeners.keys()], ['l1']);
    assert.equal(current(five).routes.size, 0);
    five.client.stop();
  });

  it('a referrer that sets no timeout waits the default 15 s (RDS)', () => {
    const env = startWith([], [build.listener('l1', ['r1'])]);
    env.clock.advance(14_999);
    assert.equal(env.store.current, undefined);
    env.clock.advance(1);
    assert.equal(statusOf(env, RDS, 'r1'), 'DOES_NOT_EXIST');
    assert.deepEqual([...current(env).listeners.keys()], ['l1']);
    env.client.stop();
  });

  it('several referrers: the longest wait wins and 0 beats any timeout; limits follow the referrers, counted from the first send', () => {
    // c-forever (0s) and c-five (5s) share EDS 'svc': waits forever.
    const env = startWith([build.edsCluster('c-forever', 'svc', 0), build.edsCluster('c-five', 'svc', 5_000)], []);
    env.clock.advance(TEN_MINUTES);
    assert.equal(env.store.current, undefined);
    assert.equal(statusOf(env, EDS, 'svc'), 'REQUESTED');
    // The 0s referrer goes away: 5 s since the first send have long passed, so 'svc' is given up on at once.
    env.transport.sotw.respond(sotwResponse(CDS, 'c2', 'n-c2', [build.edsCluster('c-five', 'svc', 5_000)]));
    env.clock.advance(0);
    assert.equal(statusOf(env, EDS, 'svc'), 'DOES_NOT_EXIST');
    assert.deepEqual([...current(env).clusters.keys()], ['c-five']);
    env.client.stop();

    // 5 s and 8 s: the longer, 8 s.
    const two = startWith([build.edsCluster('a', 'svc', 5_000), build.edsCluster('b', 'svc', 8_000)], []);
    two.clock.advance(7_999);
    assert.equal(statusOf(two, EDS, 'svc'), 'REQUESTED');
    two.clock.advance(1);
    assert.equal(statusOf(two, EDS, 'svc'), 'DOES_NOT_EXIST');
    assert.deepEqual([...current(two).clusters.keys()].sort(), ['a', 'b']);
    two.client.stop();
  });

  it('does not run while the stream is down and starts afresh with the next stream', () => {
    const env = startWith([build.edsCluster('c1', undefined, 5_000)], []);
    env.clock.advance(3_000);
    // A healthy close (after responses): reconnect at once; the wait restarts with the new stream.
    env.transport.sotw.close(0, 'max connection age');
    env.clock.advance(4_999);
    assert.equal(statusOf(env, EDS, 'c1'), 'REQUESTED');
    // Connectivity lost before any response on this stream: no timer at all, however long.
    env.transport.setReady(false);
    env.transport.sotw.close(14, 'unavailable');
    env.clock.advance(TEN_MINUTES);
    assert.equal(statusOf(env, EDS, 'c1'), 'REQUESTED');
    assert.equal(env.store.current, undefined);
    env.transport.setReady(true);
    env.clock.advance(4_999);
    assert.equal(statusOf(env, EDS, 'c1'), 'REQUESTED');
    env.clock.advance(1);
    assert.equal(statusOf(env, EDS, 'c1'), 'DOES_NOT_EXIST');
    assert.ok(current(env).clusters.has('c1'));
    env.client.stop();
  });

  it('a rejected EDS without a last good value is absent even with 0s (Envoy: onConfigUpdateFailed lets warming finish)', () => {
    const env = startWith([build.edsCluster('c1', undefined, 0)], []);
    env.transport.sotw.respond(sotwResponse(EDS, 'e1', 'n-e1', [build.endpoints('c1', '10.0.0.1:80'), build.endpoints('c1', '10.0.0.2:80')]));
    assert.match(last(sotwRequests(env.transport, EDS)).error_detail?.message ?? '', /appears 2 times/);
    assert.equal(statusOf(env, EDS, 'c1'), 'NACKED');
    assert.ok(current(env).clusters.has('c1'));
    assert.equal(current(env).endpoints.size, 0);
    env.client.stop();
  });

  it('delta: a 0s EDS waits forever, and removed_resources makes it absent at once', () => {
    const env = setup({ delta: true });
    env.client.start();
    env.transport.setReady(true);
    env.transport.delta.respond(deltaResponse(CDS, 'd1', [{ name: 'c1', version: 'v1', any: build.edsCluster('c1', undefined, 0) }]));
    env.transport.delta.respond(deltaResponse(LDS, 'd2', []));
    env.clock.advance(TEN_MINUTES);
    assert.equal(env.store.current, undefined);
    env.transport.delta.respond(deltaResponse(EDS, 'd3', [], ['c1']));
    assert.equal(statusOf(env, EDS, 'c1'), 'DOES_NOT_EXIST');
    assert.equal(current(env).endpoints.size, 0);
    env.client.stop();
  });
});

describe('XdsClient (delta, fake transport)', () => {
  function deltaRequests(transport: FakeTransport, typeUrl: string): DeltaDiscoveryRequest[] {
    return transport.delta.requests.filter((r) => r.type_url === typeUrl);
  }

  function bootDelta(env: ReturnType<typeof setup>): void {
    env.client.start();
    env.transport.setReady(true);
    env.transport.delta.respond(deltaResponse(CDS, 'd1', [{ name: 'c1', version: 'v1', any: build.edsCluster('c1') }]));
    env.transport.delta.respond(deltaResponse(LDS, 'd2', [{ name: 'l1', version: 'v1', any: build.listener('l1', ['r1']) }]));
    env.transport.delta.respond(deltaResponse(EDS, 'd3', [{ name: 'c1', version: 'v1', any: build.endpoints('c1', '10.0.0.1:80') }]));
    env.transport.delta.respond(deltaResponse(RDS, 'd4', [{ name: 'r1', version: 'v1', any: build.route('r1') }]));
  }

  it('subscribes wildcard with empty lists, named with subscribe deltas, ACKs by nonce, publishes complete snapshots', () => {
    const env = setup({ delta: true });
    const { transport, published } = env;
    env.client.start();
    const [cds, lds] = transport.delta.requests as [DeltaDiscoveryRequest, DeltaDiscoveryRequest];
    assert.equal(cds.type_url, CDS);
    assert.deepEqual(cds.resource_names_subscribe, []);
    assert.equal(cds.node?.user_agent_name, 'meshlet');
    assert.equal(lds.type_url, LDS);
    assert.equal(lds.node, undefined);
    bootDelta(env);
    assert.equal(published.length, 1);
    const eds = deltaRequests(transport, EDS);
    assert.deepEqual(eds[0]?.resource_names_subscribe, ['c1']);
    assert.equal(eds[0]?.response_nonce, '');
    assert.deepEqual(last(eds).response_nonce, 'd3');
    assert.deepEqual(last(eds).resource_names_subscribe, []);
    assert.equal(last(eds).error_detail, undefined);
    env.client.stop();
  });

  it('applies removed_resources, unsubscribes names nothing needs, and NACKs invalid resources while applying valid ones', () => {
    const env = setup({ delta: true });
    const { transport } = env;
    bootDelta(env);
    transport.delta.respond(deltaResponse(CDS, 'd5', [{ name: 'c2', version: 'v2', any: build.edsCluster('c2') }, { name: 'bad', version: 'v2', any: build.badCluster('bad') }]));
    const nack = last(deltaRequests(transport, CDS));
    assert.equal(nack.response_nonce, 'd5');
    assert.equal(nack.error_detail?.message, "cluster 'bad': connect_timeout: value must be greater than 0s");
    assert.deepEqual(last(deltaRequests(transport, EDS)).resource_names_subscribe, ['c2']);
    transport.delta.respond(deltaResponse(EDS, 'd6', [{ name: 'c2', version: 'v1', any: build.endpoints('c2', '10.0.0.2:80') }]));
    assert.deepEqual([...current(env).clusters.keys()].sort(), ['c1', 'c2']);
    transport.delta.respond(deltaResponse(CDS, 'd7', [], ['c1']));
    assert.deepEqual([...current(env).clusters.keys()], ['c2']);
    const unsub = last(deltaRequests(transport, EDS));
    assert.deepEqual(unsub.resource_names_unsubscribe, ['c1']);
    assert.equal(unsub.response_nonce, '');
    // EDS removal of a watched name: does not exist, endpoints gone from the snapshot.
    transport.delta.respond(deltaResponse(EDS, 'd8', [], ['c2']));
    assert.equal(env.client.resourceStatuses(EDS)[0]?.status, 'DOES_NOT_EXIST');
    assert.equal(current(env).endpoints.size, 0);
    env.client.stop();
  });

  it('on reconnect resends every name with initial_resource_versions and no nonce', () => {
    const env = setup({ delta: true });
    const { transport } = env;
    bootDelta(env);
    transport.delta.close(0, 'bye');
    const reqs = transport.delta.requests;
    assert.deepEqual(reqs.map((r) => r.type_url), [CDS, LDS, EDS, RDS]);
    assert.deepEqual(reqs.map((r) => r.response_nonce), ['', '', '', '']);
    assert.deepEqual(reqs.map((r) => r.resource_names_subscribe), [[], [], ['c1'], ['r1']]);
    assert.deepEqual(reqs.map((r) => r.initial_resource_versions), [{ c1: 'v1' }, { l1: 'v1' }, { c1: 'v1' }, { r1: 'v1' }]);
    assert.ok(reqs[0]?.node !== undefined);
    env.client.stop();
  });
});
