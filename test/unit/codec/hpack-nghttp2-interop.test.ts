import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { HpackDecoder } from '../../../sidecar/src/codec/http2/hpack/hpack-decoder';
import { HpackEncoder } from '../../../sidecar/src/codec/http2/hpack/hpack-encoder';

// Interop with nghttp2 (inside node:http2), which Huffman-encodes and uses the dynamic table: a raw TCP
// server speaks just enough HTTP/2 (RFC 9113 §3.4 preface, §4.1 frame layout, SETTINGS, HEADERS +
// CONTINUATION) to decode the client's header blocks with HpackDecoder and to answer with blocks built by
// HpackEncoder.

const FRAME_HEADERS = 0x1;
const FRAME_SETTINGS = 0x4;
const FRAME_CONTINUATION = 0x9;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;
const SETTINGS_HEADER_TABLE_SIZE = 0x1;
const PREFACE_LENGTH = 24;
const MAX_FRAME_SIZE = 16384;

type Field = [string, string];

function frame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** Response fields for stream `streamId` (flat list), given the request's decoded fields. */
type Responder = (streamId: number, request: Field[]) => string[];

interface RawServer {
  port: number;
  /** Decoded request header blocks, in arrival order. */
  requests: Field[][];
  /** Our encoded response blocks, in order (copies). */
  responseBlocks: Buffer[];
  decoder: HpackDecoder;
  encoder: HpackEncoder;
  close(): Promise<void>;
}

