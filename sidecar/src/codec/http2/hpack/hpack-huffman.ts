import { HpackError } from './hpack-error';

/**
 * The HPACK Huffman code (RFC 7541 Appendix B). It is canonical: codes are handed out in (length, symbol)
 * order, so the bit LENGTH of each of the 257 symbols (0-255, EOS = 256) determines every code. The
 * lengths below are transcribed from Appendix B; test/unit/proxy/hpack.test.ts checks them (Kraft sum,
 * spot codes, the Appendix C vectors and byte-for-byte interop with nghttp2).
 */
// prettier-ignore
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, //   0- 15
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28, //  16- 31
   6, 10, 10, 12, 13,  6,  8, 11, 10, 10,  8, 11,  8,  6,  6,  6, //  32- 47 ' '..'/'
   5,  5,  5,  6,  6,  6,  6,  6,  6,  6,  7,  8, 15,  6, 12, 10, //  48- 63 '0'..'?'
  13,  6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7, //  64- 79 '@'..'O'
   7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  8, 13, 19, 13, 14,  6, //  80- 95 'P'..'_'
  15,  5,  6,  5,  6,  5,  6,  6,  6,  5,  7,  7,  6,  6,  6,  5, //  96-111 '`'..'o'
   6,  7,  6,  5,  5,  6,  7,  7,  7,  7,  7, 15, 11, 14, 13, 28, // 112-127 'p'..DEL
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, // 128-143
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, // 144-159
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, // 160-175
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, // 176-191
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, // 192-207
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, // 208-223
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, // 224-239
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, // 240-255
  30,                                                             // 256 EOS
];

export const HUFFMAN_EOS = 256;
/** Bit length of each symbol's code. */
export const HUFFMAN_LENGTHS = Uint8Array.from(CODE_LENGTHS);
/** Each symbol's code, right-aligned. */
export const HUFFMAN_CODES = buildCanonicalCodes(HUFFMAN_LENGTHS);

function buildCanonicalCodes(lengths: Uint8Array): Uint32Array {
  const symbols = Array.from(lengths.keys()).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  let previousLength = lengths[symbols[0]!]!;
  for (const symbol of symbols) {
    const length = lengths[symbol]!;
    code *= 2 ** (length - previousLength);
    previousLength = length;
    codes[symbol] = code;
    code += 1;
  }
  return codes;
}

// ---- Decoding: a 4-bit state machine (the technique of nghttp2's huff_decode_table), built once here. ----
// A state is an internal node of the code tree (root = 0, 256 of them). Feeding a nibble to a state yields
// the next state, at most one symbol (codes are >= 5 bits) and whether the block may end there.
const NEXT_STATE_MASK = 0xff;
const SYMBOL_SHIFT = 8;
const FLAG_EMIT = 1 << 16;
const FLAG_FAIL = 1 << 17; // EOS decoded: RFC 7541 §5.2 makes that an error
const FLAG_ACCEPT = 1 << 18; // ends on a symbol boundary or inside <= 7 bits of all-ones padding

const DECODE_TABLE = buildDecodeTable();

function buildDecodeTable(): Int32Array {
  // Children: >= 0 internal node, < 0 leaf (symbol = -child - 1).
  const zero: number[] = [0];
  const one: number[] = [0];
  const depth: number[] = [0];
  const allOnes: boolean[] = [true];
  for (let symbol = 0; symbol <= HUFFMAN_EOS; symbol++) {
    const length = HUFFMAN_LENGTHS[symbol]!;
    const code = HUFFMAN_CODES[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const children = ((code >>> bit) & 1) === 0 ? zero : one;
      if (bit === 0) {
        children[node] = -symbol - 1;
        break;
      }
      let child = children[node]!;
      if (child < 0) throw new Error('HPACK Huffman table: not a prefix code');
      if (child === 0) {
        child = zero.length;
        zero.push(0);
        one.push(0);
        depth.push(depth[node]! + 1);
        allOnes.push(allOnes[node]! && children === one);
        children[node] = child;
      }
      node = child;
    }
  }
  const stateCount = zero.length;
  if (stateCount > 256) throw new Error('HPACK Huffman table: more than 256 internal nodes');
  const table = new Int32Array(stateCount * 16);
  for (let state = 0; state < stateCount; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let bit = 3; bit >= 0; bit--) {
        const child = ((nibble >>> bit) & 1) === 0 ? zero[node]! : one[node]!;
        if (child < 0) {
          const symbol = -child - 1;
          if (symbol === HUFFMAN_EOS) entry |= FLAG_FAIL;
          else entry |= FLAG_EMIT | (symbol << SYMBOL_SHIFT);
          node = 0;
        } else {
          node = child;
        }
      }
      if (node === 0 || (allOnes[node]! && depth[node]! <= 7)) entry |= FLAG_ACCEPT;
      table[state * 16 + nibble] = entry | node;
    }
  }
  return table;
}

