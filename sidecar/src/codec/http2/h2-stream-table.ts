// The open streams of one HTTP/2 connection, by stream id.
//
// Not a Map: a Map whose entries come and go at the request rate rebuilds its hash table every few hundred streams,
// and a discarded table that reached the old generation still points at the streams it held. V8's scavenger treats
// those pointers as roots until the next full GC, so finished streams (and their exchanges) survived scavenges and
// were promoted: a mark-compact every second and ~30 MB more peak RSS under gRPC load (issue 3). Here the only
// array that references streams is dense and is replaced only when it grows past the most streams ever open; the
// id index holds numbers only (typed arrays, open addressing with backward-shift deletion, no tombstones).

/** Something with a stream id (odd for client-initiated, even for server-initiated; never 0). */
export interface HasStreamId {
  readonly id: number;
}

const INITIAL_CAPACITY = 16;

export class H2StreamTable<T extends HasStreamId> {
  private readonly list: T[] = [];
  /** Open addressing: ids[i] = a stream id (0 = empty slot), at[i] = that stream's index in `list`. */
  private ids = new Int32Array(INITIAL_CAPACITY);
  private at = new Int32Array(INITIAL_CAPACITY);
  private mask = INITIAL_CAPACITY - 1;

  get size(): number {
    return this.list.length;
  }

  /** The i-th open stream, 0 <= i < size (in no particular order). */
  item(i: number): T {
    return this.list[i] as T;
  }

  /** A copy of the open streams, for loops that close streams as they go. */
  snapshot(): T[] {
    return this.list.slice();
  }

  get(id: number): T | undefined {
    const slot = this.find(id);
    return slot < 0 ? undefined : this.list[this.at[slot] as number];
  }

  /** Adds a stream whose id is not in the table. */
  add(stream: T): void {
    if ((this.list.length + 1) * 2 > this.ids.length) this.grow();
    this.insert(stream.id, this.list.length);
    this.list.push(stream);
  }

  /** Removes the stream with this id, if present. */
  delete(id: number): void {
    const slot = this.find(id);
    if (slot < 0) return;
    const index = this.at[slot] as number;
    this.removeSlot(slot);
    const last = this.list.pop() as T;
    if (index < this.list.length) {
      this.list[index] = last;
      this.at[this.find(last.id)] = index;
    }
  }

  /** Stream ids of one connection share their parity and mostly rise by 2: `id >>> 1` spreads them evenly. */
  private home(id: number): number {
    return (id >>> 1) & this.mask;
  }

  private find(id: number): number {
    if (id === 0) return -1; // 0 marks an empty slot; no stream has it
    const ids = this.ids;
    for (let slot = this.home(id); ; slot = (slot + 1) & this.mask) {
      const found = ids[slot];
      if (found === id) return slot;
      if (found === 0) return -1;
    }
  }

  private insert(id: number, index: number): void {
    let slot = this.home(id);
    while (this.ids[slot] !== 0) slot = (slot + 1) & this.mask;
    this.ids[slot] = id;
    this.at[slot] = index;
  }

  /** Linear probing deletion without tombstones (Knuth 6.4, algorithm R): pull later entries of the run back. */
  private removeSlot(slot: number): void {
    const ids = this.ids;
    const at = this.at;
    const mask = this.mask;
    let hole = slot;
    for (let next = (hole + 1) & mask; ids[next] !== 0; next = (next + 1) & mask) {
      const home = this.home(ids[next] as number);
      // Move the entry into the hole unless its home lies cyclically in (hole, next].
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (stays) continue;
      ids[hole] = ids[next] as number;
      at[hole] = at[next] as number;
      hole = next;
    }
    ids[hole] = 0;
  }

  private grow(): void {
    const capacity = this.ids.length * 2;
    this.ids = new Int32Array(capacity);
    this.at = new Int32Array(capacity);
    this.mask = capacity - 1;
    for (let i = 0; i < this.list.length; i++) this.insert((this.list[i] as T).id, i);
  }
}
