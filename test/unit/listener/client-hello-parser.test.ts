// tls_inspector's ClientHello parser on real ClientHellos: SNI, ALPN, not TLS, malformed, truncated, split records.

import * as assert from 'node:assert/strict';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../../../sidecar/src/listener/client-hello-parser';
import { noSniNoAlpn, sniAlpn, tls12Istio } from './client-hellos';

/** Re-frames a single-record ClientHello into records of at most `size` payload bytes. */
function split(hello: Buffer, size: number): Buffer {
  const payload = hello.subarray(5);
  const records: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) {
    const part = payload.subarray(i, i + size);
    const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    records.push(header, part);
  }
  return Buffer.concat(records);
}

describe('listener/client-hello-parser', () => {
  it('reads SNI (lower-cased) and the ALPN list in order', () => {
    assert.deepEqual(parseClientHello(sniAlpn), { kind: 'tls', serverName: 'reviews.default.svc.cluster.local', alpn: ['h2', 'http/1.1'] });
  });

  it('no SNI and no ALPN: tls with empty values', () => {
    assert.deepEqual(parseClientHello(noSniNoAlpn), { kind: 'tls', serverName: '', alpn: [] });
  });

  it('a TLS 1.2 ClientHello with Istio ALPN', () => {
    assert.deepEqual(parseClientHello(tls12Istio), { kind: 'tls', serverName: 'outbound_.9080_._.reviews.default.svc.cluster.local', alpn: ['istio-peer-exchange', 'istio'] });
  });

  it('every strict prefix of a ClientHello asks for more bytes', () => {
    for (let n = 0; n < sniAlpn.length; n++) assert.equal(parseClientHello(sniAlpn.subarray(0, n)).kind, 'need_more', `prefix of ${n} bytes`);
  });

  it('bytes after the ClientHello do not matter', () => {
    assert.equal(parseClientHello(Buffer.concat([sniAlpn, Buffer.from('garbage')])).kind, 'tls');
  });

  it('a ClientHello split over several handshake records is reassembled', () => {
    for (const size of [1, 3, 50, 200]) {
      const framed = split(sniAlpn, size);
      assert.deepEqual(parseClientHello(framed), { kind: 'tls', serverName: 'reviews.default.svc.cluster.local', alpn: ['h2', 'http/1.1'] }, `records of ${size}`);
      assert.equal(parseClientHello(framed.subarray(0, framed.length - 1)).kind, 'need_more');
    }
  });

  const notTls: Array<[string, Buffer]> = [
    ['an HTTP/1 request', Buffer.from('GET / HTTP/1.1\r\n')],
    ['the h2 preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['an SSLv2-style hello', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])],
    ['a handshake record with version 2.0', Buffer.from([0x16, 0x02, 0x00, 0x00, 0x10])],
    ['a zero-length record', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00])],
    ['an oversized record', Buffer.from([0x16, 0x03, 0x01, 0x40, 0x01])],
    ['a ServerHello instead of a ClientHello', Buffer.from([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00])],
  ];
  for (const [name, data] of notTls) {
    it(`not TLS: ${name}`, () => assert.equal(parseClientHello(data).kind, 'not_tls'));
  }

  /** Copies the hello and lets `edit` corrupt it. */
  function corrupt(edit: (b: Buffer) => void): Buffer {
    const b = Buffer.from(sniAlpn);
    edit(b);
    return b;
  }
  // Offsets in sniAlpn: record header 5, handshake header 4, version 2, random 32 => session id length at 43.
  const sessionIdAt = 43;
  const malformed: Array<[string, Buffer]> = [
    ['session id longer than 32', corrupt((b) => { b[sessionIdAt] = 33; })],
    ['odd cipher suites length', corrupt((b) => { const at = sessionIdAt + 1 + b[sessionIdAt]!; b.writeUInt16BE(b.readUInt16BE(at) + 1, at); })],
    ['client_version 2.x', corrupt((b) => { b[9] = 0x02; })],
    ['extensions length one short', corrupt((b) => {
      const suitesAt = sessionIdAt + 1 + b[sessionIdAt]!;
      const compAt = suitesAt + 2 + b.readUInt16BE(suitesAt);
      const extAt = compAt + 1 + b[compAt]!;
      b.writeUInt16BE(b.readUInt16BE(extAt) - 1, extAt);
    })],
    ['server_name list length wrong', corrupt((b) => { const at = b.indexOf(Buffer.from('0000002600240000', 'hex')); b.writeUInt16BE(0x25, at + 4); })],
    ['empty ALPN protocol name', corrupt((b) => { const at = b.indexOf(Buffer.from('02683208', 'hex')); b[at] = 0; })],
  ];
  for (const [name, data] of malformed) {
    it(`malformed (not TLS, as Envoy's tls_not_found): ${name}`, () => assert.equal(parseClientHello(data).kind, 'not_tls'));
  }

  it('a ClientHello declared larger than 64 KiB is too large', () => {
    const b = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0, 0, 0]);
    b.writeUIntBE(MAX_CLIENT_HELLO_BYTES, 6, 3);
    assert.equal(parseClientHello(b).kind, 'too_large');
  });
});
