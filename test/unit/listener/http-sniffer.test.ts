// http_inspector / codec AUTO sniffing: the h2 preface and HTTP/1.x request lines, byte by byte.

import * as assert from 'node:assert/strict';
import { H2_PREFACE, MAX_HTTP_INSPECT_BYTES, sniffHttp, startsWithH2Preface } from '../../../sidecar/src/listener/http-sniffer';

describe('listener/http-sniffer', () => {
  it('the h2 preface is h2c once complete, need_more on every prefix', () => {
    for (let n = 0; n < H2_PREFACE.length; n++) {
      assert.equal(sniffHttp(H2_PREFACE.subarray(0, n)), 'need_more', `prefix ${n}`);
      assert.equal(startsWithH2Preface(H2_PREFACE.subarray(0, n)), undefined);
    }
    assert.equal(sniffHttp(H2_PREFACE), 'h2c');
    assert.equal(sniffHttp(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])])), 'h2c');
    assert.equal(startsWithH2Preface(Buffer.from('GET / HTTP/1.1\r\n')), false);
  });

  const table: Array<[string, string]> = [
    ['GET / HTTP/1.1\r\n', 'http/1.1'],
    ['POST /a?b=c HTTP/1.0\r\nHost: x\r\n', 'http/1.0'],
    ['OPTIONS * HTTP/1.1\r\n', 'http/1.1'],
    ['CONNECT example.com:443 HTTP/1.1\r\n', 'http/1.1'],
    ['M-SEARCH * HTTP/1.1\r\n', 'http/1.1'],
    ['GET / HTTP/1.1', 'need_more'],
    ['GET / HTTP/1.1\r', 'need_more'],
    ['GET /long/pa', 'need_more'],
    ['G', 'need_more'],
    ['PRI * HTTP/2.0\r\n', 'need_more'],
    ['GET / HTTP/2.0\r\n', 'none'],
    ['GET / HTTP/1.2\r\n', 'none'],
    ['GET / HTTP/1.1\n', 'none'],
    ['GET  / HTTP/1.1\r\n', 'none'],
    [' GET / HTTP/1.1\r\n', 'none'],
    ['GET / FOO/1.1\r\n', 'none'],
    ['\x16\x03\x01\x02\x00', 'none'],
    ['SSH-2.0-OpenSSH_9.6\r\n', 'none'],
    ['GET /\x00 HTTP/1.1\r\n', 'none'],
  ];
  for (const [input, expected] of table) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => assert.equal(sniffHttp(Buffer.from(input, 'latin1')), expected));
  }

  it('gives up (none) after MAX_HTTP_INSPECT_BYTES without a request line', () => {
    const long = Buffer.from(`GET /${'a'.repeat(MAX_HTTP_INSPECT_BYTES)}`);
    assert.equal(sniffHttp(long), 'none');
    assert.equal(sniffHttp(long.subarray(0, MAX_HTTP_INSPECT_BYTES - 1)), 'need_more');
  });
});