/** Most bytes `encodedLength` Huffman octets can decode to (the shortest code is 5 bits). */
export function huffmanMaxDecodedLength(encodedLength: number): number {
  return ((encodedLength * 8) / 5 + 1) | 0;
}

/**
 * Decodes src[start, end) into out from outStart (out must hold huffmanMaxDecodedLength(end - start) more
 * bytes); returns the end offset in out. Throws HpackError on EOS, padding longer than 7 bits or padding
 * that is not the most significant bits of EOS (RFC 7541 §5.2).
 */
export function huffmanDecode(src: Uint8Array, start: number, end: number, out: Uint8Array, outStart: number): number {
  const table = DECODE_TABLE;
  let state = 0;
  let entry = FLAG_ACCEPT;
  let o = outStart;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    entry = table[(state << 4) | (byte >>> 4)]!;
    if ((entry & (FLAG_EMIT | FLAG_FAIL)) !== 0) {
      if ((entry & FLAG_FAIL) !== 0) throw new HpackError('Huffman string contains EOS');
      out[o++] = (entry >>> SYMBOL_SHIFT) & 0xff;
    }
    state = entry & NEXT_STATE_MASK;
    entry = table[(state << 4) | (byte & 0x0f)]!;
    if ((entry & (FLAG_EMIT | FLAG_FAIL)) !== 0) {
      if ((entry & FLAG_FAIL) !== 0) throw new HpackError('Huffman string contains EOS');
      out[o++] = (entry >>> SYMBOL_SHIFT) & 0xff;
    }
    state = entry & NEXT_STATE_MASK;
  }
  if ((entry & FLAG_ACCEPT) === 0) throw new HpackError('Huffman string has invalid padding');
  return o;
}

/** Octets the Huffman encoding of latin1 string `s` takes. */
export function huffmanEncodedLength(s: string): number {
  const lengths = HUFFMAN_LENGTHS;
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += lengths[s.charCodeAt(i) & 0xff]!;
  return (bits + 7) >>> 3;
}

/** Writes the Huffman encoding of latin1 string `s` into out at offset (room checked by the caller); returns the end. */
export function huffmanEncode(s: string, out: Uint8Array, offset: number): number {
  const codes = HUFFMAN_CODES;
  const lengths = HUFFMAN_LENGTHS;
  let o = offset;
  let pending = 0; // pending bits, right-aligned; fewer than 8 between symbols
  let pendingBits = 0;
  for (let i = 0; i < s.length; i++) {
    const symbol = s.charCodeAt(i) & 0xff;
    let code = codes[symbol]!;
    let length = lengths[symbol]!;
    if (length > 24) {
      // Keep the accumulator within 31 bits: push the high part first.
      const highLength = length - 16;
      pending = (pending << highLength) | (code >>> 16);
      pendingBits += highLength;
      while (pendingBits >= 8) {
        pendingBits -= 8;
        out[o++] = (pending >>> pendingBits) & 0xff;
      }
      pending &= (1 << pendingBits) - 1;
      code &= 0xffff;
      length = 16;
    }
    pending = (pending << length) | code;
    pendingBits += length;
    while (pendingBits >= 8) {
      pendingBits -= 8;
      out[o++] = (pending >>> pendingBits) & 0xff;
    }
    pending &= (1 << pendingBits) - 1;
  }
  if (pendingBits > 0) {
    // Pad with the most significant bits of EOS (all ones), RFC 7541 §5.2.
    const padBits = 8 - pendingBits;
    out[o++] = ((pending << padBits) | ((1 << padBits) - 1)) & 0xff;
  }
  return o;
}
