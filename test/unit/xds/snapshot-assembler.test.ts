import * as assert from 'node:assert/strict';
import { SnapshotStore } from '../../../sidecar/src/config/snapshot-store';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL as EDS,
  CLUSTER_TYPE_URL as CDS,
  LISTENER_TYPE_URL as LDS,
  ROUTE_CONFIGURATION_TYPE_URL as RDS,
} from '../../../sidecar/src/xds/resources/resource-type';
import { SnapshotAssembler, type DynamicResourceView, type Resolution, type StaticResources } from '../../../sidecar/src/xds/snapshot-assembler';
import { FakeClock, TEST_TYPES, type TestCluster, type TestListener } from '../../support/ads-fakes';

/** A hand-filled cache: values per type, explicit resolutions, settled wildcard types. */
function view(values: Record<string, Record<string, unknown>>, absent: string[] = [], unsettled: string[] = []): DynamicResourceView {
  return {
    wildcardTypeUrls: [LDS, CDS],
    values: (typeUrl) => new Map(Object.entries(values[typeUrl] ?? {})),
    value: (typeUrl, name) => values[typeUrl]?.[name],
    resolution: (typeUrl, name): Resolution => (values[typeUrl]?.[name] !== undefined ? 'value' : absent.includes(`${typeUrl}/${name}`) ? 'absent' : 'pending'),
    typeSettled: (typeUrl) => !unsettled.includes(typeUrl),
  };
}

const listener = (name: string, routes: string[]): TestListener => ({ name, routes });
const cluster = (name: string, eds?: string): TestCluster => ({ name, connectTimeoutS: 1, ...(eds !== undefined ? { eds } : {}) });

describe('SnapshotAssembler', () => {
  function setup(staticResources?: StaticResources) {
    const store = new SnapshotStore();
    const assembler = new SnapshotAssembler({ store, resourceTypes: TEST_TYPES, clock: new FakeClock(), ...(staticResources !== undefined ? { staticResources } : {}) });
    return { store, assembler };
  }

  it('publishes static resources alone when there is no xDS', () => {
    const s = cluster('s');
    const { store, assembler } = setup({ clusters: new Map([['s', s]]) as never });
    assert.equal(assembler.assemble(), 'published');
    assert.equal(store.current?.clusters.get('s'), s);
    assert.equal(store.current?.version, 1);
    assert.equal(assembler.assemble(), 'unchanged');
  });

  it('waits for every RDS and EDS dependency and for the first response of each wildcard type', () => {
    const { store, assembler } = setup();
    const l1 = listener('l1', ['r1']);
    const c1 = cluster('c1', 'svc1');
    assert.equal(assembler.assemble(view({ [LDS]: { l1 }, [CDS]: { c1 } }, [], [LDS])), 'incomplete');
    assert.deepEqual(assembler.missing, ['LDS (first response)', "RDS 'r1'", "EDS 'svc1'"]);
    assert.equal(assembler.assemble(view({ [LDS]: { l1 }, [CDS]: { c1 }, [RDS]: { r1: { name: 'r1' } } })), 'incomplete');
    assert.equal(store.current, undefined);
    const e = { name: 'svc1' };
    assert.equal(assembler.assemble(view({ [LDS]: { l1 }, [CDS]: { c1 }, [RDS]: { r1: { name: 'r1' } }, [EDS]: { svc1: e, stale: { name: 'stale' } } })), 'published');
    const snapshot = store.current as SnapshotStore['current'];
    assert.deepEqual([...(snapshot?.endpoints.keys() ?? [])], ['svc1'], 'unreferenced named resources are left out');
    assert.equal(snapshot?.endpoints.get('svc1'), e);
  });

  it('treats absent dependencies (does-not-exist, fetch timeout, rejected) as resolved', () => {
    const { store, assembler } = setup();
    assert.equal(assembler.assemble(view({ [LDS]: {}, [CDS]: { c1: cluster('c1') , c2: cluster('c2', 'gone') } }, [`${EDS}/gone`])), 'published');
    assert.deepEqual([...(store.current?.clusters.keys() ?? [])], ['c1', 'c2']);
    assert.equal(store.current?.endpoints.size, 0);
  });

  it('lets static resources win and satisfy dependencies; statics are never dropped', () => {
    const sEndpoints = { name: 'svc' };
    const { store, assembler } = setup({ endpoints: new Map([['svc', sEndpoints]]) as never, clusters: new Map([['c1', cluster('c1', 'svc')]]) as never });
    const dynamicC1 = cluster('c1');
    assert.equal(assembler.assemble(view({ [LDS]: {}, [CDS]: { c1: dynamicC1 } })), 'published');
    assert.notEqual(store.current?.clusters.get('c1'), dynamicC1);
    assert.equal(store.current?.endpoints.get('svc'), sEndpoints);
    assert.deepEqual([...assembler.staticValues(EDS).keys()], ['svc']);
  });
});
