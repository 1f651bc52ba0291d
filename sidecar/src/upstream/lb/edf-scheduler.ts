// Envoy's earliest-deadline-first scheduler (edf_scheduler.h), with createWithPicks: weighted picks in O(log n), no allocation.

class EdfEntry<T> {
  constructor(
    public deadline: number,
    public order: number,
    readonly item: T,
  ) {}
}

/**
 * A min-heap of (deadline, order) over a fixed set of items (specs/load-balancing.md §1.2). `pickAndAdd`
 * returns the earliest entry and re-inserts it at `current + 1/weight(item)`, with the weight read again
 * (least request's weight changes with load). Same double arithmetic in the same order as Envoy, so the same
 * seed gives the same sequence. Cost: O(log n) per pick; entries are reused, nothing is allocated.
 */
export class EdfScheduler<T> {
  private readonly heap: EdfEntry<T>[] = [];
  private currentTime = 0;
  private orderOffset = 0;

  /** An empty scheduler; `add()` items one by one (Envoy before createWithPicks). */
  static empty<T>(): EdfScheduler<T> {
    return new EdfScheduler<T>();
  }

  /**
   * Envoy `EdfScheduler::createWithPicks`: the state after `picks` picks from a fresh scheduler, computed in
   * O(n log n) instead of replaying them (the seed randomises where each LB instance starts in the cycle).
   */
  static createWithPicks<T>(items: readonly T[], weight: (item: T) => number, picks: number): EdfScheduler<T> {
    const s = new EdfScheduler<T>();
    picks = picks % 429_496_729;
    const weights = items.map((item) => weight(item) + 1e-13); // the epsilon avoids wrong picks for multiples
    const total = weights.reduce((a, b) => a + b, 0);
    let picked = 0;
    let maxTime = 0;
    for (let i = 0; i < items.length; i++) {
      const w = weights[i]!;
      let floor = Math.floor((w * picks) / total);
      if (floor > 0 && floor / w >= picks / total) floor -= 1;
      picked += floor;
      maxTime = Math.max(maxTime, floor / w);
      s.heap.push(new EdfEntry((floor + 1) / w, i, items[i]!));
    }
    for (let i = (s.heap.length >> 1) - 1; i >= 0; i--) s.siftDown(i);
    s.currentTime = maxTime;
    s.orderOffset = items.length;
    for (let k = picked; k < picks; k++) s.pickAndAdd(weight);
    return s;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Envoy `add(weight, entry)`: deadline = current + 1/weight. */
  add(weight: number, item: T): void {
    this.heap.push(new EdfEntry(this.currentTime + 1 / weight, this.orderOffset++, item));
    this.siftUp(this.heap.length - 1);
  }

  /** Pops the earliest deadline, advances time to it, re-adds the same item with its current weight. */
  pickAndAdd(weight: (item: T) => number): T | undefined {
    const top = this.heap[0];
    if (top === undefined) return undefined;
    this.currentTime = top.deadline;
    top.deadline = this.currentTime + 1 / weight(top.item);
    top.order = this.orderOffset++;
    this.siftDown(0);
    return top.item;
  }

  private less(a: EdfEntry<T>, b: EdfEntry<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.order < b.order);
  }

  private siftUp(i: number): void {
    const heap = this.heap;
    const entry = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.less(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
  }

  private siftDown(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const entry = heap[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.less(heap[right]!, heap[child]!)) child = right;
      if (!this.less(heap[child]!, entry)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = entry;
  }
}
