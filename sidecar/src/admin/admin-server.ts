// The admin HTTP server (127.0.0.1:15000 by default): readiness, liveness and the config dump.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendJson, sendText } from './admin-response';

/** What the admin server reads. Read-only views; the admin server never changes sidecar state. */
export interface AdminSources {
  /** True once the first complete config snapshot is applied; stays true while the xDS server is away. */
  isReady(): boolean;
  /** The `/config_dump` document (bootstrap, per-resource xDS status, active config). */
  configDump(): unknown;
}

/**
 * One admin endpoint. Endpoints other than the built-in ones (/ready, /live, /config_dump) live in their own files
 * under admin/ and are passed in by the composition root, so features add endpoints without editing this file.
 */
export interface AdminEndpoint {
  readonly path: string;
  readonly method: 'GET' | 'POST';
  /** One line for the endpoint list (404 page, dashboard). */
  readonly help: string;
  handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): void | Promise<void>;
}

export interface AdminServerOptions {
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly sources: AdminSources;
  readonly endpoints?: readonly AdminEndpoint[];
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void | Promise<void>;

/**
 * Envoy-style admin endpoints. Routes are a fixed table; unknown paths get 404 with the list of
 * endpoints, known paths with the wrong method 405.
 */
export class AdminServer {
  private readonly server: http.Server;
  private readonly routes: ReadonlyMap<string, { readonly method: string; readonly help: string; readonly handler: Handler }>;

  private constructor(private readonly options: AdminServerOptions) {
    const { sources } = options;
    const routes = new Map<string, { readonly method: string; readonly help: string; readonly handler: Handler }>([
      ['/ready', { method: 'GET', help: '200 once the first complete config is applied, else 503', handler: (_q, res) => {
        const ready = sources.isReady();
        sendText(res, ready ? 200 : 503, ready ? 'LIVE\n' : 'PRE_INITIALIZING\n');
      } }],
      ['/live', { method: 'GET', help: '200 while the process runs', handler: (_q, res) => sendText(res, 200, 'LIVE\n') }],
      ['/config_dump', { method: 'GET', help: 'bootstrap, xDS resource status and active config as JSON', handler: (_q, res) => {
        sendJson(res, 200, sources.configDump());
      } }],
    ]);
    for (const endpoint of options.endpoints ?? []) {
      routes.set(endpoint.path, { method: endpoint.method, help: endpoint.help, handler: (req, res, url) => endpoint.handle(req, res, url) });
    }
    this.routes = routes;
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const admin = new AdminServer(options);
    await new Promise<void>((resolve, reject) => {
      admin.server.once('error', reject);
      admin.server.listen(options.port, options.host, () => {
        admin.server.off('error', reject);
        resolve();
      });
    });
    return admin;
  }

  /** The bound address, e.g. `127.0.0.1:15000`. */
  get address(): string {
    const info = this.server.address() as AddressInfo;
    return `${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      sendText(res, 400, 'bad request target\n');
      return;
    }
    const route = this.routes.get(url.pathname);
    if (route === undefined) {
      const list = [...this.routes].map(([p, r]) => `  ${r.method} ${p}: ${r.help}`).join('\n');
      sendText(res, 404, `no admin endpoint ${url.pathname}; endpoints:\n${list}\n`);
      return;
    }
    if (req.method !== route.method && !(route.method === 'GET' && req.method === 'HEAD')) {
      res.setHeader('allow', route.method);
      sendText(res, 405, `${url.pathname} takes ${route.method}\n`);
      return;
    }
    const fail = (error: unknown): void => {
      if (!res.headersSent) sendText(res, 500, `admin handler failed: ${(error as Error).message}\n`);
      else res.destroy();
    };
    try {
      const result = route.handler(req, res, url);
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  }
}
