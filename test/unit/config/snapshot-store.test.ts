import * as assert from 'node:assert/strict';
import { createConfigSnapshot, sameSnapshotContent, type ConfigSnapshot } from '../../../sidecar/src/config/config-snapshot';
import { SnapshotStore } from '../../../sidecar/src/config/snapshot-store';

function snapshot(version: number): ConfigSnapshot {
  return createConfigSnapshot(version, 0, { listeners: new Map(), routes: new Map(), clusters: new Map(), endpoints: new Map() });
}

describe('SnapshotStore', () => {
  it('is empty until the first publish; whenReady resolves with the first snapshot', async () => {
    const store = new SnapshotStore();
    assert.equal(store.current, undefined);
    const ready = store.whenReady();
    const first = snapshot(1);
    store.publish(first);
    assert.equal(await ready, first);
    assert.equal(await store.whenReady(), first);
    assert.equal(store.current, first);
    assert.equal(first.createdAt, '1970-01-01T00:00:00.000Z');
    assert.ok(Object.isFrozen(first));
  });

  it('notifies subscribers in order until they unsubscribe; a throwing subscriber does not stop the others', () => {
    const store = new SnapshotStore();
    const seen: string[] = [];
    const off = store.subscribe((s) => seen.push(`a${s.version}`));
    store.subscribe(() => {
      throw new Error('boom');
    });
    store.subscribe((s) => seen.push(`c${s.version}`));
    assert.throws(() => store.publish(snapshot(1)), /boom/);
    off();
    assert.throws(() => store.publish(snapshot(2)), /boom/);
    assert.deepEqual(seen, ['a1', 'c1', 'c2']);
    assert.equal(store.current?.version, 2);
  });

  it('rejects a version that does not increase', () => {
    const store = new SnapshotStore();
    store.publish(snapshot(3));
    assert.throws(() => store.publish(snapshot(3)), /not newer/);
  });

  it('compares content by identity', () => {
    const value = { name: 'x' };
    const a = { listeners: new Map(), routes: new Map(), clusters: new Map([['x', value]]), endpoints: new Map() };
    const b = { listeners: new Map(), routes: new Map(), clusters: new Map([['x', value]]), endpoints: new Map() };
    const c = { listeners: new Map(), routes: new Map(), clusters: new Map([['x', { name: 'x' }]]), endpoints: new Map() };
    assert.ok(sameSnapshotContent(a as never, b as never));
    assert.ok(!sameSnapshotContent(a as never, c as never));
  });
});
