// XXH64 (xxHash 64-bit, as Envoy's HashUtil::xxHash64) in 32-bit arithmetic: no BigInt, no allocation per byte.

/**
 * An unsigned 64-bit value as two unsigned 32-bit halves. Immutable by convention; compare with `compareHash64`.
 * Hash LBs (ring hash, maglev) and route hash policies pass request hashes around in this form.
 */
export interface Hash64 {
  /** Bits 63..32, in [0, 2^32). */
  readonly hi: number;
  /** Bits 31..0, in [0, 2^32). */
  readonly lo: number;
}

// The five XXH64 primes (xxhash.h), as hi/lo halves.
const P1H = 0x9e3779b1, P1L = 0x85ebca87;
const P2H = 0xc2b2ae3d, P2L = 0x27d4eb4f;
const P3H = 0x165667b1, P3L = 0x9e3779f9;
const P4H = 0x85ebca77, P4L = 0xc2b2ae63;
const P5H = 0x27d4eb2f, P5L = 0x165667c5;

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers (Hacker's Delight mulhu). */
function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const t = a1 * b0 + ((a0 * b0) >>> 16);
  const w1 = (t & 0xffff) + a0 * b1;
  return (a1 * b1 + (t >>> 16) + (w1 >>> 16)) >>> 0;
}

// Result registers of the helpers below (module-level so nothing is allocated).
let rh = 0;
let rl = 0;

/** (ah:al) * (bh:bl) mod 2^64 -> rh:rl. */
function mul(ah: number, al: number, bh: number, bl: number): void {
  const lo = Math.imul(al, bl) >>> 0;
  rh = (mulhi(al, bl) + Math.imul(ah, bl) + Math.imul(al, bh)) >>> 0;
  rl = lo;
}

/** (ah:al) + (bh:bl) mod 2^64 -> rh:rl. */
function add(ah: number, al: number, bh: number, bl: number): void {
  const lo = al + bl;
  rh = (ah + bh + (lo > 0xffffffff ? 1 : 0)) >>> 0;
  rl = lo >>> 0;
}

/** rotl64(h:l, r) for 0 < r < 32 -> rh:rl. */
function rotl(h: number, l: number, r: number): void {
  rh = ((h << r) | (l >>> (32 - r))) >>> 0;
  rl = ((l << r) | (h >>> (32 - r))) >>> 0;
}

/** XXH64_round(acc, input) = rotl(acc + input * P2, 31) * P1 -> rh:rl. */
function round(ah: number, al: number, ih: number, il: number): void {
  mul(ih, il, P2H, P2L);
  add(ah, al, rh, rl);
  rotl(rh, rl, 31);
  mul(rh, rl, P1H, P1L);
}

let scratch = Buffer.allocUnsafe(256);

/**
 * XXH64 of `input` (a string is hashed as its UTF-8 bytes) with a 64-bit `seed` given as hi/lo (default 0).
 * Check value: XXH64("", 0) = 0xef46db3751d8e999. Cost: O(length); allocates only the result object (and a
 * scratch buffer when a string is longer than any before it).
 */
