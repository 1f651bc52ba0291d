// The admin HTTP server (127.0.0.1:15000 by default) and, with other endpoints, the read-only health server.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendText } from './admin-response';

/**
 * One admin endpoint. Each lives in its own file under admin/ and is passed in by the composition root, so features
 * add endpoints without editing this file, and the health server reuses the probe and metrics endpoints as they are.
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
  /** The whole route table: the server serves these and nothing else. */
  readonly endpoints: readonly AdminEndpoint[];
  /** Names the server in the 404 text: `admin` (default) or `health`. */
  readonly name?: string;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void | Promise<void>;

/**
 * Envoy-style admin endpoints. Routes are a fixed table, the endpoints given and nothing else; unknown paths get
 * 404 with the list of endpoints, known paths with the wrong method 405 (GET routes also answer HEAD).
 */
export class AdminServer {
  private readonly server: http.Server;
  private readonly routes: ReadonlyMap<string, { readonly method: string; readonly help: string; readonly handler: Handler }>;

  private constructor(private readonly options: AdminServerOptions) {
    const routes = new Map<string, { readonly method: string; readonly help: string; readonly handler: Handler }>();
    for (const endpoint of options.endpoints) {
      routes.set(endpoint.path, { method: endpoint.method, help: endpoint.help, handler: (req, res, url) => endpoint.handle(req, res, url) });
    }
    this.routes = routes;
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  /** Resolves once bound; a bind failure rejects with the address, e.g. `health server cannot listen on 0.0.0.0:15021: ...`. */
  static async start(options: AdminServerOptions): Promise<AdminServer> {
    const admin = new AdminServer(options);
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        const where = options.host.includes(':') ? `[${options.host}]:${options.port}` : `${options.host}:${options.port}`;
        reject(new Error(`${options.name ?? 'admin'} server cannot listen on ${where}: ${error.message}`, { cause: error }));
      };
      admin.server.once('error', fail);
      admin.server.listen(options.port, options.host, () => {
        admin.server.off('error', fail);
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
      sendText(res, 404, `no ${this.options.name ?? 'admin'} endpoint ${url.pathname}; endpoints:\n${list}\n`);
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
