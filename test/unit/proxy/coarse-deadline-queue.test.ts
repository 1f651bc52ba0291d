// The shared queue of far stream deadlines: near ones are refused (the caller arms its own timer), far ones are
// handed over once they come near, removed ones never are.

import * as assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { CoarseDeadlineQueue, type DeadlineHolder } from '../../../sidecar/src/proxy/coarse-deadline-queue';

class Holder implements DeadlineHolder {
  near = 0;
  deadlineSlot = -1;
  constructor(public timerAt: number) {}
  deadlineNear(): void {
    this.near += 1;
  }
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe('coarse deadline queue', function () {
  this.timeout(10_000);

  it('refuses a deadline within a second (the caller arms a precise timer)', () => {
    const queue = new CoarseDeadlineQueue<Holder>();
    const now = performance.now();
    assert.equal(queue.add(new Holder(now + 500), now), false);
    assert.equal(queue.size, 0);
  });

  it('hands a far deadline over once it comes near, exactly once', async () => {
    const queue = new CoarseDeadlineQueue<Holder>();
    const now = performance.now();
    const holder = new Holder(now + 1_050);
    assert.equal(queue.add(holder, now), true);
    assert.equal(holder.near, 0);
    await until(() => holder.near > 0);
    assert.ok(performance.now() < holder.timerAt, 'handed over before the deadline');
    await until(() => queue.size === 0);
    assert.equal(holder.near, 1);
  });

  it('never hands over a removed holder, and keeps the others', async () => {
    const queue = new CoarseDeadlineQueue<Holder>();
    const now = performance.now();
    const removed = new Holder(now + 1_020);
    const kept = new Holder(now + 1_030);
    queue.add(removed, now);
    queue.add(kept, now);
    queue.remove(removed);
    await until(() => kept.near > 0);
    assert.equal(removed.near, 0);
    assert.equal(queue.size, 0);
  });

  it('keeps every holder once through adds and removes in any order (slots stay right after swap-removes)', () => {
    const queue = new CoarseDeadlineQueue<Holder>();
    const now = performance.now();
    const holders = Array.from({ length: 50 }, (_, i) => new Holder(now + 60_000 + i));
    const queued = new Set<Holder>();
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let step = 0; step < 2_000; step++) {
      const holder = holders[random(holders.length)]!;
      if (random(2) === 0) {
        queue.add(holder, now);
        queued.add(holder);
      } else {
        queue.remove(holder);
        queued.delete(holder);
      }
      assert.equal(queue.size, queued.size);
    }
    for (const holder of holders) assert.equal(holder.deadlineSlot >= 0, queued.has(holder));
    const slots = [...queued].map((h) => h.deadlineSlot).sort((a, b) => a - b);
    assert.deepEqual(slots, [...Array(queued.size).keys()], 'slots are 0..size-1, each once');
    for (const holder of holders) queue.remove(holder);
    assert.equal(queue.size, 0);
  });
});
