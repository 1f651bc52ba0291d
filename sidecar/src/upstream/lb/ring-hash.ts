// RING_HASH: Envoy's ketama ring of xxHash64 (or MurmurHash2) points per host, looked up by the request hash.

import { xxHash64 } from '../../core/xxhash64';
import type { ConsistentHashingConfig } from '../../config/cluster-config';
import type { Host } from '../host';
import { randomUint32, type Balancer, type RandomSource } from './balancer';
import { hashKey, normalizedWeights } from './hash-key';
import { murmurHash2 } from './murmur-hash2';
import type { PickContext } from './pick-context';

/** The ring knobs (from `LbPolicyConfig` kind `ring_hash`). */
export interface RingHashOptions {
  /** Default 1024. */
  readonly minimumRingSize: number;
  /** Default 8 388 608. */
  readonly maximumRingSize: number;
  readonly hashFunction: 'XX_HASH' | 'MURMUR_HASH_2';
  readonly consistentHashing: Pick<ConsistentHashingConfig, 'useHostnameForHashing'>;
}

const MAX_RING_SIZE = 8_388_608;

/**
 * Envoy `RingHashLoadBalancer::Ring` (ring_hash_lb.cc, specs §1.5). Build: `scale = min(ceil(min_w·min_ring)/min_w,
 * max_ring)`; walking the hosts in order with a running target `Σ scale·w_i`, each host adds points
 * `hash(hashKey + "_" + i)` while the running count is below the target; the points are sorted by hash. Lookup is
 * ketama's binary search (first point with `hash >= h`, wrapping to 0) ported as is; a host-selection retry k
 * takes the point k places further on. Hashes are kept as two Uint32Arrays (hi, lo): no BigInt, no allocation per
 * pick. Cost: build O(R log R) for R points; pick O(log R).
 */
export class RingHashBalancer implements Balancer {
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly ringHosts: Host[];

  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: RandomSource,
    options: RingHashOptions,
  ) {
    const n = hosts.length;
    if (n === 0) {
      this.hi = new Uint32Array(0);
      this.lo = new Uint32Array(0);
      this.ringHosts = [];
      return;
    }
    const maxRing = Math.min(Math.max(1, options.maximumRingSize), MAX_RING_SIZE);
    const minRing = Math.min(Math.max(1, options.minimumRingSize), maxRing);
    const { weights, min } = normalizedWeights(hosts);
    const scale = Math.min(Math.ceil(min * minRing) / min, maxRing);
    const size = Math.ceil(scale);
    const hi = new Uint32Array(size + n);
    const lo = new Uint32Array(size + n);
    const owner = new Uint32Array(size + n);
    const useHostname = options.consistentHashing.useHostnameForHashing;
    const murmur = options.hashFunction === 'MURMUR_HASH_2';
    let count = 0;
    let current = 0;
    let target = 0;
    for (let h = 0; h < n; h++) {
      const key = hashKey(hosts[h]!, useHostname);
      target += scale * weights[h]!;
      for (let i = 0; current < target; i++, current++) {
        if (count === hi.length) break; // float rounding can ask for one more point than ceil(scale)
        const pointKey = `${key}_${i}`;
        if (murmur) {
          const v = murmurHash2(pointKey);
          hi[count] = Number(v >> 32n);
          lo[count] = Number(v & 0xffffffffn);
        } else {
          const v = xxHash64(pointKey);
          hi[count] = v.hi;
          lo[count] = v.lo;
        }
        owner[count] = h;
        count++;
      }
    }
    const order = Array.from({ length: count }, (_, i) => i);
    order.sort((a, b) => (hi[a] !== hi[b] ? hi[a]! - hi[b]! : lo[a]! - lo[b]!));
    this.hi = new Uint32Array(count);
    this.lo = new Uint32Array(count);
    this.ringHosts = new Array<Host>(count);
    for (let i = 0; i < count; i++) {
      const j = order[i]!;
      this.hi[i] = hi[j]!;
      this.lo[i] = lo[j]!;
      this.ringHosts[i] = hosts[owner[j]!]!;
    }
  }

  get size(): number {
    return this.hosts.length;
  }

  /** Number of points on the ring (Envoy stat `size`). */
  get ringSize(): number {
    return this.ringHosts.length;
  }

  /** The ring's points in order, for tests and admin: [hash as hex, host key]. */
  points(): [string, string][] {
    return this.ringHosts.map((h, i) => [`0x${this.hi[i]!.toString(16).padStart(8, '0')}${this.lo[i]!.toString(16).padStart(8, '0')}`, h.key]);
  }

  pick(context: PickContext, attempt: number): Host | undefined {
    const size = this.ringHosts.length;
    if (size === 0) return undefined;
    const hash = context.hash;
    const hHi = hash === undefined ? randomUint32(this.random) : hash.hi;
    const hLo = hash === undefined ? randomUint32(this.random) : hash.lo;
    // ketama_get_server, as Envoy ports it (comparisons on unsigned 64-bit values).
    const hi = this.hi;
    const lo = this.lo;
    let low = 0;
    let high = size;
    let mid = 0;
    for (;;) {
      mid = Math.floor((low + high) / 2);
      if (mid === size) {
        mid = 0;
        break;
      }
      const midHi = hi[mid]!;
      const midLo = lo[mid]!;
      const prevHi = mid === 0 ? 0 : hi[mid - 1]!;
      const prevLo = mid === 0 ? 0 : lo[mid - 1]!;
      const leMid = hHi < midHi || (hHi === midHi && hLo <= midLo);
      const gtPrev = hHi > prevHi || (hHi === prevHi && hLo > prevLo);
      if (leMid && gtPrev) break;
      const midBelow = midHi < hHi || (midHi === hHi && midLo < hLo);
      if (midBelow) low = mid + 1;
      else high = mid - 1;
      if (low > high) {
        mid = 0;
        break;
      }
    }
    if (attempt > 0) mid = (mid + attempt) % size;
    return this.ringHosts[mid];
  }
}

