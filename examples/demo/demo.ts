// `npm start`: the reference control plane serving an embedded demo mesh, and a meshlet sidecar receiving it
// over ADS; prints each config snapshot, then shows an endpoint update and a rejected (NACKed) push live.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { ControlPlaneServer } from '../control-plane/control-plane-server';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { loadBootstrap } from '../../sidecar/src/xds/bootstrap-loader';
import { createLogger, type LogLevel } from '../../sidecar/src/observability/logger';
import { formatErrors } from '../../sidecar/src/core/validation';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL } from '../../sidecar/src/xds/resources/resource-type';
import { describeSnapshot } from './describe-snapshot';

export interface DemoOptions {
  /** Admin address; default 127.0.0.1:15000, or a free port when that one is taken. */
  readonly adminAddress?: string;
  /** Stop by itself after this long (tests); default: run until SIGINT/SIGTERM. */
  readonly durationMs?: number;
  /** Where the summary goes; default stdout. */
  readonly out?: NodeJS.WritableStream;
  /** Pause between the scripted updates; default 2000 ms. */
  readonly stepMs?: number;
}

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function socketEndpoint(port: number): object {
  return { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } };
}

/** Runs the demo; resolves with the process exit code once stopped. */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const print = (text: string): void => {
    out.write(`${text}\n`);
  };
  const stepMs = options.stepMs ?? 2000;
  const logger = createLogger({ level: (process.env['MESHLET_LOG_LEVEL'] as LogLevel | undefined) ?? 'error' });

  const controlPlane = await ControlPlaneServer.start({ host: '127.0.0.1', port: 0 });
  controlPlane.loadFile(findRepoFile(path.join('examples', 'demo', 'demo-resources.yaml')));
  print(`reference control plane (ADS, SotW) on ${controlPlane.address}, serving examples/demo/demo-resources.yaml`);

  let sidecar: Sidecar | undefined;
  const stopAll = async (): Promise<void> => {
    await sidecar?.stop();
    await controlPlane.stop();
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

    running.store.subscribe((snapshot) => print(`\n${describeSnapshot(snapshot)}`));
    await running.store.whenReady();
    print(`\nready: GET /ready now answers 200`);

    const steps: Array<{ note: string; act: () => void }> = [
      {
        note: 'control plane adds endpoint 127.0.0.1:19004 to "reviews" (an EDS-only update)',
        act: () =>
          controlPlane.upsertResource(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, {
            name: 'reviews',
            message: {
              cluster_name: 'reviews',
              endpoints: [{ lb_endpoints: [19001, 19002, 19003, 19004].map(socketEndpoint) }],
            },
          }),
      },
      {
        note: 'control plane pushes a cluster with connect_timeout -1s: meshlet NACKs it and keeps the last good config',
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
      step.act();
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
    print('stopping');
    await stopAll();
    return 0;
  } catch (error) {
    print(`demo failed: ${(error as Error).message}`);
    await stopAll();
    return 1;
  }
}