async function startRawServer(respond: Responder): Promise<RawServer> {
  const decoder = new HpackDecoder(4096);
  const encoder = new HpackEncoder();
  const requests: Field[][] = [];
  const responseBlocks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    let prefaceSeen = false;
    let headerBlock: Buffer[] = [];
    let headerStream = 0;
    let headerFlags = 0;
    socket.write(frame(FRAME_SETTINGS, 0, 0, Buffer.alloc(0)));

    const finishHeaderBlock = (): void => {
      const block = Buffer.concat(headerBlock);
      headerBlock = [];
      const fields: Field[] = [];
      decoder.decode(block, 0, block.length, { header: (name, value) => fields.push([name, value]) });
      requests.push(fields);
      if ((headerFlags & FLAG_END_STREAM) === 0) return;
      const response = respond(headerStream, fields);
      const encoded = Buffer.from(encoder.encode(response, response.length));
      responseBlocks.push(encoded);
      // HEADERS then CONTINUATION frames of at most MAX_FRAME_SIZE (RFC 9113 §6.10).
      let offset = 0;
      let first = true;
      do {
        const chunk = encoded.subarray(offset, offset + MAX_FRAME_SIZE);
        offset += chunk.length;
        const last = offset >= encoded.length;
        const type = first ? FRAME_HEADERS : FRAME_CONTINUATION;
        const flags = (first ? FLAG_END_STREAM : 0) | (last ? FLAG_END_HEADERS : 0);
        socket.write(frame(type, flags, headerStream, chunk));
        first = false;
      } while (offset < encoded.length);
    };

    socket.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      if (!prefaceSeen) {
        if (pending.length < PREFACE_LENGTH) return;
        assert.equal(pending.subarray(0, PREFACE_LENGTH).toString('latin1'), 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
        pending = pending.subarray(PREFACE_LENGTH);
        prefaceSeen = true;
      }
      while (pending.length >= 9) {
        const length = pending.readUIntBE(0, 3);
        if (pending.length < 9 + length) break;
        const type = pending[3]!;
        const flags = pending[4]!;
        const streamId = pending.readUInt32BE(5) & 0x7fffffff;
        const payload = pending.subarray(9, 9 + length);
        pending = pending.subarray(9 + length);
        if (type === FRAME_SETTINGS && (flags & FLAG_ACK) === 0) {
          for (let i = 0; i + 6 <= payload.length; i += 6) {
            if (payload.readUInt16BE(i) === SETTINGS_HEADER_TABLE_SIZE) encoder.setPeerMaxTableSize(payload.readUInt32BE(i + 2));
          }
          socket.write(frame(FRAME_SETTINGS, FLAG_ACK, 0, Buffer.alloc(0)));
        } else if (type === FRAME_HEADERS) {
          let start = 0;
          let end = payload.length;
          if ((flags & FLAG_PADDED) !== 0) {
            end -= payload[0]!;
            start += 1;
          }
          if ((flags & FLAG_PRIORITY) !== 0) start += 5;
          headerStream = streamId;
          headerFlags = flags;
          headerBlock = [payload.subarray(start, end)];
          if ((flags & FLAG_END_HEADERS) !== 0) finishHeaderBlock();
        } else if (type === FRAME_CONTINUATION) {
          assert.equal(streamId, headerStream);
          headerBlock.push(payload);
          if ((flags & FLAG_END_HEADERS) !== 0) finishHeaderBlock();
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    responseBlocks,
    decoder,
    encoder,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Sends one request with END_STREAM and resolves with the response headers node saw. */
function request(client: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): Promise<http2.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const stream = client.request(headers, { endStream: true });
    let response: http2.IncomingHttpHeaders | undefined;
    stream.on('response', (h) => { response = h; });
    stream.on('error', reject);
    stream.resume();
    stream.on('close', () => (response === undefined ? reject(new Error(`stream closed without response (code ${stream.rstCode})`)) : resolve(response)));
  });
}

function bytesToString(from: number, to: number): string {
  let s = '';
  for (let byte = from; byte <= to; byte++) s += String.fromCharCode(byte);
  return s;
}

/** Every visible ASCII byte and every byte 0x80-0xff, plus a tab, inside letters (no edge whitespace). */
const ALL_ASCII = `a${bytesToString(0x20, 0x7e)}z`;
const ALL_HIGH = `a${bytesToString(0x80, 0xff)}z`;
const WITH_TAB = 'a\tb\tc';

function distinctValue(prefix: string, i: number): string {
  const head = `${prefix}-${i}-`;
  return head + String.fromCharCode(0x41 + (i % 26)).repeat(100 - head.length);
}

function responseFields(streamId: number, request: Field[]): string[] {
  const index = request.find(([name]) => name === 'x-index')?.[1] ?? '?';
  const fields = [
    ':status', '200',
    'content-type', 'application/grpc',
    'x-all-ascii', ALL_ASCII,
    'x-all-high', ALL_HIGH,
    'x-tab', WITH_TAB,
    'x-repeat', 'same-every-time',
    'x-distinct', distinctValue(`response-${streamId}`, Number(index)),
    'x-echo-index', index,
  ];
  if (index === '7') fields.push('x-big', 'b'.repeat(40000));
  return fields;
}

function assertResponse(seen: http2.IncomingHttpHeaders, expected: string[]): void {
  for (let i = 0; i < expected.length; i += 2) {
    const name = expected[i]!;
    const value = name === ':status' ? Number(expected[i + 1]) : expected[i + 1];
    assert.deepEqual(seen[name], value, `response header ${name}`);
  }
}

describe('HPACK interop with nghttp2 (node:http2 over a raw socket)', () => {
  const REQUESTS = 200;

  for (const headerTableSize of [4096, 256]) {
    it(`decodes ${REQUESTS} requests and answers with our encoder; client headerTableSize ${headerTableSize}`, async () => {
      const server = await startRawServer(responseFields);
      const client = http2.connect(`http://127.0.0.1:${server.port}`, { settings: { headerTableSize } });
      client.on('error', () => {});
      try {
        let maxDecoderTable = 0;
        for (let i = 0; i < REQUESTS; i++) {
          const sent: http2.OutgoingHttpHeaders = {
            ':method': i % 3 === 0 ? 'POST' : 'GET',
            ':path': `/svc.Echo/Method${i % 5}`,
            'content-type': 'application/grpc',
            'x-index': String(i),
            'x-all-ascii': ALL_ASCII,
            'x-all-high': ALL_HIGH,
            'x-tab': WITH_TAB,
            'x-repeat': 'same-every-time',
            'x-distinct': distinctValue('request', i),
          };
          if (i === 7) sent['x-big'] = 'q'.repeat(40000); // over 16384: HEADERS + CONTINUATION
          const seen = await request(client, sent);
          const decoded = server.requests[server.requests.length - 1]!;
          const streamId = 1 + 2 * i;
          for (const [name, value] of Object.entries(sent)) {
            assert.deepEqual(decoded.filter(([n]) => n === name), [[name, value]], `request ${i} header ${name}`);
          }
          assert.ok(decoded.some(([n, v]) => n === ':authority' && v === `127.0.0.1:${server.port}`));
          assert.ok(decoded.some(([n, v]) => n === ':scheme' && v === 'http'));
          assertResponse(seen, responseFields(streamId, decoded));
          maxDecoderTable = Math.max(maxDecoderTable, server.decoder.dynamicTableSize);
        }
        // nghttp2 used our decoder's dynamic table and evicted (200 distinct 100-byte values > 4096 octets).
        assert.ok(maxDecoderTable > 3500, `decoder table peaked at ${maxDecoderTable}`);
        assert.ok(server.decoder.dynamicTableSize <= 4096);
        const entries = server.decoder.dynamicTableEntries();
        assert.ok(entries.some(([n, v]) => n === 'x-distinct' && v === distinctValue('request', REQUESTS - 1)));
        assert.ok(!entries.some(([n, v]) => n === 'x-distinct' && v === distinctValue('request', 0)));
        assert.equal(server.requests.length, REQUESTS);
        // Our side: the size update when the client announced a smaller table, and reuse of our table.
        const first = server.responseBlocks[0]!;
        if (headerTableSize === 256) assert.deepEqual(first.subarray(0, 3), Buffer.from([0x3f, 0xe1, 0x01]));
        else assert.notEqual(first[0]! & 0xe0, 0x20);
        const last = server.responseBlocks[server.responseBlocks.length - 1]!;
        // With 4096 octets the repeated response fields are indexed; with 256 only the small ones fit.
        if (headerTableSize === 4096) assert.ok(last.length < first.length - 200, 'later responses reuse the dynamic table');
        assert.ok(server.encoder.dynamicTableSize <= headerTableSize);
      } finally {
        await new Promise<void>((resolve) => client.close(() => resolve()));
        await server.close();
      }
    });
  }
});
