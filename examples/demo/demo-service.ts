// One instance of a demo service: a tiny HTTP server on 127.0.0.1 that answers JSON after a short, jittered
// delay, counts what it served, and can be told to fail (503) to show retries and outlier ejection.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export class DemoService {
  served = 0;
  failed = 0;
  /** When true, every request gets a 503. */
  failing = false;
  private readonly server: http.Server;

  private constructor(
    readonly service: string,
    readonly instance: string,
    private readonly latencyMs: number,
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
  }

  static async start(service: string, instance: string, latencyMs: number): Promise<DemoService> {
    const demo = new DemoService(service, instance, latencyMs);
    await new Promise<void>((resolve) => demo.server.listen(0, '127.0.0.1', resolve));
    return demo;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    req.resume();
    const delay = this.latencyMs * (0.5 + Math.random());
    setTimeout(() => {
      if (this.failing) {
        this.failed += 1;
        res.writeHead(503, { 'content-type': 'text/plain', 'x-demo-instance': this.instance }).end('failing on purpose\n');
        return;
      }
      this.served += 1;
      const body = JSON.stringify({ service: this.service, instance: this.instance, path: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'x-demo-instance': this.instance, 'content-length': Buffer.byteLength(body) }).end(body);
    }, delay).unref();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
