// Far deadlines without a node timer each: streams whose next deadline is seconds away (route timeout 15 s, stream
// idle timeout 5 min) wait in one set swept by one timer, and get their own precise timer only when the deadline
// comes near. Most requests finish long before: per request a set insert and delete instead of a node Timeout.

import { performance } from 'node:perf_hooks';

/** A stream with one deadline (performance.now() ms). */
export interface DeadlineHolder {
  /** When its timer should fire; read at every sweep. */
  readonly timerAt: number;
  /** The deadline is at most NEAR_MS away (or passed): arm a precise timer now. */
  deadlineNear(now: number): void;
}

/** Deadlines further away than this wait in the queue; nearer ones get a node timer right away. */
const NEAR_MS = 1000;
/** Sweep period: well under NEAR_MS, so a deadline is handed over with most of NEAR_MS to spare. */
const SWEEP_MS = 100;

/**
 * Invariants: a holder is queued at most once; `add` queues only deadlines more than NEAR_MS away, and a sweep
 * hands over every holder whose deadline is within NEAR_MS, so a deadline is never late by more than the event
 * loop's own delay. The sweep timer runs only while holders are queued.
 */
export class CoarseDeadlineQueue<T extends DeadlineHolder> {
  private readonly holders = new Set<T>();
  private sweeper: NodeJS.Timeout | null = null;

  /** Queues `holder` when its deadline is far; false when it is near (the caller arms its own timer). */
  add(holder: T, now: number): boolean {
    if (holder.timerAt - now <= NEAR_MS) return false;
    this.holders.add(holder);
    if (this.sweeper === null) this.sweeper = setTimeout(sweepQueue, SWEEP_MS, this);
    return true;
  }

  remove(holder: T): void {
    this.holders.delete(holder);
  }

  /** Holders queued now (for tests). */
  get size(): number {
    return this.holders.size;
  }

  /** @internal the sweep timer's handler. */
  sweep(): void {
    this.sweeper = null;
    const now = performance.now();
    for (const holder of this.holders) {
      if (holder.timerAt - now > NEAR_MS) continue;
      this.holders.delete(holder);
      holder.deadlineNear(now);
    }
    if (this.holders.size > 0) this.sweeper = setTimeout(sweepQueue, SWEEP_MS, this);
  }
}

function sweepQueue(queue: CoarseDeadlineQueue<DeadlineHolder>): void {
  queue.sweep();
}
