// `npm start`: a demo mesh on loopback — the reference control plane, three small services (reviews x3,
// ratings x2, details x1) and a meshlet sidecar in front of them — with steady traffic and a live per-backend view,
// then a few scripted events: a failing instance (retries hide it), a scale-up (an EDS-only update) and a bad push
// (NACKed, last good config kept).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ControlPlaneServer } from '../control-plane/control-plane-server';
import { parseResourceFile } from '../control-plane/resource-file';
import { ProtoSchema } from '../../sidecar/src/xds/proto-schema';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { loadBootstrap } from '../../sidecar/src/xds/bootstrap-loader';
import { createLogger, type LogLevel } from '../../sidecar/src/observability/logger';
import { formatErrors } from '../../sidecar/src/core/validation';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL } from '../../sidecar/src/xds/resources/resource-type';
import { describeSnapshot } from './describe-snapshot';
import { DemoService } from './demo-service';
import { DemoTraffic, type ServiceWindow } from './demo-traffic';

export interface DemoOptions {
  /** Admin address; default 127.0.0.1:15000, or a free port when that one is taken. */
  readonly adminAddress?: string;
  /** Stop by itself after this long (tests, scripts); default: run until SIGINT/SIGTERM. */
  readonly durationMs?: number;
  /** Where the output goes; default stdout. A TTY gets a live view redrawn in place. */
  readonly out?: NodeJS.WritableStream;
  /** Pause between the scripted events; default 4000 ms. */
  readonly stepMs?: number;
  /** Requests per second to each service; default 10. */
  readonly rps?: number;
  /** Port of meshlet's demo listener on 127.0.0.1; default 10000 (0 = any free port, for tests). */
  readonly listenerPort?: number;
}

/** The demo's services: name, instances, typical latency. */
const SERVICES: ReadonlyArray<{ readonly name: string; readonly instances: number; readonly latencyMs: number }> = [
  { name: 'reviews', instances: 3, latencyMs: 12 },
  { name: 'ratings', instances: 2, latencyMs: 6 },
  { name: 'details', instances: 1, latencyMs: 4 },
];

function findRepoFile(relative: string): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, relative);
    if (fs.existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`${relative} not found above ${__dirname}`);
    dir = parent;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** A ClusterLoadAssignment (proto-loader shape) for the given service instances. */
function assignment(service: string, instances: readonly DemoService[]): object {
  return {
    cluster_name: service,
    endpoints: [
      {
        locality: { region: 'demo', zone: 'zone-a' },
        lb_endpoints: instances.map((i) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: i.port } } } })),
      },
    ],
  };
}

/** The live view: per service and instance, what the client got in the last window. */
function renderView(windows: readonly ServiceWindow[], seconds: number, instances: ReadonlyMap<string, DemoService[]>): string {
  const lines = [`traffic through meshlet (last ${seconds.toFixed(0)} s, as the client saw it):`];
  for (const w of windows) {
    const perSecond = w.requests / seconds;
    lines.push(`  ${w.service.padEnd(8)} ${perSecond.toFixed(1).padStart(5)} req/s  errors ${String(w.errors).padStart(3)}  p50 ${w.p50Ms.toFixed(1).padStart(5)} ms  p99 ${w.p99Ms.toFixed(1).padStart(5)} ms`);
    for (const instance of instances.get(w.service) ?? []) {
      const share = w.requests === 0 ? 0 : ((w.byInstance.get(instance.instance) ?? 0) / w.requests) * 100;
      const state = instance.failing ? '  (failing: 503s, retried by meshlet)' : '';
      lines.push(`      ${instance.instance.padEnd(10)} :${instance.port}  ${share.toFixed(0).padStart(3)}% of answers${state}`);
    }
  }
  return lines.join('\n');
}

