// Turning TLS config into what node's tls module takes, shared by downstream (listener) and upstream (pool) TLS:
// data sources, protocol versions, and subject-alt-name matching.

import { readFileSync } from 'node:fs';
import type * as tls from 'node:tls';
import type { StringMatcherConfig } from './route-config';
import type { DataSourceConfig, TlsVersion } from './tls-config';

/** Reads a `DataSource` (file, inline string or environment variable). Throws with a clear message when missing. */
export function readDataSource(source: DataSourceConfig): string {
  switch (source.kind) {
    case 'filename':
      return readFileSync(source.path, 'utf8');
    case 'inline':
      return source.value;
    case 'env': {
      const value = process.env[source.name];
      if (value === undefined) throw new Error(`environment variable ${source.name} is not set`);
      return value;
    }
  }
}

/** Envoy `TlsParameters` version -> node's name; TLS_AUTO (and anything unknown) takes `fallback`. */
export function tlsVersion(v: TlsVersion, fallback: tls.SecureVersion): tls.SecureVersion {
  switch (v) {
    case 'TLSv1_0':
      return 'TLSv1';
    case 'TLSv1_1':
      return 'TLSv1.1';
    case 'TLSv1_2':
      return 'TLSv1.2';
    case 'TLSv1_3':
      return 'TLSv1.3';
    default:
      return fallback;
  }
}

/** The DNS, URI and IP SANs of a peer certificate (node's `subjectaltname` text; quoted values unquoted). */
export function subjectAltNames(cert: tls.PeerCertificate): string[] {
  const text = cert.subjectaltname;
  if (!text) return [];
  const out: string[] = [];
  for (const part of text.split(', ')) {
    const colon = part.indexOf(':');
    if (colon < 0) continue;
    const type = part.slice(0, colon);
    if (type !== 'DNS' && type !== 'URI' && type !== 'IP Address') continue;
    let value = part.slice(colon + 1);
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    out.push(value);
  }
  return out;
}

/** Envoy `match_typed_subject_alt_names` / `match_subject_alt_names`: does one SAN match one matcher. */
export function matchesSan(matcher: StringMatcherConfig, san: string): boolean {
  if (matcher.kind === 'safe_regex') return new RegExp(`^(?:${matcher.regex})$`, 'u').test(san);
  const value = matcher.ignoreCase ? matcher.value.toLowerCase() : matcher.value;
  const subject = matcher.ignoreCase ? san.toLowerCase() : san;
  switch (matcher.kind) {
    case 'exact':
      return subject === value;
    case 'prefix':
      return subject.startsWith(value);
    case 'suffix':
      return subject.endsWith(value);
    case 'contains':
      return subject.includes(value);
  }
}
