import * as assert from 'node:assert/strict';
import { xxHash64 } from '../../../../sidecar/src/core/xxhash64';
import type { Host } from '../../../../sidecar/src/upstream/host';
import { MaglevBalancer } from '../../../../sidecar/src/upstream/lb/maglev';
import { murmurHash2 } from '../../../../sidecar/src/upstream/lb/murmur-hash2';
import { RingHashBalancer, type RingHashOptions } from '../../../../sidecar/src/upstream/lb/ring-hash';
import { fixedRandom, hosts } from '../upstream-fixtures';

const RING: RingHashOptions = { minimumRingSize: 1024, maximumRingSize: 8_388_608, hashFunction: 'XX_HASH', consistentHashing: { useHostnameForHashing: false } };
const CH = { useHostnameForHashing: false };
const rnd = fixedRandom(0);

function lookup(b: { pick(c: object, a: number): Host | undefined }, key: string, attempt = 0): string | undefined {
  return b.pick({ hash: xxHash64(key) }, attempt)?.key;
}

function keys(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `user-${i}`);
}

/** Over 5000 keys: each is sticky on `before`; how many land elsewhere on `after`, and how many of those were not on `removed`. */
function movement(before: { pick(c: object, a: number): Host | undefined }, after: { pick(c: object, a: number): Host | undefined }, removed: string): { moved: number; movedFromOthers: number; total: number } {
  let moved = 0;
  let movedFromOthers = 0;
  const ks = keys(5000);
  for (const k of ks) {
    const x = lookup(before, k);
    assert.equal(lookup(before, k), x);
    if (x !== lookup(after, k)) {
      moved += 1;
      if (x !== removed) movedFromOthers += 1;
    }
  }
  return { moved, movedFromOthers, total: ks.length };
}

describe('RingHashBalancer (specs/load-balancing.md §1.5, §7.5)', () => {
  it('minimum_ring_size 6, 3 equal hosts: the sorted ring of the spec', () => {
    const b = new RingHashBalancer(hosts(1, 1, 1), rnd, { ...RING, minimumRingSize: 6 });
    assert.deepEqual(b.points(), [
      ['0x18341d927ea10691', '10.0.0.1:80'],
      ['0x3d32eaa4a864962e', '10.0.0.2:80'],
      ['0x7079d8e1823e007f', '10.0.0.2:80'],
      ['0x74da18db9f57cc7e', '10.0.0.3:80'],
      ['0x75041381e7371a08', '10.0.0.1:80'],
      ['0x98663d8c8e38e677', '10.0.0.3:80'],
    ]);
  });

  it('lookups on the 6-point ring: alice, bob -> .3; carol (wraps), user-123 -> .1', () => {
    const b = new RingHashBalancer(hosts(1, 1, 1), rnd, { ...RING, minimumRingSize: 6 });
    for (const [key, expected] of [
      ['alice', '10.0.0.3:80'],
      ['bob', '10.0.0.3:80'],
      ['carol', '10.0.0.1:80'],
      ['user-123', '10.0.0.1:80'],
    ] as const) {
      assert.equal(lookup(b, key), expected, key);
    }
  });

  it('default minimum 1024: 3 equal hosts -> 1026 points; lookups alice .2, bob .1, carol .1, user-123 .3', () => {
    const b = new RingHashBalancer(hosts(1, 1, 1), rnd, RING);
    assert.equal(b.ringSize, 1026);
    for (const [key, expected] of [
      ['alice', '10.0.0.2:80'],
      ['bob', '10.0.0.1:80'],
      ['carol', '10.0.0.1:80'],
      ['user-123', '10.0.0.3:80'],
    ] as const) {
      assert.equal(lookup(b, key), expected, key);
    }
  });

  it('weights 3:2:1 -> 1026 points split 513/342/171', () => {
    const b = new RingHashBalancer(hosts(3, 2, 1), rnd, RING);
    const counts: Record<string, number> = {};
    for (const [, k] of b.points()) counts[k] = (counts[k] ?? 0) + 1;
    assert.deepEqual(counts, { '10.0.0.1:80': 513, '10.0.0.2:80': 342, '10.0.0.3:80': 171 });
  });

  it('maximum_ring_size caps the ring', () => {
    assert.equal(new RingHashBalancer(hosts(1, 1, 1), rnd, { ...RING, minimumRingSize: 1024, maximumRingSize: 30 }).ringSize, 30);
  });

  it('retry attempt k takes the point k places further on', () => {
    const b = new RingHashBalancer(hosts(1, 1, 1), rnd, { ...RING, minimumRingSize: 6 });
    // alice lands on index 3 (.3); +1 -> index 4 (.1); +2 -> index 5 (.3); +3 -> index 0 (.1).
    assert.deepEqual([0, 1, 2, 3].map((k) => lookup(b, 'alice', k)), ['10.0.0.3:80', '10.0.0.1:80', '10.0.0.3:80', '10.0.0.1:80']);
  });

  it('hash_key metadata and use_hostname_for_hashing choose what is hashed', () => {
    const [a, b] = hosts(1, 1);
    a!.metadata = { 'envoy.lb': { hash_key: 'stable-a' } };
    b!.hostname = 'b.example';
    const withName = new RingHashBalancer([a!, b!], rnd, { ...RING, minimumRingSize: 2, consistentHashing: { useHostnameForHashing: true } });
    const hashes = new Set(withName.points().map(([h]) => h));
    const expected = [xxHash64('stable-a_0'), xxHash64('b.example_0')].map((h) => `0x${h.hi.toString(16).padStart(8, '0')}${h.lo.toString(16).padStart(8, '0')}`);
    assert.deepEqual(hashes, new Set(expected));
  });

  it('MURMUR_HASH_2 builds a different ring of the same size; murmurHash2 is deterministic', () => {
    const b = new RingHashBalancer(hosts(1, 1, 1), rnd, { ...RING, hashFunction: 'MURMUR_HASH_2', minimumRingSize: 6 });
    assert.equal(b.ringSize, 6);
    assert.equal(murmurHash2('10.0.0.1:80_0'), murmurHash2('10.0.0.1:80_0'));
    assert.notEqual(b.points()[0]![0], '0x18341d927ea10691');
  });

  it('sticky: the same key always gets the same host; removing one of 5 hosts moves about 1/5 of the keys', () => {
    const all = hosts(1, 1, 1, 1, 1);
    const before = new RingHashBalancer(all, rnd, RING);
    const after = new RingHashBalancer(all.filter((_, i) => i !== 2), rnd, RING);
    const { moved, movedFromOthers, total } = movement(before, after, '10.0.0.3:80');
    // The removed host's ~20% move; the survivors also gain points (205 -> 256 each with the 1024 minimum, as
    // Envoy rebuilds the ring), which moves about 10% more between them.
    assert.ok(moved > 0.15 * total && moved < 0.35 * total, `moved ${moved}`);
    assert.ok(movedFromOthers < 0.13 * total, `keys of remaining hosts moved: ${movedFromOthers}`);
  });

  it('no hash: a random point (acts like RANDOM); no hosts: undefined', () => {
    const b = new RingHashBalancer(hosts(1, 1, 1), fixedRandom(0, 0), { ...RING, minimumRingSize: 6 });
    assert.equal(b.pick({}, 0)?.key, '10.0.0.1:80'); // hash 0 -> wraps to the first point
    assert.equal(new RingHashBalancer([], rnd, RING).pick({ hash: xxHash64('x') }, 0), undefined);
  });
});