/** Runs the demo; resolves with the process exit code once stopped. */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const tty = (out as NodeJS.WriteStream).isTTY === true;
  const print = (text: string): void => {
    out.write(`${text}\n`);
  };
  const stepMs = options.stepMs ?? 4000;
  const logger = createLogger({ level: (process.env['MESHLET_LOG_LEVEL'] as LogLevel | undefined) ?? 'error' });

  const instances = new Map<string, DemoService[]>();
  for (const spec of SERVICES) {
    const started: DemoService[] = [];
    for (let i = 1; i <= spec.instances; i += 1) started.push(await DemoService.start(spec.name, `${spec.name}-${i}`, spec.latencyMs));
    instances.set(spec.name, started);
  }
  const controlPlane = await ControlPlaneServer.start({ host: '127.0.0.1', port: 0 });
  const listenerPort = options.listenerPort ?? 10000;
  // The file's listener port (10000) is a default: the demo serves the file with the port it was asked for.
  const resourcesText = fs.readFileSync(findRepoFile(path.join('examples', 'demo', 'demo-resources.yaml')), 'utf8').replace('port_value: 10000', `port_value: ${listenerPort}`);
  const parsed = parseResourceFile(ProtoSchema.get(), resourcesText);
  if (!parsed.ok) throw new Error(`examples/demo/demo-resources.yaml is invalid:\n${formatErrors(parsed.errors)}`);
  for (const [typeUrl, resources] of parsed.value) controlPlane.setResources(typeUrl, resources);
  controlPlane.setResources(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, SERVICES.map((s) => ({ name: s.name, message: assignment(s.name, instances.get(s.name) ?? []) })));
  print(`demo services on 127.0.0.1: ${[...instances.values()].flat().map((i) => `${i.instance}:${i.port}`).join(', ')}`);
  print(`reference control plane (ADS, SotW) on ${controlPlane.address}, serving examples/demo/demo-resources.yaml + endpoints`);

  let sidecar: Sidecar | undefined;
  let traffic: DemoTraffic | undefined;
  let viewTimer: NodeJS.Timeout | undefined;
  const stopAll = async (): Promise<void> => {
    if (viewTimer !== undefined) clearInterval(viewTimer);
    traffic?.stop();
    await sidecar?.stop();
    await controlPlane.stop();
    for (const list of instances.values()) for (const instance of list) await instance.close();
  };
  try {
    for (const adminAddress of [options.adminAddress ?? '127.0.0.1:15000', '127.0.0.1:0']) {
      const bootstrap = loadBootstrap({ xdsAddress: controlPlane.address, nodeId: 'meshlet-demo', nodeCluster: 'demo', adminAddress }, { env: {} });
      if (!bootstrap.ok) {
        print(`demo bootstrap is invalid:\n${formatErrors(bootstrap.errors)}`);
        await stopAll();
        return 2;
      }
      try {
        sidecar = await createSidecar(bootstrap.value, { logger });
        break;
      } catch (error) {
        if (options.adminAddress !== undefined || adminAddress.endsWith(':0')) throw error;
        print(`admin port ${adminAddress} is taken; using a free port instead`);
      }
    }
    if (sidecar === undefined) throw new Error('sidecar did not start');
    const running = sidecar;
    print(`meshlet sidecar started, node id meshlet-demo`);
    print(`admin: http://${running.admin.address}/ready  http://${running.admin.address}/config_dump`);
    print(`dashboard: http://${running.admin.address}/  (live clusters, hosts, req/s, p50/p99, xDS state)`);

    const first = await running.store.whenReady();
    print(`\n${describeSnapshot(first)}`);
    running.store.subscribe((snapshot) => {
      if (snapshot.version > first.version) print(`\n${describeSnapshot(snapshot)}`);
    });
    await running.whenListenersApplied();
    const listener = running.listeners.addresses().get('demo_outbound_http');
    if (listener === undefined) throw new Error(`the demo listener (127.0.0.1:${listenerPort}) could not be bound; is the port taken?`);
    print(`\nready: GET /ready answers 200; try: curl -H 'host: reviews' http://127.0.0.1:${listener.port}/`);

    traffic = new DemoTraffic(listener.port, SERVICES.map((s) => s.name), options.rps ?? 10);
    traffic.start();
    let lastView = Date.now();
    const showView = (): void => {
      const now = Date.now();
      const view = renderView(traffic?.take() ?? [], Math.max(0.001, (now - lastView) / 1000), instances);
      lastView = now;
      print(tty ? `\x1b[s\n${view}\x1b[u` : `\n${view}`);
    };
    viewTimer = setInterval(showView, tty ? 1000 : Math.max(1000, stepMs));
    viewTimer.unref();

    const reviews = instances.get('reviews') ?? [];
    const steps: Array<{ note: string; act: () => Promise<void> | void }> = [
      {
        note: 'reviews-2 starts failing with 503s: meshlet retries on another instance (retry_on 5xx, previous_hosts)',
        act: () => {
          const failing = reviews[1];
          if (failing !== undefined) failing.failing = true;
        },
      },
      {
        note: 'scale-up: reviews-4 starts and the control plane adds it (an EDS-only update)',
        act: async () => {
          const added = await DemoService.start('reviews', 'reviews-4', 12);
          reviews.push(added);
          controlPlane.upsertResource(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, { name: 'reviews', message: assignment('reviews', reviews) });
        },
      },
      {
        note: 'the control plane pushes a cluster with connect_timeout -1s: meshlet NACKs it and keeps the last good config',
        act: () =>
          controlPlane.upsertResource(CLUSTER_TYPE_URL, {
            name: 'broken',
            message: { name: 'broken', type: 'STATIC', connect_timeout: { seconds: -1 } },
          }),
      },
    ];
    const deadline = options.durationMs !== undefined ? Date.now() + options.durationMs : Infinity;
    for (const step of steps) {
      await sleep(stepMs);
      if (Date.now() >= deadline) break;
      print(`\n>> ${step.note}`);
      await step.act();
    }
    await sleep(Math.min(stepMs, 1000));
    const nack = running.xdsClient?.typeStatuses().find((t) => t.lastNack !== undefined)?.lastNack;
    if (nack !== undefined) print(`\nlast NACK sent (rejecting response version ${nack.version}): ${nack.error}`);
    print(`\nrunning; the config above stays in force. ${options.durationMs === undefined ? 'Ctrl-C stops everything.' : ''}`);

    await new Promise<void>((resolve) => {
      const done = (): void => {
        process.off('SIGINT', done);
        process.off('SIGTERM', done);
        resolve();
      };
      process.once('SIGINT', done);
      process.once('SIGTERM', done);
      if (options.durationMs !== undefined) setTimeout(done, Math.max(0, deadline - Date.now())).unref();
    });
    showView();
    print(`stopping (client saw ${traffic.totalRequests} answers, ${traffic.totalErrors} errors)`);
    await stopAll();
    return 0;
  } catch (error) {
    print(`demo failed: ${(error as Error).message}`);
    await stopAll();
    return 1;
  }
}
