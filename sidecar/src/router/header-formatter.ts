// Header value formatters (%DOWNSTREAM_REMOTE_ADDRESS%, %REQ(x)%, %START_TIME%...) compiled once per value; HeaderVars.

import type { HeaderMap } from './header-map';
import { requestHeaderValue, type RouteRequest } from './route-request';

/**
 * Per-request values the header formatters read. Built by the proxy once per request (the response side adds
 * `upstreamHost`). Addresses are bare IPs; ports separate, so nothing is formatted unless a header asks for it.
 */
export interface HeaderVars {
  readonly request: RouteRequest;
  /** Downstream peer IP (v4 or v6, no brackets) and port. */
  readonly downstreamRemoteIp: string;
  readonly downstreamRemotePort: number;
  /** The local address the connection arrived on (after original-destination recovery). */
  readonly downstreamLocalIp: string;
  readonly downstreamLocalPort: number;
  /** `ip:port` of the upstream host, once picked (response headers); null before. */
  readonly upstreamHost: string | null;
  /** `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`. */
  readonly protocol: string;
  /** Request start, epoch ms. */
  readonly startTimeMs: number;
}

/** Which header map `%REQ(x)%` reads: the request being mutated, or (for responses) `vars.request.headers`. */
export type FormatterHeaders = HeaderMap | null;

/** A compiled header value: evaluation concatenates literal parts and variables. */
export type HeaderValueFormatter = (vars: HeaderVars, requestHeaders: FormatterHeaders) => string;

function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

/** A small strftime subset for `%START_TIME(fmt)%` (UTC): %Y %m %d %H %M %S %s %E3S %E6S %E9S %z %Z %%. */
function strftime(format: string, ms: number): string {
  const d = new Date(ms);
  return format.replace(/%(E[369]S|[YmdHMSszZ%])/g, (_m, spec: string) => {
    switch (spec) {
      case 'Y': return String(d.getUTCFullYear());
      case 'm': return pad(d.getUTCMonth() + 1);
      case 'd': return pad(d.getUTCDate());
      case 'H': return pad(d.getUTCHours());
      case 'M': return pad(d.getUTCMinutes());
      case 'S': return pad(d.getUTCSeconds());
      case 's': return String(Math.floor(ms / 1000));
      case 'z': return '+0000';
      case 'Z': return 'UTC';
      case '%': return '%';
      default: {
        const digits = Number(spec[1]);
        return `${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3).padEnd(digits, '0')}`;
      }
    }
  });
}

type Part = string | HeaderValueFormatter;

function command(name: string, arg: string | undefined, maxLength: number | undefined): HeaderValueFormatter | null {
  let f: HeaderValueFormatter | null = null;
  switch (name) {
    case 'DOWNSTREAM_REMOTE_ADDRESS':
      f = (v) => hostPort(v.downstreamRemoteIp, v.downstreamRemotePort);
      break;
    case 'DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT':
      f = (v) => v.downstreamRemoteIp;
      break;
    case 'DOWNSTREAM_LOCAL_ADDRESS':
      f = (v) => hostPort(v.downstreamLocalIp, v.downstreamLocalPort);
      break;
    case 'DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT':
      f = (v) => v.downstreamLocalIp;
      break;
    case 'UPSTREAM_HOST':
      f = (v) => v.upstreamHost ?? '';
      break;
    case 'PROTOCOL':
      f = (v) => v.protocol;
      break;
    case 'START_TIME':
      // Envoy's default START_TIME format is %Y-%m-%dT%H:%M:%E3SZ, which is toISOString().
      f = arg === undefined || arg === '' ? (v) => new Date(v.startTimeMs).toISOString() : (v) => strftime(arg, v.startTimeMs);
      break;
    case 'REQ': {
      if (arg === undefined || arg === '') return null;
      // %REQ(X?Y)%: Y when X is absent.
      const [main, alt] = arg.toLowerCase().split('?', 2) as [string, string | undefined];
      const read = (v: HeaderVars, h: FormatterHeaders, n: string): string | undefined =>
        n.charCodeAt(0) === 58 /* ':' */ ? requestHeaderValue(v.request, n) : (h ?? v.request.headers).get(n);
      f = (v, h) => read(v, h, main) ?? (alt === undefined ? undefined : read(v, h, alt)) ?? '';
      break;
    }
    default:
      return null;
  }
  if (maxLength !== undefined) {
    const inner = f;
    f = (v, h) => inner(v, h).slice(0, maxLength);
  }
  return f;
}

const COMMAND = /%([A-Z0-9_]+)(?:\(([^)]*)\))?(?::(\d+))?%/y;

/**
 * Compiles a header value once: `%%` is a literal '%', known commands become variables (with Envoy's `:N` length
 * limit), anything else (unknown commands, a lone '%') is kept as written. Values without '%' cost nothing per request.
 */
export function compileHeaderValue(value: string): HeaderValueFormatter | string {
  if (!value.includes('%')) return value;
  const parts: Part[] = [];
  let literal = '';
  let i = 0;
  while (i < value.length) {
    const ch = value[i] as string;
    if (ch !== '%') {
      literal += ch;
      i++;
      continue;
    }
    if (value[i + 1] === '%') {
      literal += '%';
      i += 2;
      continue;
    }
    COMMAND.lastIndex = i;
    const m = COMMAND.exec(value);
    const f = m === null ? null : command(m[1] as string, m[2], m[3] === undefined ? undefined : Number(m[3]));
    if (m === null || f === null) {
      literal += ch;
      i++;
      continue;
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push(f);
    i += m[0].length;
  }
  if (literal !== '') parts.push(literal);
  if (parts.length === 0) return '';
  if (parts.length === 1 && typeof parts[0] === 'string') return parts[0];
  return (vars, headers) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(vars, headers);
    return out;
  };
}
