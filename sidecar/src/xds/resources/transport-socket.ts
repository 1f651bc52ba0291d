// transport_socket decoding: raw_buffer or TLS (UpstreamTlsContext for clusters, DownstreamTlsContext for filter chains).

import type { ErrorCollector } from '../../core/validation';
import type { StringMatcherConfig } from '../../config/route-config';
import type {
  CertificateValidationConfig,
  CommonTlsConfig,
  DataSourceConfig,
  DownstreamTransportSocketConfig,
  TlsCertificateSource,
  TlsVersion,
  UpstreamTransportSocketConfig,
} from '../../config/tls-config';
import type { DecodeContext } from './resource-type';
import { unpackTypedConfig } from './typed-config';
import { decodeList, decodeStringMatcher } from './matchers';
import type { TransportSocket__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/TransportSocket';
import type { UpstreamTlsContext__Output } from '../../../../xds-protos/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext';
import type { DownstreamTlsContext__Output } from '../../../../xds-protos/generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext';
import type { CommonTlsContext__Output } from '../../../../xds-protos/generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext';
import type { CertificateValidationContext__Output } from '../../../../xds-protos/generated/envoy/extensions/transport_sockets/tls/v3/CertificateValidationContext';
import type { DataSource__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/DataSource';

const T = 'type.googleapis.com/';
const RAW_BUFFER = `${T}envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer`;
const UPSTREAM_TLS = `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`;
const DOWNSTREAM_TLS = `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`;

/** Legacy transport socket names used without typed_config. */
const RAW_BUFFER_NAMES = new Set(['envoy.transport_sockets.raw_buffer', 'raw_buffer']);

function decodeDataSource(d: DataSource__Output | null, errors: ErrorCollector): DataSourceConfig | null {
  if (d === null) return null;
  switch (d.specifier) {
    case 'filename':
      return { kind: 'filename', path: d.filename ?? '' };
    case 'inline_string':
      return { kind: 'inline', value: d.inline_string ?? '' };
    case 'inline_bytes':
      return { kind: 'inline', value: Buffer.from(d.inline_bytes ?? new Uint8Array()).toString('utf8') };
    case 'environment_variable':
      return { kind: 'env', name: d.environment_variable ?? '' };
    default:
      errors.add('data source must set filename, inline_string, inline_bytes or environment_variable');
      return null;
  }
}

function decodeValidation(v: CertificateValidationContext__Output, errors: ErrorCollector, sdsName: string | null): CertificateValidationConfig {
  if (v.custom_validator_config !== null) errors.add('custom certificate validators are not supported', 'custom_validator_config');
  if (v.ca_certificate_provider_instance !== null) errors.add('certificate provider instances are not supported', 'ca_certificate_provider_instance');
  const typed = decodeList(v.match_typed_subject_alt_names, errors, 'match_typed_subject_alt_names', (m, e): StringMatcherConfig | null => decodeStringMatcher(m.matcher, e.at('matcher')));
  const legacy = decodeList(v.match_subject_alt_names, errors, 'match_subject_alt_names', decodeStringMatcher);
  return {
    trustedCa: decodeDataSource(v.trusted_ca, errors.at('trusted_ca')),
    trustedCaSdsName: sdsName,
    matchSubjectAltNames: [...typed, ...legacy],
    verifyCertificateSpki: v.verify_certificate_spki,
    verifyCertificateHash: v.verify_certificate_hash,
    acceptUntrusted: v.trust_chain_verification === 'ACCEPT_UNTRUSTED',
  };
}

function decodeCommonTls(c: CommonTlsContext__Output | null, errors: ErrorCollector): CommonTlsConfig {
  const certificates: TlsCertificateSource[] = [];
  let validation: CertificateValidationConfig | null = null;
  if (c !== null) {
    c.tls_certificates.forEach((cert, i) => {
      const e = errors.at('tls_certificates').at(i);
      if (cert.private_key_provider !== null || cert.pkcs12 !== null) {
        e.add('only certificate_chain + private_key certificates are supported');
        return;
      }
      const chain = decodeDataSource(cert.certificate_chain, e.at('certificate_chain'));
      const key = decodeDataSource(cert.private_key, e.at('private_key'));
      if (chain === null || key === null) e.add('certificate_chain and private_key are required');
      else certificates.push({ kind: 'files', certificateChain: chain, privateKey: key });
    });
    for (const sds of c.tls_certificate_sds_secret_configs) certificates.push({ kind: 'sds', name: sds.name });
    if (c.tls_certificate_provider_instance !== null || c.tls_certificate_certificate_provider !== null || c.tls_certificate_certificate_provider_instance !== null) {
      errors.add('certificate providers are not supported', 'tls_certificate_provider_instance');
    }
    switch (c.validation_context_type) {
      case 'validation_context':
        if (c.validation_context) validation = decodeValidation(c.validation_context, errors.at('validation_context'), null);
        break;
      case 'validation_context_sds_secret_config':
        validation = decodeValidation(emptyValidation(), errors, c.validation_context_sds_secret_config?.name ?? '');
        break;
      case 'combined_validation_context': {
        const combined = c.combined_validation_context;
        if (!combined) break;
        if (combined.validation_context_certificate_provider !== null || combined.validation_context_certificate_provider_instance !== null) {
          errors.add('certificate providers are not supported', 'combined_validation_context');
        }
        validation = decodeValidation(combined.default_validation_context ?? emptyValidation(), errors.at('combined_validation_context').at('default_validation_context'), combined.validation_context_sds_secret_config?.name ?? null);
        break;
      }
      case undefined:
        break;
      default:
        errors.add(`${c.validation_context_type} is not supported`, c.validation_context_type);
    }
  }
  const params = c?.tls_params ?? null;
  return {
    minVersion: (params?.tls_minimum_protocol_version ?? 'TLS_AUTO') as TlsVersion,
    maxVersion: (params?.tls_maximum_protocol_version ?? 'TLS_AUTO') as TlsVersion,
    cipherSuites: params?.cipher_suites ?? [],
    alpnProtocols: c?.alpn_protocols ?? [],
    certificates,
    validation,
  };
}

function emptyValidation(): CertificateValidationContext__Output {
  return {
    trusted_ca: null,
    verify_certificate_spki: [],
    verify_certificate_hash: [],
    match_typed_subject_alt_names: [],
    match_subject_alt_names: [],
    custom_validator_config: null,
    ca_certificate_provider_instance: null,
    trust_chain_verification: 'VERIFY_TRUST_CHAIN',
  } as unknown as CertificateValidationContext__Output;
}

/** Unpacks a transport socket: raw_buffer, the expected TLS context (decoded), or an error. */
function resolveTransportSocket<Tls>(ctx: DecodeContext, ts: TransportSocket__Output, tlsTypeUrl: string, side: string, errors: ErrorCollector): { readonly kind: 'raw_buffer' } | { readonly kind: 'tls'; readonly tls: Tls } | null {
  const any = ts.typed_config;
  if (any === null || any === undefined) {
    if (RAW_BUFFER_NAMES.has(ts.name)) return { kind: 'raw_buffer' };
    errors.add(`transport socket ${JSON.stringify(ts.name)} has no typed_config`, 'typed_config');
    return null;
  }
  const unpacked = unpackTypedConfig(ctx, any, errors.at('typed_config'));
  if (unpacked === null) return null;
  if (unpacked.typeUrl === RAW_BUFFER) return { kind: 'raw_buffer' };
  if (unpacked.typeUrl === tlsTypeUrl && unpacked.kind === 'proto') return { kind: 'tls', tls: unpacked.message as unknown as Tls };
  errors.add(`unsupported ${side} transport socket ${unpacked.typeUrl}`, 'typed_config');
  return null;
}

/** A cluster's transport socket (or one of its transport_socket_matches). `errors` is at the TransportSocket. */
export function decodeUpstreamTransportSocket(ctx: DecodeContext, ts: TransportSocket__Output, errors: ErrorCollector): UpstreamTransportSocketConfig | null {
  const r = resolveTransportSocket<UpstreamTlsContext__Output>(ctx, ts, UPSTREAM_TLS, 'upstream', errors);
  if (r === null || r.kind === 'raw_buffer') return r;
  return { kind: 'tls', sni: r.tls.sni, allowRenegotiation: r.tls.allow_renegotiation, common: decodeCommonTls(r.tls.common_tls_context, errors.at('typed_config').at('common_tls_context')) };
}

/** A filter chain's transport socket. `errors` is at the TransportSocket. */
export function decodeDownstreamTransportSocket(ctx: DecodeContext, ts: TransportSocket__Output, errors: ErrorCollector): DownstreamTransportSocketConfig | null {
  const r = resolveTransportSocket<DownstreamTlsContext__Output>(ctx, ts, DOWNSTREAM_TLS, 'downstream', errors);
  if (r === null || r.kind === 'raw_buffer') return r;
  return {
    kind: 'tls',
    requireClientCertificate: r.tls.require_client_certificate?.value ?? false,
    requireSni: r.tls.require_sni?.value ?? false,
    common: decodeCommonTls(r.tls.common_tls_context, errors.at('typed_config').at('common_tls_context')),
  };
}
