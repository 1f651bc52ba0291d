// Upstream TLS from a cluster transport socket: Node TLS options (SNI, ALPN, CA, client cert, SAN checks) or why it cannot connect.

import type * as tls from 'node:tls';
import type { StringMatcherConfig } from '../../config/route-config';
import type { UpstreamTransportSocketConfig } from '../../config/tls-config';
import { matchesSan, readDataSource, subjectAltNames, tlsVersion } from '../../config/tls-material';

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

function acceptAnyIdentity(): undefined {
  return undefined;
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
