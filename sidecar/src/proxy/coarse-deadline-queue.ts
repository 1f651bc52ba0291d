// Far deadlines without a node timer each: streams whose next deadline is seconds away (route timeout 15 s, stream
// idle timeout 5 min) wait in one list swept by one timer, and get their own precise timer only when the deadline
// comes near. Most requests finish long before: per request an append and a swap-remove instead of a node Timeout.
//
// A dense array with the position kept on the holder, not a Set: a Set whose entries come and go at the request
// rate rebuilds its hash table every few hundred requests, and each discarded table, once in the old generation,
// still points at the requests it held. V8's scavenger treats those pointers as roots until the next full GC, so
// finished requests survived scavenges and were promoted: ~0.7 MB per scavenge at 40k rps, a mark-compact every
// ~0.7 s and 30 MB more peak RSS (measured with --trace-gc-nvp and the sampling heap profiler; issue 3). The
// array's backing store is replaced only when it grows past the most streams ever in flight.

import { performance } from 'node:perf_hooks';

/** A stream with one deadline (performance.now() ms). */
export interface DeadlineHolder {
  /** When its timer should fire; read at every sweep. */
  readonly timerAt: number;
  /** The holder's index in the queue, -1 when not queued; owned by the queue (initialise it to -1). */
  deadlineSlot: number;
  /** The deadline is at most NEAR_MS away (or passed): arm a precise timer now. */
  deadlineNear(now: number): void;
}

/** Deadlines further away than this wait in the queue; nearer ones get a node timer right away. */
const NEAR_MS = 1000;
/** Sweep period: well under NEAR_MS, so a deadline is handed over with most of NEAR_MS to spare. */
const SWEEP_MS = 100;

/**
 * Invariants: a holder is queued at most once (`deadlineSlot` is its index, -1 outside); `add` queues only
 * deadlines more than NEAR_MS away, and a sweep hands over every holder whose deadline is within NEAR_MS, so a
 * deadline is never late by more than the event loop's own delay. The sweep timer runs only while holders are
 * queued.
 */
export class CoarseDeadlineQueue<T extends DeadlineHolder> {
  private readonly holders: T[] = [];
  private sweeper: NodeJS.Timeout | null = null;

  /** Queues `holder` when its deadline is far; false when it is near (the caller arms its own timer). */
  add(holder: T, now: number): boolean {
    if (holder.timerAt - now <= NEAR_MS) return false;
    if (holder.deadlineSlot < 0) {
      holder.deadlineSlot = this.holders.length;
      this.holders.push(holder);
    }
    if (this.sweeper === null) this.sweeper = setTimeout(sweepQueue, SWEEP_MS, this);
    return true;
  }

  remove(holder: T): void {
    const slot = holder.deadlineSlot;
    if (slot < 0) return;
    holder.deadlineSlot = -1;
    const last = this.holders.pop() as T;
    if (last !== holder) {
      this.holders[slot] = last;
      last.deadlineSlot = slot;
    }
  }

  /** Holders queued now (for tests). */
  get size(): number {
    return this.holders.length;
  }

  /** @internal the sweep timer's handler. */
  sweep(): void {
    this.sweeper = null;
    const now = performance.now();
    // Backwards: a removal moves the last holder into the freed slot, which this loop has already visited.
    for (let i = this.holders.length - 1; i >= 0; i--) {
      const holder = this.holders[i] as T;
      if (holder.timerAt - now > NEAR_MS) continue;
      this.remove(holder);
      holder.deadlineNear(now);
    }
    if (this.holders.length > 0) this.sweeper = setTimeout(sweepQueue, SWEEP_MS, this);
  }
}

function sweepQueue(queue: CoarseDeadlineQueue<DeadlineHolder>): void {
  queue.sweep();
}
