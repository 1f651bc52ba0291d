// The open-stream table of an HTTP/2 connection: the same answers as a Map through any mix of adds and deletes,
// including growth and the backward-shift deletions of wrapped probe runs.

import * as assert from 'node:assert/strict';
import { H2StreamTable } from '../../../sidecar/src/codec/http2/h2-stream-table';

interface FakeStream {
  readonly id: number;
}

function checkSame(table: H2StreamTable<FakeStream>, model: Map<number, FakeStream>, probeIds: readonly number[]): void {
  assert.equal(table.size, model.size);
  for (const id of probeIds) assert.equal(table.get(id), model.get(id), `id ${id}`);
  const listed = new Set<FakeStream>();
  for (let i = 0; i < table.size; i++) listed.add(table.item(i));
  assert.deepEqual(listed, new Set(model.values()));
  assert.deepEqual(new Set(table.snapshot()), listed);
}

describe('H2StreamTable', () => {
  it('finds, lists and forgets streams like a Map as client streams open and close (ids rising by 2)', () => {
    const table = new H2StreamTable<FakeStream>();
    const model = new Map<number, FakeStream>();
    let nextId = 1;
    let seed = 11;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 20_000; step++) {
      const open = [...model.keys()];
      if (open.length === 0 || (open.length < 300 && random(3) !== 0)) {
        const stream = { id: nextId };
        nextId += 2;
        table.add(stream);
        model.set(stream.id, stream);
      } else {
        const id = open[random(open.length)]!;
        table.delete(id);
        model.delete(id);
      }
      if (step % 500 === 0) checkSame(table, model, [...model.keys(), nextId, nextId + 2, 2, 0]);
    }
    checkSame(table, model, [...model.keys(), nextId]);
  });

  it('handles ids that collide in a small table (same home slot, wrapped runs) and deletes of absent ids', () => {
    const table = new H2StreamTable<FakeStream>();
    const model = new Map<number, FakeStream>();
    // With 16 slots, ids whose (id >>> 1) differ by 16 share a home; 31 and 63 sit at the end and wrap.
    const ids = [31, 63, 95, 127, 1, 33, 65, 29, 61];
    for (const id of ids) {
      const stream = { id };
      table.add(stream);
      model.set(id, stream);
    }
    checkSame(table, model, [...ids, 3, 97]);
    for (const id of [63, 3, 1, 95, 999]) {
      table.delete(id);
      model.delete(id);
      checkSame(table, model, [...ids, 3, 97]);
    }
    for (const id of [...model.keys()]) {
      table.delete(id);
      model.delete(id);
    }
    checkSame(table, model, ids);
    assert.equal(table.size, 0);
  });

  it('keeps the largest stream id (2^31 - 1)', () => {
    const table = new H2StreamTable<FakeStream>();
    const last = { id: 2 ** 31 - 1 };
    table.add(last);
    assert.equal(table.get(2 ** 31 - 1), last);
    table.delete(2 ** 31 - 1);
    assert.equal(table.get(2 ** 31 - 1), undefined);
  });
});
