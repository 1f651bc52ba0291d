// Shared set-up of the resilience integration tests: 5 real HTTP/1.1 backends on loopback, the reference control
// plane serving one listener -> route -> EDS cluster, and a real sidecar (createSidecar) fed by it.

import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { loadBootstrap } from '../../sidecar/src/xds/bootstrap-loader';
import { ProtoSchema } from '../../sidecar/src/xds/proto-schema';
import { startHttp1Backend, type Backend } from '../support/backends';
import { edsCluster, httpListener, startControlPlane, TYPE_URLS, type ControlPlaneServer } from '../support/control-plane';
import { h1Request, type Reply } from '../support/http-clients';
import { listenerPort } from '../support/sidecar';

export const CLUSTER = 'svc';

/** A backend and the options object it reads per request (tests flip `forcedStatus` / `delayMs` on it). */
export interface TestBackend {
  readonly backend: Backend;
  readonly options: { forcedStatus?: number; delayMs?: number };
}

export interface ResilienceEnv {
  readonly cp: ControlPlaneServer;
  readonly sidecar: Sidecar;
  readonly backends: readonly TestBackend[];
  /** The sidecar listener's port. */
  readonly port: number;
  /** Backend name by port. */
  readonly nameOf: ReadonlyMap<number, string>;
  stop(): Promise<void>;
}

/** What to serve: extra Cluster fields, extra RouteAction fields, endpoints per priority (backend indexes). */
export interface ServedConfig {
  readonly cluster?: Record<string, unknown>;
  readonly route?: Record<string, unknown>;
  /** `priorities[p]` = backend indexes at priority p, each optionally with an EDS health status. Default: all at P0. */
  readonly priorities?: readonly (readonly (number | { readonly index: number; readonly health: string })[])[];
}

/** A google.protobuf.Duration of `n` milliseconds (proto-loader shape). */
export function ms(n: number): object {
  return { seconds: Math.floor(n / 1000), nanos: (n % 1000) * 1_000_000 };
}

export function packAny(type: string, value: object): object {
  return ProtoSchema.get().packAny(type, value);
}

/** Sets CDS/EDS/LDS/RDS for `config` on the control plane. */
export function serve(cp: ControlPlaneServer, backends: readonly TestBackend[], config: ServedConfig): void {
  const base = edsCluster(CLUSTER);
  cp.setResources(TYPE_URLS.cds, [{ name: CLUSTER, message: { ...(base as { message: object }).message, ...config.cluster } }]);
  const priorities = config.priorities ?? [backends.map((_, i) => i)];
  cp.setResources(TYPE_URLS.eds, [
    {
      name: CLUSTER,
      message: {
        cluster_name: CLUSTER,
        endpoints: priorities.map((list, p) => ({
          locality: { region: 'local', zone: `z${p}` },
          priority: p,
          lb_endpoints: list.map((e) => {
            const index = typeof e === 'number' ? e : e.index;
            const health = typeof e === 'number' ? undefined : e.health;
            return { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: backends[index]!.backend.port } } }, ...(health !== undefined ? { health_status: health } : {}) };
          }),
        })),
      },
    },
  ]);
  cp.setResources(TYPE_URLS.lds, [httpListener('http_in', 0, 'routes', '127.0.0.1')]);
  cp.setResources(TYPE_URLS.rds, [
    {
      name: 'routes',
      message: { name: 'routes', virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: CLUSTER, ...config.route } }] }] },
    },
  ]);
}

/** Polls `predicate` every 10 ms until it holds or `timeoutMs` passes. */
export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const started = Date.now();
  while (!(await predicate())) {
    if (Date.now() - started > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts backends (one per options object), the control plane serving `config`, and a sidecar; waits until it serves. */
export async function startResilienceEnv(backendOptions: TestBackend['options'][], config: ServedConfig): Promise<ResilienceEnv> {
  const backends: TestBackend[] = [];
  for (let i = 0; i < backendOptions.length; i++) {
    const options = backendOptions[i]!;
    backends.push({ backend: await startHttp1Backend(`b${i}`, options), options });
  }
  const cp = await startControlPlane();
  serve(cp, backends, config);
  const bootstrap = loadBootstrap({ xdsAddress: cp.address, nodeId: 'sidecar~10.0.0.1~client.default~default.svc.cluster.local', adminAddress: '127.0.0.1:0' }, { env: {} });
  assert.ok(bootstrap.ok, JSON.stringify(!bootstrap.ok && bootstrap.errors));
  const sidecar = await createSidecar(bootstrap.value, { xdsBackoff: { initialMs: 50, maxMs: 200 } });
  await waitFor(() => sidecar.store.current !== undefined && sidecar.listeners.addresses().has('http_in'), 'the first snapshot and a bound listener');
  await sidecar.whenListenersApplied();
  const port = listenerPort(sidecar, 'http_in');
  const nameOf = new Map(backends.map((b) => [b.backend.port, b.backend.name]));
  return {
    cp,
    sidecar,
    backends,
    port,
    nameOf,
    async stop() {
      await sidecar.stop();
      await cp.stop();
      await Promise.all(backends.map((b) => b.backend.close()));
    },
  };
}

/** One GET through the sidecar on a fresh connection. */
export function get(env: ResilienceEnv, path = '/', headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  return h1Request(env.port, 'svc.local', path, { headers });
}

/** Admin `/clusters?format=json`: the hosts of our cluster by backend name. */
export async function clusterHosts(env: ResilienceEnv): Promise<Map<string, { health_flags: string; outlier: { ejected: boolean; num_ejections: number } | null }>> {
  const res = await fetch(`http://${env.sidecar.admin.address}/clusters?format=json`);
  const body = (await res.json()) as { cluster_statuses: { name: string; host_statuses: { address: { socket_address: { port_value: number } }; health_flags: string; outlier: { ejected: boolean; num_ejections: number } | null }[] }[] };
  const cluster = body.cluster_statuses.find((c) => c.name === CLUSTER);
  const out = new Map<string, { health_flags: string; outlier: { ejected: boolean; num_ejections: number } | null }>();
  for (const h of cluster?.host_statuses ?? []) out.set(env.nameOf.get(h.address.socket_address.port_value) ?? '?', h);
  return out;
}

/** Counts replies per `x-backend`. */
export function shares(replies: readonly Reply[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of replies) {
    const name = String(r.headers['x-backend'] ?? 'none');
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/** `total` GETs with `concurrency` in flight at a time. */
export async function load(env: ResilienceEnv, total: number, concurrency: number, path = '/'): Promise<Reply[]> {
  const replies: Reply[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      next += 1;
      replies.push(await get(env, path));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return replies;
}
