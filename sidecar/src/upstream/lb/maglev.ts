// MAGLEV: Envoy's Maglev lookup table (prime size, default 65537) filled from per-host permutations, indexed by the request hash.

import { hash64Mod, xxHash64 } from '../../core/xxhash64';
import type { ConsistentHashingConfig } from '../../config/cluster-config';
import type { Host } from '../host';
import { randomUint32, type Balancer, type RandomSource } from './balancer';
import { hashKey, normalizedWeights } from './hash-key';
import type { PickContext } from './pick-context';

/** The table knobs (from `LbPolicyConfig` kind `maglev`). */
export interface MaglevOptions {
  /** Prime, default 65537, at most 5 000 011. */
  readonly tableSize: number;
  readonly consistentHashing: Pick<ConsistentHashingConfig, 'useHostnameForHashing'>;
}

export const DEFAULT_MAGLEV_TABLE_SIZE = 65_537;

/**
 * Envoy `MaglevTable` (maglev_lb.cc, specs §1.6). Hosts sorted by hash key; per host `offset = XXH64(key, 0) % M`,
 * `skip = XXH64(key, 1) % (M − 1) + 1`, permutation `(offset + skip·next) % M`. Fill rounds `iteration = 1, 2, …`:
 * a host takes its next free slot when `iteration·w >= target` (then `target += max_w`), so slots follow the
 * normalised weights. Lookup `table[hash % M]`; host-selection retry k uses `hash ^ (2^64 − k)`.
 * Cost: build O(M·rounds); pick O(1), no allocation.
 */
export class MaglevBalancer implements Balancer {
  private readonly table: Host[];
  private readonly tableSize: number;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: RandomSource,
    options: MaglevOptions,
  ) {
    const m = options.tableSize > 1 ? options.tableSize : DEFAULT_MAGLEV_TABLE_SIZE;
    this.tableSize = m;
    this.table = [];
    if (hosts.length === 0) return;
    const useHostname = options.consistentHashing.useHostnameForHashing;
    const { weights, max } = normalizedWeights(hosts);
    const entries = hosts.map((host, i) => {
      const key = hashKey(host, useHostname);
      const h0 = xxHash64(key, 0);
      const h1 = xxHash64(key, 1);
      return { host, key, weight: weights[i]!, offset: hash64Mod(h0.hi, h0.lo, m), skip: hash64Mod(h1.hi, h1.lo, m - 1) + 1, next: 0, target: 0 };
    });
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const table = new Array<Host | undefined>(m).fill(undefined);
    let filled = 0;
    for (let iteration = 1; filled < m; iteration++) {
      for (let i = 0; i < entries.length && filled < m; i++) {
        const e = entries[i]!;
        if (iteration * e.weight < e.target) continue;
        e.target += max;
        let c = (e.offset + e.skip * e.next) % m;
        while (table[c] !== undefined) {
          e.next++;
          c = (e.offset + e.skip * e.next) % m;
        }
        table[c] = e.host;
        e.next++;
        filled++;
      }
    }
    this.table = table as Host[];
  }

  get size(): number {
    return this.hosts.length;
  }

  /** The table as host keys (tests, admin). */
  slots(): string[] {
    return this.table.map((h) => h.key);
  }

  pick(context: PickContext, attempt: number): Host | undefined {
    if (this.table.length === 0) return undefined;
    const hash = context.hash;
    let hi = hash === undefined ? randomUint32(this.random) : hash.hi;
    let lo = hash === undefined ? randomUint32(this.random) : hash.lo;
    if (attempt > 0) {
      // ~0ULL - attempt + 1 = 2^64 - attempt.
      hi = (hi ^ 0xffffffff) >>> 0;
      lo = (lo ^ ((0x100000000 - attempt) >>> 0)) >>> 0;
    }
    return this.table[hash64Mod(hi, lo, this.tableSize)];
  }
}
