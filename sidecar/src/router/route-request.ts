// What the router needs to know about one request (RouteRequest) and the pseudo-header view Envoy's matchers read.

import type { HeaderMap } from './header-map';

/**
 * One downstream request as the router sees it. Built once per request by the proxy; the router only reads it
 * (header mutations go to the HeaderMap passed to `applyRequestHeaders`).
 */
export interface RouteRequest {
  /** Host header or :authority as received (may carry a port; the HCM's strip_*_host_port is applied before). */
  readonly authority: string;
  /** Request target including the query string. */
  readonly path: string;
  readonly method: string;
  readonly headers: HeaderMap;
  /** content-type starts with application/grpc (Envoy's `Grpc::Common::isGrpcRequestHeaders`). */
  readonly isGrpc: boolean;
  /**
   * The request scheme as Envoy's router sees it (`x-forwarded-proto` after the HCM set it). When absent the
   * `x-forwarded-proto` header is read, then 'http'. Used by redirects and the `:scheme` header matcher.
   */
  readonly scheme?: string;
}

/** The request scheme: `request.scheme`, else `x-forwarded-proto`, else 'http'. */
export function requestScheme(request: RouteRequest): string {
  return request.scheme ?? request.headers.get('x-forwarded-proto') ?? 'http';
}

/**
 * A request header as Envoy's header map holds it: the pseudo-headers `:authority`, `:path`, `:method` and `:scheme`
 * come from the request line (Envoy keeps them in the same map), every other name from the headers (values joined
 * with ',').
 */
export function requestHeaderValue(request: RouteRequest, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* ':' */) {
    switch (name) {
      case ':authority':
        return request.authority;
      case ':path':
        return request.path;
      case ':method':
        return request.method;
      case ':scheme':
        return requestScheme(request);
      default:
        return request.headers.get(name);
    }
  }
  return request.headers.get(name);
}