describe('MaglevBalancer (specs/load-balancing.md §1.6, §7.5)', () => {
  it('M = 7: table [.3, .2, .1, .3, .2, .1, .1]; alice -> slot 0 -> .3; bob -> slot 5 -> .1', () => {
    const b = new MaglevBalancer(hosts(1, 1, 1), rnd, { tableSize: 7, consistentHashing: CH });
    assert.deepEqual(b.slots().map((k) => k.split(':')[0]!.slice(-1)), ['3', '2', '1', '3', '2', '1', '1']);
    assert.equal(lookup(b, 'alice'), '10.0.0.3:80');
    assert.equal(lookup(b, 'bob'), '10.0.0.1:80');
  });

  it('default table 65537: slots follow the weights (3:2:1 within 1%)', () => {
    const b = new MaglevBalancer(hosts(3, 2, 1), rnd, { tableSize: 65537, consistentHashing: CH });
    const counts: Record<string, number> = {};
    for (const k of b.slots()) counts[k] = (counts[k] ?? 0) + 1;
    assert.ok(Math.abs(counts['10.0.0.1:80']! / 65537 - 0.5) < 0.01);
    assert.ok(Math.abs(counts['10.0.0.2:80']! / 65537 - 1 / 3) < 0.01);
    assert.ok(Math.abs(counts['10.0.0.3:80']! / 65537 - 1 / 6) < 0.01);
  });

  it('retry attempt k looks up hash ^ (2^64 - k)', () => {
    const b = new MaglevBalancer(hosts(1, 1, 1), rnd, { tableSize: 7, consistentHashing: CH });
    const h = xxHash64('alice');
    const big = (BigInt(h.hi) << 32n) | BigInt(h.lo);
    const slots = b.slots();
    for (const k of [1, 2, 3]) {
      const slot = Number((big ^ ((1n << 64n) - BigInt(k))) % 7n);
      assert.equal(lookup(b, 'alice', k), slots[slot], `attempt ${k}`);
    }
  });

  it('sticky: removing one of 5 hosts moves about 1/5 of the keys', () => {
    const all = hosts(1, 1, 1, 1, 1);
    const before = new MaglevBalancer(all, rnd, { tableSize: 65537, consistentHashing: CH });
    const after = new MaglevBalancer(all.filter((_, i) => i !== 2), rnd, { tableSize: 65537, consistentHashing: CH });
    const { moved, movedFromOthers, total } = movement(before, after, '10.0.0.3:80');
    assert.ok(moved > 0.15 * total && moved < 0.3 * total, `moved ${moved}`);
    assert.ok(movedFromOthers < 0.05 * total, `keys of remaining hosts moved: ${movedFromOthers}`);
  });
});
