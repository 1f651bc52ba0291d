// http_inspector's and codec AUTO's sniffing: the HTTP/2 connection preface, or an HTTP/1.x request line.

/** RFC 9113 §3.4: the client connection preface. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Envoy's http_inspector reads at most this much looking for the request line. */
export const MAX_HTTP_INSPECT_BYTES = 8192;

/** `need_more` until decided; `h2c`, `http/1.1`, `http/1.0` (Envoy's application protocol names); `none`: not HTTP. */
export type HttpSniffResult = 'need_more' | 'h2c' | 'http/1.1' | 'http/1.0' | 'none';

/** True when `data` starts with the whole h2 preface; false when it cannot; undefined while it still might. */
export function startsWithH2Preface(data: Buffer): boolean | undefined {
  const n = Math.min(data.length, H2_PREFACE.length);
  if (data.compare(H2_PREFACE, 0, n, 0, n) !== 0) return false;
  return n === H2_PREFACE.length ? true : undefined;
}

const SP = 0x20;
const CR = 0x0d;
const LF = 0x0a;

/** RFC 9110 tchar. */
function isTokenChar(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x21 || (b >= 0x23 && b <= 0x27) || b === 0x2a || b === 0x2b || b === 0x2d || b === 0x2e || b === 0x5e || b === 0x5f || b === 0x60 || b === 0x7c || b === 0x7e;
}

/**
 * Classifies the first bytes of a plaintext connection: the h2 preface gives `h2c`; `METHOD SP target SP HTTP/1.x CRLF`
 * gives `http/1.1` or `http/1.0`; anything that cannot become either gives `none` as early as possible. Pure.
 */
export function sniffHttp(data: Buffer): HttpSniffResult {
  const h2 = startsWithH2Preface(data);
  if (h2 === true) return 'h2c';
  const limit = Math.min(data.length, MAX_HTTP_INSPECT_BYTES);
  // method
  let p = 0;
  while (p < limit && isTokenChar(data[p]!)) p++;
  if (p === limit) return data.length >= MAX_HTTP_INSPECT_BYTES ? 'none' : 'need_more';
  if (p === 0 || data[p] !== SP) return 'none';
  p++;
  // request-target: visible ASCII
  const targetStart = p;
  while (p < limit && data[p]! > SP && data[p]! < 0x7f) p++;
  if (p === limit) return data.length >= MAX_HTTP_INSPECT_BYTES ? 'none' : 'need_more';
  if (p === targetStart || data[p] !== SP) return h2 === undefined ? 'need_more' : 'none';
  p++;
  // HTTP-version CRLF
  const version = 'HTTP/1.';
  for (let i = 0; i < version.length; i++, p++) {
    if (p >= data.length) return 'need_more';
    if (data[p] !== version.charCodeAt(i)) return h2 === undefined ? 'need_more' : 'none';
  }
  if (p >= data.length) return 'need_more';
  const minor = data[p]!;
  if (minor !== 0x30 && minor !== 0x31) return 'none';
  p++;
  if (p >= data.length) return 'need_more';
  if (data[p] !== CR) return 'none';
  p++;
  if (p >= data.length) return 'need_more';
  if (data[p] !== LF) return 'none';
  return minor === 0x31 ? 'http/1.1' : 'http/1.0';
}
