// tls_inspector's parser: from the first bytes of a connection, a TLS ClientHello's SNI and ALPN list, or "not TLS".

/** Envoy's tls_inspector `max_client_hello_size` default: a longer ClientHello closes the connection. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

/**
 * - `need_more`: a valid prefix of a ClientHello; read more bytes.
 * - `not_tls`: not a TLS handshake record, or a malformed ClientHello (Envoy: `tls_not_found`, the connection
 *   goes on as raw_buffer).
 * - `too_large`: the ClientHello exceeds MAX_CLIENT_HELLO_BYTES (Envoy closes the connection).
 * - `tls`: a well-formed ClientHello; `serverName` lower-cased (Envoy lower-cases the SNI), '' when absent.
 */
export type ClientHelloResult =
  | { readonly kind: 'need_more' }
  | { readonly kind: 'not_tls'; readonly reason: string }
  | { readonly kind: 'too_large' }
  | { readonly kind: 'tls'; readonly serverName: string; readonly alpn: readonly string[] };

const NEED_MORE: ClientHelloResult = Object.freeze({ kind: 'need_more' });
const TOO_LARGE: ClientHelloResult = Object.freeze({ kind: 'too_large' });
const RECORD_HEADER = 5;
const MAX_RECORD_PAYLOAD = 16384; // RFC 8446 §5.1: a plaintext record is at most 2^14 bytes.
const HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const EXT_ALPN = 0x0010;

function notTls(reason: string): ClientHelloResult {
  return { kind: 'not_tls', reason };
}

/**
 * Parses `data` (the bytes read so far) strictly: every length must fit its container exactly. A ClientHello split
 * over several handshake records is reassembled. Pure; O(bytes).
 */
export function parseClientHello(data: Buffer): ClientHelloResult {
  if (data.length >= 1 && data[0] !== HANDSHAKE) return notTls('not a handshake record');
  if (data.length >= 2 && data[1] !== 0x03) return notTls('record version is not 3.x');
  // Reassemble the handshake message from consecutive records until its declared length is complete.
  let offset = 0;
  let message: Buffer | null = null;
  let messageLength = -1;
  const fragments: Buffer[] = [];
  let collected = 0;
  for (;;) {
    if (data.length < offset + RECORD_HEADER) return NEED_MORE;
    if (data[offset] !== HANDSHAKE) return notTls('handshake interleaved with another record type');
    if (data[offset + 1] !== 0x03) return notTls('record version is not 3.x');
    const recordLength = data.readUInt16BE(offset + 3);
    if (recordLength === 0 || recordLength > MAX_RECORD_PAYLOAD) return notTls(`bad record length ${recordLength}`);
    const available = Math.min(recordLength, data.length - offset - RECORD_HEADER);
    fragments.push(data.subarray(offset + RECORD_HEADER, offset + RECORD_HEADER + available));
    collected += available;
    if (messageLength < 0 && collected >= 4) {
      const head = fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments);
      if (head[0] !== CLIENT_HELLO) return notTls('first handshake message is not a ClientHello');
      messageLength = head.readUIntBE(1, 3);
      if (messageLength + 4 > MAX_CLIENT_HELLO_BYTES) return TOO_LARGE;
    } else if (messageLength < 0 && fragments.length === 1 && collected >= 1 && fragments[0]![0] !== CLIENT_HELLO) {
      return notTls('first handshake message is not a ClientHello');
    }
    if (messageLength >= 0 && collected >= messageLength + 4) {
      message = (fragments.length === 1 ? fragments[0]! : Buffer.concat(fragments)).subarray(4, 4 + messageLength);
      break;
    }
    if (available < recordLength) return NEED_MORE;
    offset += RECORD_HEADER + recordLength;
  }
  return parseClientHelloBody(message);
}