export function xxHash64(input: string | Uint8Array, seedLo = 0, seedHi = 0): Hash64 {
  let bytes: Uint8Array;
  let len: number;
  if (typeof input === 'string') {
    if (input.length * 3 > scratch.length) scratch = Buffer.allocUnsafe(Math.max(input.length * 3, scratch.length * 2));
    len = scratch.write(input, 0, 'utf8');
    bytes = scratch;
  } else {
    bytes = input;
    len = input.length;
  }
  let p = 0;
  let hh: number, hl: number;
  if (len >= 32) {
    add(seedHi, seedLo, P1H, P1L);
    add(rh, rl, P2H, P2L);
    let v1h = rh, v1l = rl;
    add(seedHi, seedLo, P2H, P2L);
    let v2h = rh, v2l = rl;
    let v3h = seedHi >>> 0, v3l = seedLo >>> 0;
    // seed - P1 = seed + (2^64 - P1)
    add(seedHi, seedLo, ~P1H >>> 0, ~P1L >>> 0);
    add(rh, rl, 0, 1);
    let v4h = rh, v4l = rl;
    const limit = len - 32;
    while (p <= limit) {
      round(v1h, v1l, read32(bytes, p + 4), read32(bytes, p));
      v1h = rh; v1l = rl;
      round(v2h, v2l, read32(bytes, p + 12), read32(bytes, p + 8));
      v2h = rh; v2l = rl;
      round(v3h, v3l, read32(bytes, p + 20), read32(bytes, p + 16));
      v3h = rh; v3l = rl;
      round(v4h, v4l, read32(bytes, p + 28), read32(bytes, p + 24));
      v4h = rh; v4l = rl;
      p += 32;
    }
    rotl(v1h, v1l, 1);
    let ah = rh, al = rl;
    rotl(v2h, v2l, 7);
    add(ah, al, rh, rl);
    ah = rh; al = rl;
    rotl(v3h, v3l, 12);
    add(ah, al, rh, rl);
    ah = rh; al = rl;
    rotl(v4h, v4l, 18);
    add(ah, al, rh, rl);
    hh = rh; hl = rl;
    // mergeRound(acc, v) = (acc ^ round(0, v)) * P1 + P4, for v1..v4.
    for (let i = 0; i < 4; i++) {
      const vh = i === 0 ? v1h : i === 1 ? v2h : i === 2 ? v3h : v4h;
      const vl = i === 0 ? v1l : i === 1 ? v2l : i === 2 ? v3l : v4l;
      round(0, 0, vh, vl);
      mul((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, P1H, P1L);
      add(rh, rl, P4H, P4L);
      hh = rh; hl = rl;
    }
  } else {
    add(seedHi, seedLo, P5H, P5L);
    hh = rh; hl = rl;
  }
  add(hh, hl, Math.floor(len / 4_294_967_296), len >>> 0);
  hh = rh; hl = rl;
  while (p + 8 <= len) {
    round(0, 0, read32(bytes, p + 4), read32(bytes, p));
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 27);
    mul(rh, rl, P1H, P1L);
    add(rh, rl, P4H, P4L);
    hh = rh; hl = rl;
    p += 8;
  }
  if (p + 4 <= len) {
    mul(0, read32(bytes, p), P1H, P1L);
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 23);
    mul(rh, rl, P2H, P2L);
    add(rh, rl, P3H, P3L);
    hh = rh; hl = rl;
    p += 4;
  }
  while (p < len) {
    mul(0, bytes[p]!, P5H, P5L);
    rotl((hh ^ rh) >>> 0, (hl ^ rl) >>> 0, 11);
    mul(rh, rl, P1H, P1L);
    hh = rh; hl = rl;
    p += 1;
  }
  // Avalanche: h ^= h >> 33; h *= P2; h ^= h >> 29; h *= P3; h ^= h >> 32.
  hl = (hl ^ (hh >>> 1)) >>> 0;
  mul(hh, hl, P2H, P2L);
  hh = rh;
  hl = rl;
  const shifted = ((hh << 3) | (hl >>> 29)) >>> 0;
  hh = (hh ^ (hh >>> 29)) >>> 0;
  hl = (hl ^ shifted) >>> 0;
  mul(hh, hl, P3H, P3L);
  return { hi: rh, lo: (rl ^ rh) >>> 0 };
}

function read32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** -1, 0 or 1 as unsigned 64-bit `a` is below, equal to or above `b`. */
export function compareHash64(a: Hash64, b: Hash64): number {
  if (a.hi !== b.hi) return a.hi < b.hi ? -1 : 1;
  return a.lo === b.lo ? 0 : a.lo < b.lo ? -1 : 1;
}

/** `hash mod m` for 0 < m <= 2^26 (exact in doubles: both partial products stay below 2^53). */
export function hash64Mod(hi: number, lo: number, m: number): number {
  return (((hi % m) * (4_294_967_296 % m)) + (lo % m)) % m;
}

/** `0x`-prefixed 16-digit lower-case hex, as the spec's vectors are written. */
export function hash64Hex(h: Hash64): string {
  return `0x${h.hi.toString(16).padStart(8, '0')}${h.lo.toString(16).padStart(8, '0')}`;
}

/**
 * Envoy's hash policy combination (hash_policy.cc): `hash = ((hash << 1) | (hash >> 63)) ^ next`, starting from
 * the first policy's hash.
 */
export function combineHash64(hash: Hash64, next: Hash64): Hash64 {
  const hi = ((hash.hi << 1) | (hash.lo >>> 31)) >>> 0;
  const lo = ((hash.lo << 1) | (hash.hi >>> 31)) >>> 0;
  return { hi: (hi ^ next.hi) >>> 0, lo: (lo ^ next.lo) >>> 0 };
}
