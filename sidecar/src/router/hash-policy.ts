// Route hash policies (RouteAction.hash_policy) -> the request hash ring hash and maglev look up, plus a generated cookie.

import * as net from 'node:net';
import type { HashPolicyConfig } from '../config/route-config';
import { combineHash64, xxHash64, type Hash64 } from '../core/xxhash64';
import { parseQueryParameters } from './query-parameters';
import { RegexSubstitution } from './re2-regex';
import { requestHeaderValue, type RouteRequest } from './route-request';

/** The connection facts hash policies read. */
export interface HashConnection {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
}

/** What a request's hash policies produce. */
export interface RequestHash {
  /** undefined when no policy produced a hash (the balancer then uses a random value). */
  readonly hash: Hash64 | undefined;
  /** A `Set-Cookie` value to add to the response (a cookie policy with a TTL found no cookie and generated one). */
  readonly setCookie: string | undefined;
}

type Compiled =
  | { readonly kind: 'header'; readonly name: string; readonly rewrite: RegexSubstitution | null; readonly terminal: boolean }
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs: number | null; readonly path: string; readonly terminal: boolean }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean }
  | { readonly kind: 'none'; readonly terminal: boolean };

const NO_HASH: RequestHash = Object.freeze({ hash: undefined, setCookie: undefined });
const compiledCache = new WeakMap<readonly HashPolicyConfig[], readonly Compiled[]>();

/**
 * Envoy `HashPolicyImpl::generateHash` (source/common/http/hash_policy.cc, specs §1.5). Each policy may yield an
 * XXH64: `header` (every value, regex-rewritten, sorted, hashed concatenated; absent → none), `cookie` (its value;
 * absent with a TTL → a new value `hex16(XXH64(remote.asString() + local.asString()))` sent as
 * `Set-Cookie: name="value"; Max-Age=s; Path=p; HttpOnly`), `source_ip` (the downstream IP without port),
 * `query_parameter` (first value). `filter_state` is not supported here (no filter state): it yields none.
 * Hashes combine as `rotl1(hash) ^ next`; a `terminal` policy stops the walk once a hash exists.
 * Pure; policies compile once per config array (cached weakly). Cost: O(policies + header values).
 */
export function computeRequestHash(policies: readonly HashPolicyConfig[], request: RouteRequest, connection: HashConnection): RequestHash {
  if (policies.length === 0) return NO_HASH;
  let compiled = compiledCache.get(policies);
  if (compiled === undefined) compiledCache.set(policies, (compiled = policies.map(compile)));
  let hash: Hash64 | undefined;
  let setCookie: string | undefined;
  for (const p of compiled) {
    let next: Hash64 | undefined;
    switch (p.kind) {
      case 'header':
        next = headerHash(p.name, p.rewrite, request);
        break;
      case 'cookie': {
        const value = cookieValue(request, p.name);
        if (value !== undefined) {
          next = xxHash64(value);
        } else if (p.ttlMs !== null) {
          const generated = hex16(xxHash64(addressString(connection.remoteAddress, connection.remotePort) + addressString(connection.localAddress, connection.localPort)));
          setCookie = makeSetCookie(p.name, generated, p.path, Math.floor(p.ttlMs / 1000));
          next = xxHash64(generated);
        }
        break;
      }
      case 'source_ip':
        if (net.isIP(connection.remoteAddress) !== 0) next = xxHash64(connection.remoteAddress);
        break;
      case 'query_parameter': {
        const value = parseQueryParameters(request.path).get(p.name);
        if (value !== undefined) next = xxHash64(value);
        break;
      }
      case 'none':
        break;
    }
    if (next !== undefined) hash = hash === undefined ? next : combineHash64(hash, next);
    if (p.terminal && hash !== undefined) break;
  }
  return hash === undefined && setCookie === undefined ? NO_HASH : { hash, setCookie };
}

function compile(c: HashPolicyConfig): Compiled {
  switch (c.kind) {
    case 'header':
      return { kind: 'header', name: c.headerName.toLowerCase(), rewrite: c.regexRewrite === null ? null : new RegexSubstitution(c.regexRewrite.regex, c.regexRewrite.substitution), terminal: c.terminal };
    case 'cookie':
      return { kind: 'cookie', name: c.name, ttlMs: c.ttlMs, path: c.path, terminal: c.terminal };
    case 'source_ip':
      return { kind: 'source_ip', terminal: c.terminal };
    case 'query_parameter':
      return { kind: 'query_parameter', name: c.name, terminal: c.terminal };
    case 'filter_state':
      return { kind: 'none', terminal: c.terminal };
  }
}

function headerHash(name: string, rewrite: RegexSubstitution | null, request: RouteRequest): Hash64 | undefined {
  if (name.charCodeAt(0) === 58 /* ':' */) {
    const v = requestHeaderValue(request, name);
    return v === undefined ? undefined : xxHash64(rewrite === null ? v : rewrite.replaceAll(v));
  }
  const values = request.headers.getAll(name);
  if (values.length === 0) return undefined;
  if (values.length === 1) return xxHash64(rewrite === null ? values[0]! : rewrite.replaceAll(values[0]!));
  const rewritten = values.map((v) => (rewrite === null ? v : rewrite.replaceAll(v))).sort();
  return xxHash64(rewritten.join(''));
}

/** Envoy `Http::Utility::parseCookieValue`: the first `name=value` pair in the Cookie headers; quotes stripped. */
function cookieValue(request: RouteRequest, name: string): string | undefined {
  for (const header of request.headers.getAll('cookie')) {
    for (const part of header.split(';')) {
      const eq = part.indexOf('=');
      if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      return value;
    }
  }
  return undefined;
}

/** Envoy `Http::Utility::makeSetCookieValue(key, value, path, max_age, httponly = true)`. */
function makeSetCookie(name: string, value: string, path: string, maxAgeS: number): string {
  let out = `${name}="${value}"`;
  if (maxAgeS !== 0) out += `; Max-Age=${maxAgeS}`;
  if (path !== '') out += `; Path=${path}`;
  return `${out}; HttpOnly`;
}

function addressString(ip: string, port: number): string {
  return net.isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function hex16(h: Hash64): string {
  return h.hi.toString(16).padStart(8, '0') + h.lo.toString(16).padStart(8, '0');
}
