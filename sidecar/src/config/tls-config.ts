// Validated, immutable TLS transport-socket config (upstream UpstreamTlsContext, downstream DownstreamTlsContext).

import type { StringMatcherConfig } from './route-config';

export type TlsVersion = 'TLS_AUTO' | 'TLSv1_0' | 'TLSv1_1' | 'TLSv1_2' | 'TLSv1_3';

/** Where a secret comes from: files on disk (inline PEM included) or an SDS secret name. */
export type TlsCertificateSource =
  | { readonly kind: 'files'; readonly certificateChain: DataSourceConfig; readonly privateKey: DataSourceConfig }
  | { readonly kind: 'sds'; readonly name: string };

/** A `core.v3.DataSource`. */
export type DataSourceConfig =
  | { readonly kind: 'filename'; readonly path: string }
  | { readonly kind: 'inline'; readonly value: string }
  | { readonly kind: 'env'; readonly name: string };

export interface CertificateValidationConfig {
  /** Trusted CA: a file/inline PEM, an SDS secret name, or none (no server verification). */
  readonly trustedCa: DataSourceConfig | null;
  readonly trustedCaSdsName: string | null;
  /** Subject alt name matchers (any must match); empty = no SAN check. */
  readonly matchSubjectAltNames: readonly StringMatcherConfig[];
  readonly verifyCertificateSpki: readonly string[];
  readonly verifyCertificateHash: readonly string[];
  /** `trust_chain_verification: ACCEPT_UNTRUSTED`. */
  readonly acceptUntrusted: boolean;
}

export interface CommonTlsConfig {
  readonly minVersion: TlsVersion;
  readonly maxVersion: TlsVersion;
  readonly cipherSuites: readonly string[];
  readonly alpnProtocols: readonly string[];
  readonly certificates: readonly TlsCertificateSource[];
  readonly validation: CertificateValidationConfig | null;
}

export interface UpstreamTlsConfig {
  readonly kind: 'tls';
  readonly sni: string;
  readonly allowRenegotiation: boolean;
  readonly common: CommonTlsConfig;
}

export interface DownstreamTlsConfig {
  readonly kind: 'tls';
  readonly requireClientCertificate: boolean;
  readonly requireSni: boolean;
  readonly common: CommonTlsConfig;
}

/** `transport_socket` of a cluster: plaintext or TLS. */
export type UpstreamTransportSocketConfig = { readonly kind: 'raw_buffer' } | UpstreamTlsConfig;
/** `transport_socket` of a filter chain. */
export type DownstreamTransportSocketConfig = { readonly kind: 'raw_buffer' } | DownstreamTlsConfig;
