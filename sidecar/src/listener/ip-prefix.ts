// IP addresses as bytes and CIDR prefix tests, for filter-chain matching (v4-mapped IPv6 counts as IPv4).

import * as net from 'node:net';

/** A CIDR range compiled once: 4 or 16 address bytes and a prefix length. */
export interface CompiledPrefix {
  readonly bytes: Uint8Array;
  readonly prefixLen: number;
}

/** 4 bytes for IPv4 (and v4-mapped IPv6 `::ffff:a.b.c.d`), 16 for IPv6, null when `host` is not an IP literal. */
export function ipBytes(host: string): Uint8Array | null {
  const family = net.isIP(host);
  if (family === 4) return ipv4Bytes(host);
  if (family !== 6) return null;
  const bytes = ipv6Bytes(host);
  if (bytes === null) return null;
  const mapped = bytes[10] === 0xff && bytes[11] === 0xff && bytes.subarray(0, 10).every((b) => b === 0);
  return mapped ? bytes.slice(12) : bytes;
}

function ipv4Bytes(host: string): Uint8Array {
  const parts = host.split('.');
  return Uint8Array.from(parts, (part) => Number(part));
}

function ipv6Bytes(host: string): Uint8Array | null {
  let text = host;
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  const out = new Uint8Array(16);
  let tail: number[] = [];
  const dotted = text.lastIndexOf(':');
  const last = text.slice(dotted + 1);
  if (last.includes('.')) {
    const v4 = ipv4Bytes(last);
    text = `${text.slice(0, dotted + 1)}${(((v4[0]! << 8) | v4[1]!)).toString(16)}:${(((v4[2]! << 8) | v4[3]!)).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':').map((g) => parseInt(g, 16)) : [];
  const groups = head.map((g) => parseInt(g, 16));
  if (halves.length === 2) while (groups.length + tail.length < 8) groups.push(0);
  groups.push(...tail);
  if (groups.length !== 8) return null;
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/** Compiles `addressPrefix/prefixLen`; null when the prefix is not an IP (the decoder rejects those). */
export function compilePrefix(addressPrefix: string, prefixLen: number): CompiledPrefix | null {
  const bytes = ipBytes(addressPrefix);
  if (bytes === null) return null;
  // A v4-mapped prefix given as IPv6 (::ffff:0:0/96 and longer) becomes the IPv4 prefix it covers.
  const len = bytes.length === 4 && net.isIPv6(addressPrefix) ? Math.max(0, prefixLen - 96) : prefixLen;
  return { bytes, prefixLen: Math.min(len, bytes.length * 8) };
}

/** True when `address` (from `ipBytes`) lies in `prefix`; families must agree. */
export function prefixContains(prefix: CompiledPrefix, address: Uint8Array): boolean {
  if (prefix.bytes.length !== address.length) return false;
  const whole = prefix.prefixLen >> 3;
  for (let i = 0; i < whole; i++) if (prefix.bytes[i] !== address[i]) return false;
  const rest = prefix.prefixLen & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((prefix.bytes[whole]! ^ address[whole]!) & mask) === 0;
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(address: Uint8Array): boolean {
  if (address.length === 4) return address[0] === 127;
  for (let i = 0; i < 15; i++) if (address[i] !== 0) return false;
  return address[15] === 1;
}

/** Byte-wise equality of two addresses. */
export function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
