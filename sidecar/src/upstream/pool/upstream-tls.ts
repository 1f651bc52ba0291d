// Upstream TLS from a cluster transport socket: Node TLS options (SNI, ALPN, CA, client cert, SAN checks) or why it cannot connect.

import { readFileSync } from 'node:fs';
import type * as tls from 'node:tls';
import type { StringMatcherConfig } from '../../config/route-config';
import type { DataSourceConfig, UpstreamTransportSocketConfig } from '../../config/tls-config';

/**
 * A resolved `UpstreamTlsContext`, built once per (cluster config, transport socket) off the hot path.
 * Invariants: when `unavailable` is non-null the pools never open a connection (they fail with UF and say
 * why): TLS was asked for and meshlet cannot provide it, so it never falls back to plaintext (specs/xds.md §4.2).
 * Otherwise `options` is ready to spread into `tls.connect()` / an `https.Agent`.
 */
export class UpstreamTls {
  /** Why no connection can be made (SDS secrets, unreadable files, insecure SAN check); null when usable. */
  readonly unavailable: string | null;
  /** TLS options without ALPN (the pool adds its protocol's list unless `alpn` is non-empty). */
  readonly options: tls.ConnectionOptions;
  /** Configured `alpn_protocols` (empty = the pool's default: `h2` for HTTP/2, `http/1.1` for HTTP/1). */
  readonly alpn: readonly string[];

  private constructor(unavailable: string | null, options: tls.ConnectionOptions, alpn: readonly string[]) {
    this.unavailable = unavailable;
    this.options = options;
    this.alpn = alpn;
  }

  /** null for plaintext (`raw_buffer` or no transport socket). Never throws. */
  static from(config: UpstreamTransportSocketConfig | null): UpstreamTls | null {
    if (config === null || config.kind === 'raw_buffer') return null;
    const common = config.common;
    const alpn = common.alpnProtocols;
    try {
      // Istio's `default` / `ROOTCA` come over SDS, which meshlet does not serve (yet): fail closed.
      const sds = common.certificates.find((c) => c.kind === 'sds');
      if (sds !== undefined && sds.kind === 'sds') return new UpstreamTls(`client certificate comes from SDS secret ${JSON.stringify(sds.name)}, which is not available`, {}, alpn);
      const validation = common.validation;
      if (validation?.trustedCaSdsName) return new UpstreamTls(`trusted CA comes from SDS secret ${JSON.stringify(validation.trustedCaSdsName)}, which is not available`, {}, alpn);

      const options: tls.ConnectionOptions = {
        // Envoy sends SNI only when `sni` is set (auto_sni aside); '' makes Node send none.
        servername: config.sni,
        minVersion: tlsVersion(common.minVersion, 'TLSv1.2'),
        maxVersion: tlsVersion(common.maxVersion, 'TLSv1.3'),
      };
      if (common.cipherSuites.length > 0) options.ciphers = common.cipherSuites.join(':');
      const cert = common.certificates[0];
      if (cert !== undefined && cert.kind === 'files') {
        options.cert = readDataSource(cert.certificateChain);
        options.key = readDataSource(cert.privateKey);
      }
      const matchers = validation?.matchSubjectAltNames ?? [];
      if (validation?.trustedCa) {
        options.ca = readDataSource(validation.trustedCa);
        options.rejectUnauthorized = !validation.acceptUntrusted;
        // Envoy's DefaultCertValidator checks only the configured SAN matchers, never the hostname.
        options.checkServerIdentity = matchers.length === 0 ? acceptAnyIdentity : sanChecker(matchers);
      } else {
        // Envoy: without a trusted CA the peer is not verified; SAN matching without one is a config error
        // ("SAN-based verification of peer certificates without trusted CA is insecure and not allowed").
        if (matchers.length > 0) return new UpstreamTls('subject alt name matchers without a trusted CA are not allowed (Envoy rejects this as insecure)', {}, alpn);
        options.rejectUnauthorized = false;
        options.checkServerIdentity = acceptAnyIdentity;
      }
      return new UpstreamTls(null, options, alpn);
    } catch (error) {
      return new UpstreamTls(`cannot load TLS material: ${(error as Error).message}`, {}, alpn);
    }
  }

  /** The ALPN list for a pool speaking `protocol` (`auto` offers both, h2 first). */
  alpnFor(protocol: 'http1' | 'http2' | 'auto'): string[] {
    if (this.alpn.length > 0) return [...this.alpn];
    return protocol === 'http2' ? ['h2'] : protocol === 'http1' ? ['http/1.1'] : ['h2', 'http/1.1'];
  }
}

function tlsVersion(v: string, fallback: tls.SecureVersion): tls.SecureVersion {
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

function readDataSource(source: DataSourceConfig): string {
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

function acceptAnyIdentity(): undefined {
  return undefined;
}

/** The DNS, URI and IP SANs of a peer certificate (Node's `subjectaltname` string). */
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

/** Envoy `match_typed_subject_alt_names` / `match_subject_alt_names`: any SAN matching any matcher passes. */
export function matchesSan(matcher: StringMatcherConfig, san: string): boolean {
  if (matcher.kind === 'safe_regex') return new RegExp(`^(?:${matcher.regex})$`).test(san);
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

function sanChecker(matchers: readonly StringMatcherConfig[]): (host: string, cert: tls.PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const sans = subjectAltNames(cert);
    for (const san of sans) {
      for (const m of matchers) if (matchesSan(m, san)) return undefined;
    }
    const error = new Error(`upstream certificate SANs [${sans.join(', ')}] match none of the configured subject alt name matchers`) as Error & { code: string };
    error.code = 'ERR_TLS_CERT_ALTNAME_INVALID';
    return error;
  };
}
