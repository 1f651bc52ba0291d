// `meshlet injector`: the HTTPS AdmissionReview server (node:https only) around reviewAdmission, with cert reload.

import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { reviewAdmission } from './admission-review';
import type { InjectSettings } from './inject-settings';

/** Options of the webhook server. */
export interface InjectorServerOptions {
  readonly settings: InjectSettings;
  /** PEM files (the chart's Secret, or cert-manager's): re-read when they change, so rotation needs no restart. */
  readonly certFile: string;
  readonly keyFile: string;
  /** Default 0.0.0.0 and 9443 (the chart's Service targets 9443). */
  readonly host?: string;
  readonly port?: number;
  /** The injector's own namespace: never injected. */
  readonly namespace?: string;
  /** How often cert files are checked for changes, ms (default 30 s). */
  readonly certCheckIntervalMs?: number;
  /** One structured line per review and error. */
  readonly log?: (fields: Record<string, unknown>, message: string) => void;
}

/** Largest AdmissionReview accepted (the API server's own request limit is 3 MiB). */
const MAX_BODY_BYTES = 6 * 1024 * 1024;

/**
 * A running injector: `POST /inject` takes an AdmissionReview (Istio's path), `GET /ready` answers 200 for the
 * Deployment's probes. Close with `close()`.
 */
export class InjectorServer {
  private constructor(private readonly server: https.Server, private readonly timer: NodeJS.Timeout, readonly port: number) {}

  static async start(options: InjectorServerOptions): Promise<InjectorServer> {
    const log = options.log ?? (() => {});
    let stamp = certStamp(options);
    const server = https.createServer({ cert: fs.readFileSync(options.certFile), key: fs.readFileSync(options.keyFile), minVersion: 'TLSv1.2' }, (req, res) => {
      if (req.method === 'GET' && (req.url === '/ready' || req.url === '/healthz')) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/inject') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('POST /inject with an AdmissionReview\n');
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          res.writeHead(413).end();
          req.destroy();
        } else chunks.push(chunk);
      });
      req.on('end', () => {
        if (res.headersSent) return;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch (error) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(`invalid JSON: ${(error as Error).message}\n`);
          return;
        }
        const outcome = reviewAdmission(body, options.settings, options.namespace);
        const request = (body as { request?: { namespace?: string; name?: string; object?: { metadata?: { generateName?: string } } } }).request;
        log({ namespace: request?.namespace, pod: request?.name ?? request?.object?.metadata?.generateName, outcome: outcome.summary }, 'admission review');
        if (!outcome.wellFormed) {
          res.writeHead(400, { 'content-type': 'text/plain' }).end(`${outcome.summary}\n`);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(outcome.review));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 9443, options.host ?? '0.0.0.0', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const timer = setInterval(() => {
      const next = certStamp(options);
      if (next === stamp) return;
      try {
        server.setSecureContext({ cert: fs.readFileSync(options.certFile), key: fs.readFileSync(options.keyFile) });
        stamp = next;
        log({ certFile: options.certFile }, 'serving certificate reloaded');
      } catch (error) {
        log({ error: (error as Error).message }, 'serving certificate reload failed; keeping the old one');
      }
    }, options.certCheckIntervalMs ?? 30_000);
    timer.unref();
    return new InjectorServer(server, timer, (server.address() as AddressInfo).port);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

/** Changes when either file's content may have changed (Secret volumes swap a symlink: mtime and inode move). */
function certStamp(options: InjectorServerOptions): string {
  try {
    return [options.certFile, options.keyFile].map((f) => {
      const s = fs.statSync(f);
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    }).join('|');
  } catch {
    return '';
  }
}
