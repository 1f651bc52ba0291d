// RedirectActionConfig -> the Location of a redirect reply (Envoy's RouteEntryImplBase::newUri and processRequestHost).

import type { RedirectActionConfig } from '../config/route-config';
import { PathRewrite } from './path-rewrite';
import { requestScheme, type RouteRequest } from './route-request';

/** A redirect reply: the 3xx status and the Location header value. */
export interface RedirectResponse {
  readonly status: number;
  readonly location: string;
}

/**
 * Envoy's `processRequestHost`: the request's host, without its port when a port is being redirected to, or when
 * the scheme changes and the port is the old scheme's default (`:80` for http, `:443` for https).
 */
function processRequestHost(host: string, requestProtocol: string, newScheme: string, newPort: string): string {
  if (host === '') return host;
  let end: number;
  if (host.charCodeAt(0) === 91 /* [ */) {
    end = host.lastIndexOf(']:');
    if (end >= 0) end += 1;
  } else {
    end = host.lastIndexOf(':');
  }
  if (end < 0) return host;
  const port = host.slice(end);
  let remove = newPort !== '';
  if (newScheme !== requestProtocol) {
    remove ||= requestProtocol === 'https' && port === ':443';
    remove ||= requestProtocol === 'http' && port === ':80';
  }
  return remove ? host.slice(0, end) : host;
}

/**
 * A compiled redirect. `location` mirrors Envoy:
 * - scheme: `scheme_redirect` / `https_redirect`, else the request's (`x-forwarded-proto`);
 * - host: `host_redirect`, else the request's authority (port dropped per `processRequestHost`); `port_redirect`
 *   appended as `:port`;
 * - path: `path_redirect` (the request's query appended unless the redirect path has its own), or the request path
 *   after the redirect's `prefix_rewrite` / `regex_rewrite` (applied as the router's rewritePathHeader does); a
 *   missing leading '/' is added;
 * - `strip_query` drops the query unless `path_redirect` carries one.
 */
export class RouteRedirect {
  private readonly scheme: string | null;
  private readonly port: string;
  private readonly pathRewrite: PathRewrite | null;
  private readonly pathRedirect: string | null;
  private readonly pathRedirectHasQuery: boolean;

  constructor(private readonly config: RedirectActionConfig) {
    this.scheme = config.scheme;
    this.port = config.port === null ? '' : `:${config.port}`;
    const p = config.path;
    this.pathRewrite = p?.kind === 'prefix' ? new PathRewrite(p.value, null) : p?.kind === 'regex' ? new PathRewrite(null, p) : null;
    this.pathRedirect = p?.kind === 'path' ? p.value : null;
    this.pathRedirectHasQuery = this.pathRedirect !== null && this.pathRedirect.includes('?');
  }

  /** `matchedLength`: what the route's match consumed of the path (for a redirect `prefix_rewrite`). */
  redirect(request: RouteRequest, matchedLength: number): RedirectResponse {
    const requestProtocol = requestScheme(request);
    const scheme = this.scheme ?? requestProtocol;
    const host = this.config.host ?? processRequestHost(request.authority, requestProtocol, scheme, this.port);
    let path: string;
    if (this.pathRedirect !== null) {
      if (this.pathRedirectHasQuery) path = this.pathRedirect;
      else {
        const q = request.path.indexOf('?');
        path = q < 0 ? this.pathRedirect : this.pathRedirect + request.path.slice(q);
      }
    } else {
      path = this.pathRewrite === null ? request.path : this.pathRewrite.rewrite(request.path, matchedLength);
    }
    if (!path.startsWith('/')) path = `/${path}`;
    if (this.config.stripQuery && !this.pathRedirectHasQuery) {
      const q = path.indexOf('?');
      if (q >= 0) path = path.slice(0, q);
    }
    return { status: this.config.responseCode, location: `${scheme}://${host}${this.port}${path}` };
  }
}
