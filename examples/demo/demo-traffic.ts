// The demo's client: a little steady traffic to each service through meshlet, with what the client saw
// (answers per backend instance, errors, latency percentiles) for the live view.

import * as http from 'node:http';
import { performance } from 'node:perf_hooks';

/** What the client saw for one service since the last `take()`. */
export interface ServiceWindow {
  readonly service: string;
  readonly requests: number;
  readonly errors: number;
  readonly byInstance: ReadonlyMap<string, number>;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

class ServiceCounters {
  requests = 0;
  errors = 0;
  byInstance = new Map<string, number>();
  latencies: number[] = [];
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Sends `rps` requests per second to each service (Host header = service name) through meshlet's listener. */
export class DemoTraffic {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  private readonly counters = new Map<string, ServiceCounters>();
  private timer: NodeJS.Timeout | undefined;
  totalRequests = 0;
  totalErrors = 0;

  constructor(
    private readonly port: number,
    private readonly services: readonly string[],
    private readonly rps: number,
  ) {
    for (const service of services) this.counters.set(service, new ServiceCounters());
  }

  start(): void {
    const intervalMs = 1000 / this.rps;
    this.timer = setInterval(() => {
      for (const service of this.services) this.send(service);
    }, intervalMs);
    this.timer.unref();
  }

  private send(service: string): void {
    const counters = this.counters.get(service);
    if (counters === undefined) return;
    const started = performance.now();
    const done = (status: number, instance: string | undefined): void => {
      counters.requests += 1;
      this.totalRequests += 1;
      counters.latencies.push(performance.now() - started);
      if (status !== 200) {
        counters.errors += 1;
        this.totalErrors += 1;
      }
      if (instance !== undefined) counters.byInstance.set(instance, (counters.byInstance.get(instance) ?? 0) + 1);
    };
    const req = http.request({ host: '127.0.0.1', port: this.port, path: '/', headers: { host: service }, agent: this.agent }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0, res.headers['x-demo-instance'] as string | undefined));
    });
    req.on('error', () => done(0, undefined));
    req.end();
  }

  /** The counters since the previous call, per service. */
  take(): ServiceWindow[] {
    const out: ServiceWindow[] = [];
    for (const [service, c] of this.counters) {
      const sorted = c.latencies.sort((a, b) => a - b);
      out.push({ service, requests: c.requests, errors: c.errors, byInstance: c.byInstance, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) });
      this.counters.set(service, new ServiceCounters());
    }
    return out;
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.agent.destroy();
  }
}