/** The ClientHello body after the 4-byte handshake header (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2). */
function parseClientHelloBody(body: Buffer): ClientHelloResult {
  let p = 0;
  if (body.length < 2 + 32 + 1) return notTls('ClientHello too short');
  if (body[0] !== 0x03) return notTls('client_version is not 3.x');
  p += 2 + 32; // client_version, random
  const sessionIdLength = body[p]!;
  if (sessionIdLength > 32) return notTls('session_id longer than 32 bytes');
  p += 1 + sessionIdLength;
  if (p + 2 > body.length) return notTls('truncated cipher_suites');
  const suitesLength = body.readUInt16BE(p);
  if (suitesLength < 2 || suitesLength % 2 !== 0) return notTls('bad cipher_suites length');
  p += 2 + suitesLength;
  if (p + 1 > body.length) return notTls('truncated compression_methods');
  const compressionLength = body[p]!;
  if (compressionLength < 1) return notTls('empty compression_methods');
  p += 1 + compressionLength;
  if (p > body.length) return notTls('truncated compression_methods');
  if (p === body.length) return { kind: 'tls', serverName: '', alpn: [] }; // no extensions (TLS 1.2 allows it)
  if (p + 2 > body.length) return notTls('truncated extensions length');
  const extensionsEnd = p + 2 + body.readUInt16BE(p);
  if (extensionsEnd !== body.length) return notTls('extensions length does not match the ClientHello');
  p += 2;
  let serverName = '';
  let alpn: readonly string[] = [];
  const seen = new Set<number>();
  while (p < extensionsEnd) {
    if (p + 4 > extensionsEnd) return notTls('truncated extension header');
    const type = body.readUInt16BE(p);
    const length = body.readUInt16BE(p + 2);
    p += 4;
    if (p + length > extensionsEnd) return notTls('extension overruns the extensions block');
    if (seen.has(type)) return notTls(`duplicate extension ${type}`);
    seen.add(type);
    const ext = body.subarray(p, p + length);
    p += length;
    if (type === EXT_SERVER_NAME) {
      const name = parseServerName(ext);
      if (name === null) return notTls('malformed server_name extension');
      serverName = name;
    } else if (type === EXT_ALPN) {
      const protocols = parseAlpn(ext);
      if (protocols === null) return notTls('malformed ALPN extension');
      alpn = protocols;
    }
  }
  return { kind: 'tls', serverName, alpn };
}

/** RFC 6066 §3: ServerNameList; the host_name entry, lower-cased. null when malformed. */
function parseServerName(ext: Buffer): string | null {
  if (ext.length === 0) return ''; // a server's empty echo; clients send a list, but accept like BoringSSL's peek
  if (ext.length < 2 || ext.readUInt16BE(0) !== ext.length - 2) return null;
  let p = 2;
  let hostName: string | null = null;
  while (p < ext.length) {
    if (p + 3 > ext.length) return null;
    const nameType = ext[p]!;
    const length = ext.readUInt16BE(p + 1);
    p += 3;
    if (length === 0 || p + length > ext.length) return null;
    if (nameType === 0) {
      if (hostName !== null) return null; // at most one host_name
      const name = ext.subarray(p, p + length);
      for (const byte of name) if (byte <= 0x20 || byte >= 0x7f) return null;
      hostName = name.toString('latin1').toLowerCase();
    }
    p += length;
  }
  return hostName ?? '';
}

/** RFC 7301 §3.1: ProtocolNameList, each name 1..255 bytes. null when malformed. */
function parseAlpn(ext: Buffer): readonly string[] | null {
  if (ext.length < 2 || ext.readUInt16BE(0) !== ext.length - 2 || ext.length === 2) return null;
  const protocols: string[] = [];
  let p = 2;
  while (p < ext.length) {
    const length = ext[p]!;
    p += 1;
    if (length === 0 || p + length > ext.length) return null;
    protocols.push(ext.subarray(p, p + length).toString('latin1'));
    p += length;
  }
  return protocols;
}
