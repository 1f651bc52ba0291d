// Classifies listener, network and HTTP filters by config type URL (never by name) into implemented, ignored, refused and unknown.

import type { ErrorCollector } from '../../core/validation';
import type { AnyMessage } from '../type-url';
import type { DecodeContext } from './resource-type';
import { unpackTypedConfig, type UnpackedConfig } from './typed-config';

const T = 'type.googleapis.com/';

export const ROUTER_TYPE_URL = `${T}envoy.extensions.filters.http.router.v3.Router`;
export const HTTP_CONNECTION_MANAGER_TYPE_URL = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
export const TCP_PROXY_TYPE_URL = `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;

const LISTENER_FILTERS: Readonly<Record<string, 'original_dst' | 'tls_inspector' | 'http_inspector'>> = {
  [`${T}envoy.extensions.filters.listener.original_dst.v3.OriginalDst`]: 'original_dst',
  [`${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`]: 'tls_inspector',
  [`${T}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector`]: 'http_inspector',
};

/**
 * Filters we do not implement and may safely skip: telemetry, metadata exchange, ALPN tweaks, and HTTP features whose
 * absence never widens access (CORS and fault injection become no-ops, local rate limiting admits more). istiod sends
 * these on every sidecar and never sets `is_optional`, so being strict here would NACK every Istio listener
 * (specs/xds.md §4.3). TypedStructs are listed by their inner type URL.
 */
export const IGNORED_FILTER_TYPE_URLS: ReadonlySet<string> = new Set([
  `${T}io.istio.http.peer_metadata.Config`, // istio.metadata_exchange (HTTP), usually TypedStruct-wrapped
  `${T}envoy.tcp.metadataexchange.config.MetadataExchange`, // istio.metadata_exchange (network)
  `${T}io.istio.network.metadata_exchange.Config`,
  `${T}istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig`, // istio.alpn
  `${T}stats.PluginConfig`, // istio.stats
  `${T}envoy.extensions.filters.http.grpc_stats.v3.FilterConfig`,
  `${T}envoy.extensions.filters.http.cors.v3.Cors`,
  `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`,
  `${T}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`,
  `${T}envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit`,
  `${T}envoy.extensions.filters.http.wasm.v3.Wasm`,
  `${T}envoy.extensions.filters.network.wasm.v3.Wasm`,
  `${T}envoy.extensions.filters.http.grpc_web.v3.GrpcWeb`,
  `${T}envoy.extensions.filters.http.grpc_http1_bridge.v3.Config`,
]);

/**
 * Security filters we do not implement. Skipping one would turn an authorization policy into allow-all, so a
 * listener carrying one is rejected even when the filter is marked `is_optional` (fail closed).
 */
export const REFUSED_SECURITY_FILTERS: ReadonlyMap<string, string> = new Map([
  [`${T}envoy.extensions.filters.http.rbac.v3.RBAC`, 'envoy.filters.http.rbac'],
  [`${T}envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`, 'envoy.filters.http.jwt_authn'],
  [`${T}envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`, 'envoy.filters.http.ext_authz'],
  [`${T}envoy.extensions.filters.http.oauth2.v3.OAuth2`, 'envoy.filters.http.oauth2'],
  [`${T}envoy.extensions.filters.http.basic_auth.v3.BasicAuth`, 'envoy.filters.http.basic_auth'],
  [`${T}envoy.extensions.filters.network.rbac.v3.RBAC`, 'envoy.filters.network.rbac'],
  [`${T}envoy.extensions.filters.network.ext_authz.v3.ExtAuthz`, 'envoy.filters.network.ext_authz'],
]);

/** What a filter's type URL means to us. */
export type FilterClass =
  | { readonly kind: 'router' }
  | { readonly kind: 'http_connection_manager' }
  | { readonly kind: 'tcp_proxy' }
  | { readonly kind: 'listener_filter'; readonly which: 'original_dst' | 'tls_inspector' | 'http_inspector' }
  | { readonly kind: 'ignored' }
  | { readonly kind: 'security'; readonly label: string }
  | { readonly kind: 'unknown' };

/** Classifies an effective config type URL (TypedStruct already unwrapped). Cost: a few map lookups. */
export function classifyFilter(typeUrl: string): FilterClass {
  if (typeUrl === ROUTER_TYPE_URL) return { kind: 'router' };
  if (typeUrl === HTTP_CONNECTION_MANAGER_TYPE_URL) return { kind: 'http_connection_manager' };
  if (typeUrl === TCP_PROXY_TYPE_URL) return { kind: 'tcp_proxy' };
  const which = LISTENER_FILTERS[typeUrl];
  if (which !== undefined) return { kind: 'listener_filter', which };
  const label = REFUSED_SECURITY_FILTERS.get(typeUrl);
  if (label !== undefined) return { kind: 'security', label };
  if (IGNORED_FILTER_TYPE_URLS.has(typeUrl)) return { kind: 'ignored' };
  return { kind: 'unknown' };
}

/** A filter entry as listener, network and HTTP filters share it (proto-loader shape). */
export interface FilterEntry {
  readonly name: string;
  readonly typed_config?: AnyMessage | null;
  readonly config_discovery?: unknown;
  readonly is_optional?: boolean;
  readonly disabled?: boolean;
}

/** A filter we go on with: its class (never `security` or `unknown`; an optional unknown one is `ignored`) and unpacked config. */
export interface ResolvedFilter {
  readonly cls: FilterClass;
  readonly config: UnpackedConfig;
}

const ignoredSeen = new WeakMap<DecodeContext, Set<string>>();

function reportIgnored(ctx: DecodeContext, typeUrl: string, where: string): void {
  if (ctx.onIgnored === undefined) return;
  let seen = ignoredSeen.get(ctx);
  if (seen === undefined) {
    seen = new Set();
    ignoredSeen.set(ctx, seen);
  }
  if (seen.has(typeUrl)) return;
  seen.add(typeUrl);
  ctx.onIgnored(typeUrl, where);
}

/**
 * Resolves one filter entry (errors at `errors`, the entry's path). Returns null when the filter is rejected (error
 * added) or has no config and is optional; ignored and optional unknown filters come back as `ignored` (reported once
 * per type URL through `ctx.onIgnored`). Envoy semantics: an unknown filter is an error unless `is_optional`;
 * a filter without typed_config is an error (envoyproxy/go-control-plane PR#559); ECDS (`config_discovery`) is not
 * supported. Security filters are refused regardless of `is_optional`.
 */
export function resolveFilter(ctx: DecodeContext, filter: FilterEntry, where: string, errors: ErrorCollector): ResolvedFilter | null {
  const optional = filter.is_optional === true;
  const any = filter.typed_config;
  if (any === null || any === undefined) {
    if (filter.config_discovery !== null && filter.config_discovery !== undefined) {
      if (!optional) errors.add(`filter ${JSON.stringify(filter.name)}: config_discovery (ECDS) is not supported`, 'config_discovery');
      return null;
    }
    if (!optional) errors.add(`filter ${JSON.stringify(filter.name)} has no typed_config`, 'typed_config');
    return null;
  }
  const config = unpackTypedConfig(ctx, any, errors.at('typed_config'));
  if (config === null) return null;
  const cls = classifyFilter(config.typeUrl);
  switch (cls.kind) {
    case 'security':
      errors.add(`security filter ${cls.label} (${config.typeUrl}) is not implemented; refusing to fail open`, 'typed_config');
      return null;
    case 'ignored':
      reportIgnored(ctx, config.typeUrl, where);
      return { cls, config };
    case 'unknown':
      if (optional) {
        reportIgnored(ctx, config.typeUrl, where);
        return { cls: { kind: 'ignored' }, config };
      }
      errors.add(`filter ${JSON.stringify(filter.name)}: unsupported filter type ${config.typeUrl} (set is_optional to skip it)`, 'typed_config');
      return null;
    default:
      return { cls, config };
  }
}
