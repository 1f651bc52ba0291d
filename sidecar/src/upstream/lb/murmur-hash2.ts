// Envoy's MurmurHash::murmurHash2 (the 64-bit libstdc++ _Hash_bytes variant), used only to build MURMUR_HASH_2 rings.

const MASK = (1n << 64n) - 1n;
const MUL = 0xc6a4a7935bd1e995n;

/** Envoy `STD_HASH_SEED`, the seed ring hash passes. */
export const MURMUR_RING_SEED = 0xc70f6907n;

function shiftMix(v: bigint): bigint {
  return v ^ (v >> 47n);
}

/**
 * Envoy `MurmurHash::murmurHash2(key, seed)` (source/common/common/hash.cc) over the UTF-8 bytes of `key`.
 * BigInt arithmetic: ring construction is off the hot path. Returns the unsigned 64-bit value.
 */
export function murmurHash2(key: string, seed: bigint = MURMUR_RING_SEED): bigint {
  const buf = Buffer.from(key, 'utf8');
  const len = buf.length;
  const aligned = len & ~7;
  let hash = (seed ^ ((BigInt(len) * MUL) & MASK)) & MASK;
  for (let p = 0; p < aligned; p += 8) {
    const data = (shiftMix((buf.readBigUInt64LE(p) * MUL) & MASK) * MUL) & MASK;
    hash ^= data;
    hash = (hash * MUL) & MASK;
  }
  if ((len & 7) !== 0) {
    let data = 0n;
    for (let n = (len & 7) - 1; n >= 0; n--) data = (data << 8n) + BigInt(buf[aligned + n]!);
    hash ^= data;
    hash = (hash * MUL) & MASK;
  }
  hash = (shiftMix(hash) * MUL) & MASK;
  return shiftMix(hash);
}
