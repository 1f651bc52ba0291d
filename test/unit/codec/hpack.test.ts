import assert from 'node:assert/strict';
import { HpackDecoder, type HeaderSink } from '../../../sidecar/src/codec/http2/hpack/hpack-decoder';
import { HpackEncoder } from '../../../sidecar/src/codec/http2/hpack/hpack-encoder';
import { HpackError } from '../../../sidecar/src/codec/http2/hpack/hpack-error';
import {
  HUFFMAN_CODES,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from '../../../sidecar/src/codec/http2/hpack/hpack-huffman';

type Field = [string, string];

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

function decodeAll(decoder: HpackDecoder, block: Buffer): Field[] {
  const fields: Field[] = [];
  const sink: HeaderSink = { header: (name, value) => fields.push([name, value]) };
  decoder.decode(block, 0, block.length, sink);
  return fields;
}

function flatten(fields: Field[]): string[] {
  return fields.flatMap(([name, value]) => [name, value]);
}

function huffmanString(text: string): Buffer {
  const out = Buffer.alloc(huffmanEncodedLength(text));
  assert.equal(huffmanEncode(text, out, 0), out.length);
  return out;
}

function huffmanToString(encoded: Buffer): string {
  const out = Buffer.alloc(huffmanMaxDecodedLength(encoded.length));
  return out.toString('latin1', 0, huffmanDecode(encoded, 0, encoded.length, out, 0));
}

/** One step of an RFC 7541 Appendix C sequence: wire bytes, decoded fields, table after (newest first), size. */
interface Step {
  wire: string;
  fields: Field[];
  table: Field[];
  size: number;
}

const REQUEST_FIELDS: Field[][] = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];
const REQUEST_TABLES: Array<{ table: Field[]; size: number }> = [
  { table: [[':authority', 'www.example.com']], size: 57 },
  { table: [['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 110 },
  { table: [['custom-key', 'custom-value'], ['cache-control', 'no-cache'], [':authority', 'www.example.com']], size: 164 },
];
const DATE_1 = 'Mon, 21 Oct 2013 20:13:21 GMT';
const DATE_2 = 'Mon, 21 Oct 2013 20:13:22 GMT';
const LOCATION = 'https://www.example.com';
const COOKIE = 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1';
const RESPONSE_FIELDS: Field[][] = [
  [[':status', '302'], ['cache-control', 'private'], ['date', DATE_1], ['location', LOCATION]],
  [[':status', '307'], ['cache-control', 'private'], ['date', DATE_1], ['location', LOCATION]],
  [[':status', '200'], ['cache-control', 'private'], ['date', DATE_2], ['location', LOCATION], ['content-encoding', 'gzip'], ['set-cookie', COOKIE]],
];
const RESPONSE_TABLES: Array<{ table: Field[]; size: number }> = [
  { table: [['location', LOCATION], ['date', DATE_1], ['cache-control', 'private'], [':status', '302']], size: 222 },
  { table: [[':status', '307'], ['location', LOCATION], ['date', DATE_1], ['cache-control', 'private']], size: 222 },
  { table: [['set-cookie', COOKIE], ['content-encoding', 'gzip'], ['date', DATE_2]], size: 215 },
];

function steps(wires: string[], fields: Field[][], tables: Array<{ table: Field[]; size: number }>): Step[] {
  return wires.map((wire, i) => ({ wire, fields: fields[i]!, table: tables[i]!.table, size: tables[i]!.size }));
}

const C3 = steps([
  '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '8286 84be 5808 6e6f 2d63 6163 6865',
  '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65',
], REQUEST_FIELDS, REQUEST_TABLES);
const C4 = steps([
  '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff',
  '8286 84be 5886 a8eb 1064 9cbf',
  '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf',
], REQUEST_FIELDS, REQUEST_TABLES);
const C5 = steps([
  '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768'
    + '7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d',
  '4803 3330 37c1 c0bf',
  '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153'
    + '444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
], RESPONSE_FIELDS, RESPONSE_TABLES);
const C6 = steps([
  '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8'
    + 'e9ae 82ae 43d3',
  '4883 640e ffc1 c0bf',
  '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b'
    + '3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
], RESPONSE_FIELDS, RESPONSE_TABLES);

describe('HPACK (RFC 7541)', () => {
  describe('Huffman code (Appendix B)', () => {
    it('is a complete prefix code: the Kraft sum of the 257 lengths is exactly 1', () => {
      assert.equal(HUFFMAN_LENGTHS.length, 257);
      let sum = 0;
      for (const length of HUFFMAN_LENGTHS) sum += 2 ** -length;
      assert.equal(sum, 1);
    });

    it('derives the Appendix B codes from the lengths (spot checks across the table)', () => {
      const expected: Array<[number, number, number]> = [
        [0, 0x1ff8, 13], [1, 0x7fffd8, 23], [9, 0xffffea, 24], [10, 0x3ffffffc, 30], [22, 0x3ffffffe, 30],
        [32, 0x14, 6], [48, 0x0, 5], [60, 0x7ffc, 15], [92, 0x7fff0, 19], [97, 0x3, 5], [122, 0x7b, 7],
        [127, 0xffffffc, 28], [128, 0xfffe6, 20], [153, 0x1fffdc, 21], [199, 0x1ffffec, 25], [203, 0x7ffffde, 27],
        [220, 0xffffffd, 28], [249, 0xffffffe, 28], [254, 0x7fffff0, 27], [255, 0x3ffffee, 26], [256, 0x3fffffff, 30],
      ];
      for (const [symbol, code, length] of expected) {
        assert.equal(HUFFMAN_LENGTHS[symbol], length, `length of ${symbol}`);
        assert.equal(HUFFMAN_CODES[symbol], code, `code of ${symbol}`);
      }
    });

    it('round-trips every byte value 0-255', () => {
      let all = '';
      for (let byte = 0; byte < 256; byte++) all += String.fromCharCode(byte);
      for (const text of [all, all.split('').reverse().join(''), '', 'a', 'www.example.com', '\u00ff\u0000\u00fe']) {
        assert.equal(huffmanToString(huffmanString(text)), text);
      }
    });

    it('encodes the Appendix C strings byte for byte', () => {
      assert.deepEqual(huffmanString('www.example.com'), hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'));
      assert.deepEqual(huffmanString('no-cache'), hex('a8eb 1064 9cbf'));
      assert.deepEqual(huffmanString('custom-key'), hex('25a8 49e9 5ba9 7d7f'));
      assert.deepEqual(huffmanString(COOKIE), hex(
        '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'));
    });

    it('rejects EOS, padding longer than 7 bits and padding that is not all ones', () => {
      const out = Buffer.alloc(64);
      // EOS (30 ones) followed by padding.
      assert.throws(() => huffmanDecode(hex('ffff fffc'), 0, 4, out, 0), HpackError);
      // 'a' (00011) + a whole octet of ones: 8+ bits of padding.
      assert.throws(() => huffmanDecode(hex('1fff'), 0, 2, out, 0), HpackError);
      // 'a' (00011) + padding 000 (not the EOS prefix).
      assert.throws(() => huffmanDecode(hex('18'), 0, 1, out, 0), HpackError);
      // 'a' + padding 111 is fine.
      assert.equal(huffmanDecode(hex('1f'), 0, 1, out, 0), 1);
      assert.equal(out[0], 0x61);
    });
  });

  describe('decoder: Appendix C vectors', () => {
    it('C.2.1 literal with indexing', () => {
      const decoder = new HpackDecoder();
      const block = hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
      assert.deepEqual(decodeAll(decoder, block), [['custom-key', 'custom-header']]);
      assert.deepEqual(decoder.dynamicTableEntries(), [['custom-key', 'custom-header']]);
      assert.equal(decoder.dynamicTableSize, 55);
    });

    it('C.2.2 literal without indexing, C.2.3 never indexed, C.2.4 indexed', () => {
      const decoder = new HpackDecoder();
      assert.deepEqual(decodeAll(decoder, hex('040c 2f73 616d 706c 652f 7061 7468')), [[':path', '/sample/path']]);
      assert.deepEqual(decodeAll(decoder, hex('1008 7061 7373 776f 7264 0673 6563 7265 74')), [['password', 'secret']]);
      assert.deepEqual(decodeAll(decoder, hex('82')), [[':method', 'GET']]);
      assert.equal(decoder.dynamicTableSize, 0);
      assert.deepEqual(decoder.dynamicTableEntries(), []);
    });

    const sequences: Array<[string, Step[], number]> = [
      ['C.3 requests without Huffman', C3, 4096],
      ['C.4 requests with Huffman', C4, 4096],
      ['C.5 responses without Huffman, table 256 (eviction)', C5, 256],
      ['C.6 responses with Huffman, table 256 (eviction)', C6, 256],
    ];
    for (const [title, sequence, tableSize] of sequences) {
      it(title, () => {
        const decoder = new HpackDecoder(tableSize);
        for (const step of sequence) {
          assert.deepEqual(decodeAll(decoder, hex(step.wire)), step.fields);
          assert.deepEqual(decoder.dynamicTableEntries(), step.table);
          assert.equal(decoder.dynamicTableSize, step.size);
        }
      });
    }

    it('decodes a sub-range of a larger buffer', () => {
      const wire = hex(C4[0]!.wire);
      const padded = Buffer.concat([hex('ffff'), wire, hex('ffff')]);
      const fields: Field[] = [];
      new HpackDecoder().decode(padded, 2, 2 + wire.length, { header: (n, v) => fields.push([n, v]) });
      assert.deepEqual(fields, C4[0]!.fields);
    });
  });

  describe('encoder', () => {
    it('encodes the C.4 requests exactly as the RFC does (indexed, name-indexed literal, Huffman)', () => {
      const encoder = new HpackEncoder();
      // C.4.3's custom-key has a literal name; our encoder matches it byte for byte.
      for (const step of C4) assert.deepEqual(encoder.encode(flatten(step.fields), step.fields.length * 2), hex(step.wire));
    });

    for (const [title, sequence, peerTableSize] of [
      ['C.3/C.4 requests', C4, 4096],
      ['C.5/C.6 responses with a 256-octet peer table', C6, 256],
    ] as Array<[string, Step[], number]>) {
      it(`decode(encode(x)) == x for the ${title}, repeated so the dynamic table is reused`, () => {
        const encoder = new HpackEncoder();
        encoder.setPeerMaxTableSize(peerTableSize);
        const decoder = new HpackDecoder(peerTableSize);
        for (let round = 0; round < 3; round++) {
          for (const step of sequence) {
            const block = encoder.encode(flatten(step.fields), step.fields.length * 2);
            assert.deepEqual(decodeAll(decoder, Buffer.from(block)), step.fields);
            assert.equal(decoder.dynamicTableSize, encoder.dynamicTableSize);
          }
        }
      });
    }

    it('uses indexed representations once the table is warm', () => {
      const encoder = new HpackEncoder();
      const response = [':status', '200', 'content-type', 'application/grpc', 'grpc-encoding', 'identity'];
      const first = Buffer.from(encoder.encode(response, response.length));
      const second = Buffer.from(encoder.encode(response, response.length));
      assert.ok(first.length > 3);
      assert.deepEqual(second, hex('88 bf be'));
    });

    it('never indexes secrets and does not index unbounded values', () => {
      const encoder = new HpackEncoder();
      const fields = [
        'authorization', 'Bearer abc', 'cookie', 'a=b', 'content-length', '1234', 'x-request-id', 'abc-123',
        'set-cookie', 'id=1', 'grpc-timeout', '10S', 'traceparent', '00-aa-bb-01', ':path', '/search?q=1',
      ];
      const decoder = new HpackDecoder();
      for (let round = 0; round < 2; round++) {
        const block = Buffer.from(encoder.encode(fields, fields.length));
        assert.deepEqual(flatten(decodeAll(decoder, block)), fields);
        assert.equal(encoder.dynamicTableSize, 0);
        assert.equal(decoder.dynamicTableSize, 0);
      }
      // authorization (static 23) and the short cookie (static 32) are "never indexed" (0001xxxx).
      const block = Buffer.from(encoder.encode(['authorization', 'x', 'cookie', 'a=b'], 4));
      assert.equal(block[0], 0x1f);
      assert.equal(block[1], 23 - 15);
      assert.ok(block.includes(0x1f), 'cookie never indexed');
    });

    it('evicts as the peer decoder does when many distinct values go through a small table', () => {
      const encoder = new HpackEncoder();
      encoder.setPeerMaxTableSize(256);
      const decoder = new HpackDecoder(256);
      for (let i = 0; i < 200; i++) {
        const fields = [':status', '200', 'x-value', `value-${i}-${'v'.repeat(i % 50)}`, 'x-fixed', 'same'];
        const block = Buffer.from(encoder.encode(fields, fields.length));
        assert.deepEqual(flatten(decodeAll(decoder, block)), fields);
        assert.equal(decoder.dynamicTableSize, encoder.dynamicTableSize);
        assert.ok(decoder.dynamicTableSize <= 256);
      }
    });

    it('emits the smallest then the final size update after the peer shrinks and regrows its table', () => {
      const encoder = new HpackEncoder();
      const decoder = new HpackDecoder(4096);
      const fields = ['x-a', 'one', 'x-b', 'two'];
      decodeAll(decoder, Buffer.from(encoder.encode(fields, 4)));
      assert.equal(decoder.dynamicTableSize, 76);
      encoder.setPeerMaxTableSize(0);
      encoder.setPeerMaxTableSize(8192);
      const block = Buffer.from(encoder.encode(fields, 4));
      // 0x20 = update to 0, then 0x3f e1 1f = update to 4096.
      assert.deepEqual(block.subarray(0, 4), hex('20 3fe1 1f'));
      assert.deepEqual(flatten(decodeAll(decoder, block)), fields);
      assert.equal(decoder.dynamicTableSize, 76);
      // Unchanged setting: no update.
      encoder.setPeerMaxTableSize(4096);
      assert.deepEqual(Buffer.from(encoder.encode(fields, 4)), hex('bf be'));
    });

    it('grows its scratch buffer for big blocks and returns a view valid until the next call', () => {
      const encoder = new HpackEncoder();
      const big = 'x'.repeat(20000);
      const fields = ['x-big', big, 'x-big2', '\u00ff'.repeat(5000)];
      const block = Buffer.from(encoder.encode(fields, fields.length));
      assert.deepEqual(flatten(decodeAll(new HpackDecoder(), block)), fields);
    });
  });

  describe('malformed blocks throw HpackError', () => {
    const cases: Array<[string, string, number?]> = [
      ['indexed field with index 0', '80'],
      ['index past the static table on an empty dynamic table', 'be'],
      ['name index past the table', '7f 05 01 61'],
      ['truncated integer', 'ff'],
      ['truncated integer after a continuation octet', 'ff 80'],
      ['integer with too many continuation octets', 'ff ff ff ff ff ff 01'],
      ['integer above 2^31', 'ff ff ff ff ff 0f'],
      ['truncated string length', '40'],
      ['truncated string', '40 05 61 62'],
      ['truncated value after a name', '40 01 61'],
      ['Huffman string with EOS', '40 01 61 84 ff ff ff fc'],
      ['Huffman padding longer than 7 bits', '40 01 61 82 1f ff'],
      ['Huffman padding not all ones', '40 01 61 81 18'],
      ['size update above the maximum', '3f e2 1f'],
      ['size update above a small maximum', '3f 02', 32],
      ['size update after a field', '82 20'],
    ];
    for (const [title, wire, tableSize] of cases) {
      it(title, () => {
        const decoder = new HpackDecoder(tableSize ?? 4096);
        assert.throws(() => decodeAll(decoder, hex(wire)), HpackError);
      });
    }

    it('a valid Huffman value in the same position decodes (the malformed cases fail for the stated reason)', () => {
      assert.deepEqual(decodeAll(new HpackDecoder(), hex('40 01 61 81 1f')), [['a', 'a']]);
    });

    it('accepts size updates at the start of a block (two of them) and within the maximum', () => {
      const decoder = new HpackDecoder(4096);
      assert.deepEqual(decodeAll(decoder, hex('20 3fe1 1f 82')), [[':method', 'GET']]);
    });
  });
});
