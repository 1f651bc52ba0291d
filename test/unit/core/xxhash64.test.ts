import * as assert from 'node:assert/strict';
import { combineHash64, compareHash64, hash64Hex, hash64Mod, xxHash64 } from '../../../sidecar/src/core/xxhash64';

const M = (1n << 64n) - 1n;
const P = [0x9e3779b185ebca87n, 0xc2b2ae3d27d4eb4fn, 0x165667b19e3779f9n, 0x85ebca77c2b2ae63n, 0x27d4eb2f165667c5n] as const;
const [P1, P2, P3, P4, P5] = P;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, input: bigint): bigint => (rotl((acc + input * P2) & M, 31n) * P1) & M;

/** Straight BigInt port of xxhash.h XXH64 (the reference the 32-bit version is checked against). */
function reference(bytes: Buffer, seed = 0n): bigint {
  const len = bytes.length;
  let p = 0;
  let h: bigint;
  if (len >= 32) {
    let v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M];
    while (p <= len - 32) {
      v = v.map((x, i) => round(x, bytes.readBigUInt64LE(p + 8 * i)));
      p += 32;
    }
    h = (rotl(v[0]!, 1n) + rotl(v[1]!, 7n) + rotl(v[2]!, 12n) + rotl(v[3]!, 18n)) & M;
    for (const x of v) h = (((h ^ round(0n, x)) * P1) + P4) & M;
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(len)) & M;
  for (; p + 8 <= len; p += 8) h = ((rotl(h ^ round(0n, bytes.readBigUInt64LE(p)), 27n) * P1) + P4) & M;
  if (p + 4 <= len) {
    h = ((rotl(h ^ ((BigInt(bytes.readUInt32LE(p)) * P1) & M), 23n) * P2) + P3) & M;
    p += 4;
  }
  for (; p < len; p++) h = (rotl(h ^ ((BigInt(bytes[p]!) * P5) & M), 11n) * P1) & M;
  h ^= h >> 33n;
  h = (h * P2) & M;
  h ^= h >> 29n;
  h = (h * P3) & M;
  h ^= h >> 32n;
  return h;
}

describe('xxHash64 (core/xxhash64.ts, specs/load-balancing.md §7.5)', () => {
  it('check values', () => {
    for (const [input, seed, expected] of [
      ['', 0, '0xef46db3751d8e999'],
      ['a', 0, '0xd24ec4f1a98c6e5b'],
      ['abc', 0, '0x44bc2cf5ad770999'],
      ['alice', 0, '0x73a3ea485f2e6049'],
      ['bob', 0, '0x92878a3b42bad03b'],
      ['carol', 0, '0xc1ceb4e654b4cc38'],
      ['192.168.1.7', 0, '0xaeb10a18da2bab38'],
      ['10.0.0.1:80_0', 0, '0x75041381e7371a08'],
    ] as const) {
      assert.equal(hash64Hex(xxHash64(input, seed)), expected, JSON.stringify(input));
    }
  });

  it('matches a BigInt reference for every length 0..200 and seeds 0, 1, 2^32+5', () => {
    const data = Buffer.alloc(200);
    for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
    for (let len = 0; len <= 200; len++) {
      const bytes = data.subarray(0, len);
      for (const [lo, hi] of [[0, 0], [1, 0], [5, 1]] as const) {
        const seed = (BigInt(hi) << 32n) | BigInt(lo);
        const h = xxHash64(bytes, lo, hi);
        assert.equal((BigInt(h.hi) << 32n) | BigInt(h.lo), reference(Buffer.from(bytes), seed), `len ${len} seed ${seed}`);
      }
    }
  });

  it('strings hash as UTF-8, longer than any before', () => {
    const s = 'é'.repeat(500);
    const h = xxHash64(s);
    assert.equal((BigInt(h.hi) << 32n) | BigInt(h.lo), reference(Buffer.from(s, 'utf8')));
  });

  it('combine = rotl1(h1) ^ h2 (two header policies alice, tenant-7 -> 0x5c8d99378a8c456d)', () => {
    assert.equal(hash64Hex(combineHash64(xxHash64('alice'), xxHash64('tenant-7'))), '0x5c8d99378a8c456d');
  });

  it('mod and compare over the 64-bit value', () => {
    for (const s of ['alice', 'bob', 'carol', 'x', 'y']) {
      const h = xxHash64(s);
      const big = (BigInt(h.hi) << 32n) | BigInt(h.lo);
      for (const m of [7, 100, 65537, 5_000_011]) assert.equal(hash64Mod(h.hi, h.lo, m), Number(big % BigInt(m)));
    }
    assert.equal(compareHash64({ hi: 1, lo: 0 }, { hi: 0, lo: 0xffffffff }), 1);
    assert.equal(compareHash64({ hi: 1, lo: 2 }, { hi: 1, lo: 2 }), 0);
  });
});
