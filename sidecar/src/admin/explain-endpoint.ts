// Admin `GET /explain?authority=...&path=...&method=...&header=name:value&listener=NAME&source_ip=IP`: where a request
// would go (listener, virtual host, route, cluster, hosts, the balancer's pick). The explainer is the composition root's.

import * as net from 'node:net';
import { sendJson, sendText } from './admin-response';
import type { AdminEndpoint } from './admin-server';

/** The request /explain describes, parsed from the query string. */
export interface ExplainQuery {
  readonly authority: string;
  /** Default `/`. */
  readonly path: string;
  /** Default GET, upper-cased. */
  readonly method: string;
  /** `header=name:value`, repeatable, in order. */
  readonly headers: readonly (readonly [string, string])[];
  readonly listener?: string | undefined;
  readonly sourceIp?: string | undefined;
}

const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses the query string; a string is the 400 message. */
function parseQuery(params: URLSearchParams): ExplainQuery | string {
  const authority = params.get('authority');
  if (authority === null || authority === '') return 'authority is required, e.g. /explain?authority=reviews:9080&path=/api';
  const path = params.get('path') ?? '/';
  if (!path.startsWith('/')) return `path must start with /, got ${JSON.stringify(path)}`;
  const headers: [string, string][] = [];
  for (const raw of params.getAll('header')) {
    const colon = raw.indexOf(':');
    const name = colon < 0 ? '' : raw.slice(0, colon).trim();
    if (!HEADER_NAME.test(name)) return `header must be name:value, got ${JSON.stringify(raw)}`;
    headers.push([name.toLowerCase(), raw.slice(colon + 1).trim()]);
  }
  const sourceIp = params.get('source_ip') ?? undefined;
  if (sourceIp !== undefined && net.isIP(sourceIp) === 0) return `source_ip must be an IP address, got ${JSON.stringify(sourceIp)}`;
  return { authority, path, method: (params.get('method') ?? 'GET').toUpperCase(), headers, listener: params.get('listener') ?? undefined, sourceIp };
}

/**
 * `explain` answers with a JSON-able object (proxy/route-explainer.ts, wired by sidecar.ts; admin/ may not import
 * proxy/). Read-only: explaining a request never changes routing or balancer state.
 */
export function explainEndpoint(explain: (query: ExplainQuery) => unknown): AdminEndpoint {
  return {
    path: '/explain',
    method: 'GET',
    help: 'where a request would go: ?authority=&path=&method=&header=name:value&listener=&source_ip= -> listener, virtual host, route, cluster, hosts, pick',
    handle(_req, res, url) {
      const query = parseQuery(url.searchParams);
      if (typeof query === 'string') {
        sendText(res, 400, `${query}\n`);
        return;
      }
      sendJson(res, 200, explain(query));
    },
  };
}
