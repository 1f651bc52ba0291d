// Benchmark: decode and apply 1,000 clusters x 10 endpoints (CDS + EDS) until a complete snapshot is published.
// Two measurements, each in a fresh child process so RSS means something:
//   in-process: DiscoveryResponse bytes -> XdsClient (fake transport) -> decoders -> assembler -> SnapshotStore
//   over gRPC:  reference control plane (its own process) on 127.0.0.1 -> real ADS stream -> createSidecar, timed to ready
// Targets (issue 2): <= 200 ms and <= 150 MB RSS. Run: npm run bench:config (not part of npm test).

import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createSidecar } from '../sidecar/src/sidecar';
import { loadBootstrap } from '../sidecar/src/xds/bootstrap-loader';
import { ProtoSchema } from '../sidecar/src/xds/proto-schema';
import { SnapshotStore } from '../sidecar/src/config/snapshot-store';
import { XdsClient } from '../sidecar/src/xds/xds-client';
import { resourceTypes } from '../sidecar/src/xds/resources/resource-types';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, type XdsResourceType } from '../sidecar/src/xds/resources/resource-type';
import { FakeTransport } from '../test/support/ads-fakes';
import type { DiscoveryResponse__Output } from '../xds-protos/generated/envoy/service/discovery/v3/DiscoveryResponse';

const CLUSTERS = 1000;
const ENDPOINTS_PER_CLUSTER = 10;
const RUNS = 5;

declare const global: { gc?: () => void };

function clusterName(i: number): string {
  return `outbound|9080||svc-${i}.default.svc.cluster.local`;
}

function clusterMessage(i: number): object {
  return {
    name: clusterName(i),
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, initial_fetch_timeout: { seconds: 0 }, resource_api_version: 'V3' } },
    connect_timeout: { seconds: 10 },
    lb_policy: 'LEAST_REQUEST',
    circuit_breakers: { thresholds: [{ max_connections: { value: 4294967295 }, max_pending_requests: { value: 4294967295 }, max_requests: { value: 4294967295 }, max_retries: { value: 4294967295 } }] },
    outlier_detection: { consecutive_5xx: { value: 5 }, interval: { seconds: 10 }, base_ejection_time: { seconds: 30 }, max_ejection_percent: { value: 10 } },
    common_lb_config: { locality_weighted_lb_config: {} },
  };
}

function assignmentMessage(i: number): object {
  return {
    cluster_name: clusterName(i),
    endpoints: [
      {
        locality: { region: 'us-east1', zone: 'us-east1-b' },
        load_balancing_weight: { value: ENDPOINTS_PER_CLUSTER },
        lb_endpoints: Array.from({ length: ENDPOINTS_PER_CLUSTER }, (_, j) => ({
          endpoint: { address: { socket_address: { address: `10.${(i >> 8) & 255}.${i & 255}.${j + 1}`, port_value: 9080 } } },
          health_status: 'HEALTHY',
          load_balancing_weight: { value: 1 },
          metadata: { filter_metadata: { istio: { fields: { workload: { stringValue: `svc-${i}-v1;default;svc-${i};v1;Kubernetes` } } } } },
        })),
      },
    ],
  };
}

function encodedResponse(schema: ProtoSchema, typeUrl: string, messages: object[]): Buffer {
  const protoName = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  return schema.encode('envoy.service.discovery.v3.DiscoveryResponse', {
    version_info: '1',
    nonce: typeUrl === CLUSTER_TYPE_URL ? 'c1' : 'e1',
    type_url: typeUrl,
    resources: messages.map((m) => schema.packAny(protoName, m)),
  });
}

/** One apply in one fresh process. */
interface Measurement {
  readonly ms: number;
  /** RSS with modules and the proto schema loaded, before the config arrives. */
  readonly baselineRssMb: number;
  readonly peakRssMb: number;
  readonly heapUsedMb: number;
}

function trackPeakRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

const MB = 2 ** 20;

/** DiscoveryResponse bytes -> XdsClient (fake transport) -> decoders -> assembler -> SnapshotStore. */
async function measureInProcess(): Promise<Measurement> {
  const schema = ProtoSchema.get();
  const cdsBytes = encodedResponse(schema, CLUSTER_TYPE_URL, Array.from({ length: CLUSTERS }, (_, i) => clusterMessage(i)));
  const edsBytes = encodedResponse(schema, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, Array.from({ length: CLUSTERS }, (_, i) => assignmentMessage(i)));
  const types = [...resourceTypes.values()] as XdsResourceType<unknown>[];
  const transport = new FakeTransport();
  const store = new SnapshotStore();
  const client = new XdsClient({
    server: transport.server,
    node: { id: 'bench' },
    resourceTypes: types,
    wildcardTypeUrls: [CLUSTER_TYPE_URL],
    decodeContext: { schema, adsClusterNames: new Set() },
    store,
    transport,
  });
  client.start();
  transport.setReady(true);
  global.gc?.();
  const baselineRssMb = process.memoryUsage().rss / MB;
  const rss = trackPeakRss();
  const started = process.hrtime.bigint();
  // The bytes as they come off the wire: deserialisation is part of the cost.
  transport.sotw.respond(schema.decode<DiscoveryResponse__Output>('envoy.service.discovery.v3.DiscoveryResponse', cdsBytes));
  transport.sotw.respond(schema.decode<DiscoveryResponse__Output>('envoy.service.discovery.v3.DiscoveryResponse', edsBytes));
  const snapshot = store.current;
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const peakRssMb = rss.stop() / MB;
  if (snapshot === undefined || snapshot.clusters.size !== CLUSTERS || snapshot.endpoints.size !== CLUSTERS) {
    throw new Error(`incomplete snapshot: ${snapshot?.clusters.size} clusters, ${snapshot?.endpoints.size} assignments`);
  }
  client.stop();
  return { ms, baselineRssMb, peakRssMb, heapUsedMb: process.memoryUsage().heapUsed / MB };
}

/** The real sidecar (createSidecar) against the reference control plane running in another process: start -> ready. */
async function measureOverGrpc(address: string): Promise<Measurement> {
  ProtoSchema.get();
  const bootstrap = loadBootstrap({ xdsAddress: address, nodeId: 'bench', adminAddress: '127.0.0.1:0' }, { env: {} });
  if (!bootstrap.ok) throw new Error('bench bootstrap invalid');
  global.gc?.();
  const baselineRssMb = process.memoryUsage().rss / MB;
  const rss = trackPeakRss();
  const started = process.hrtime.bigint();
  const sidecar = await createSidecar(bootstrap.value);
  const snapshot = await sidecar.store.whenReady();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const peakRssMb = rss.stop() / MB;
  if (snapshot.clusters.size !== CLUSTERS || snapshot.endpoints.size !== CLUSTERS) throw new Error(`only ${snapshot.clusters.size} clusters`);
  await sidecar.stop();
  return { ms, baselineRssMb, peakRssMb, heapUsedMb: process.memoryUsage().heapUsed / MB };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function child(mode: string, address: string | undefined): Promise<void> {
  const result = mode === 'inproc' ? await measureInProcess() : await measureOverGrpc(address ?? '');
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(args: string[]): Measurement {
  // BENCH_CPU_PROF=DIR writes a V8 CPU profile of every measured process into DIR (open in Chrome DevTools).
  const profile = process.env['BENCH_CPU_PROF'] !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${process.env['BENCH_CPU_PROF']}`] : [];
  const out = execFileSync(process.execPath, ['--expose-gc', ...profile, __filename, '--child', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Measurement;
}

/** Starts the reference control plane CLI in its own process serving the bench resources; resolves with its address. */
function startControlPlaneProcess(file: string): Promise<{ address: string; stop(): void }> {
  const script = path.resolve(__dirname, '..', 'examples', 'control-plane', 'main.js');
  const proc = spawn(process.execPath, [script, file, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      const match = /over ADS on (\S+)/.exec(seen);
      if (match?.[1] !== undefined) resolve({ address: match[1], stop: () => proc.kill('SIGTERM') });
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`control plane exited (${code}): ${seen}`)));
  });
}

/** The same resources in Envoy's JSON form (proto3 JSON: durations as strings, bare wrapper values, plain Struct). */
function resourcesFile(): string {
  const T = 'type.googleapis.com/';
  const resources: object[] = [];
  for (let i = 0; i < CLUSTERS; i += 1) {
    resources.push({
      '@type': `${T}envoy.config.cluster.v3.Cluster`,
      name: clusterName(i),
      type: 'EDS',
      eds_cluster_config: { eds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' } },
      connect_timeout: '10s',
      lb_policy: 'LEAST_REQUEST',
      circuit_breakers: { thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295 }] },
      outlier_detection: { consecutive_5xx: 5, interval: '10s', base_ejection_time: '30s', max_ejection_percent: 10 },
      common_lb_config: { locality_weighted_lb_config: {} },
    });
  }
  for (let i = 0; i < CLUSTERS; i += 1) {
    resources.push({
      '@type': `${T}envoy.config.endpoint.v3.ClusterLoadAssignment`,
      cluster_name: clusterName(i),
      endpoints: [
        {
          locality: { region: 'us-east1', zone: 'us-east1-b' },
          load_balancing_weight: ENDPOINTS_PER_CLUSTER,
          lb_endpoints: Array.from({ length: ENDPOINTS_PER_CLUSTER }, (_, j) => ({
            endpoint: { address: { socket_address: { address: `10.${(i >> 8) & 255}.${i & 255}.${j + 1}`, port_value: 9080 } } },
            health_status: 'HEALTHY',
            load_balancing_weight: 1,
            metadata: { filter_metadata: { istio: { workload: `svc-${i}-v1;default;svc-${i};v1;Kubernetes` } } },
          })),
        },
      ],
    });
  }
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-bench-')), 'resources.json');
  fs.writeFileSync(file, JSON.stringify({ resources }));
  return file;
}

function summarize(label: string, runs: Measurement[]): string {
  const med = (pick: (m: Measurement) => number): number => median(runs.map(pick));
  const ms = med((m) => m.ms);
  const peak = med((m) => m.peakRssMb);
  const meets = ms <= 200 && peak <= 150 ? 'yes' : 'no';
  return `| ${label} | ${ms.toFixed(1)} | ${Math.min(...runs.map((m) => m.ms)).toFixed(1)} | ${Math.max(...runs.map((m) => m.ms)).toFixed(1)} | ${med((m) => m.baselineRssMb).toFixed(1)} | ${peak.toFixed(1)} | ${med((m) => m.heapUsedMb).toFixed(1)} | ${meets} |`;
}

async function parent(): Promise<void> {
  const inProcess = Array.from({ length: RUNS }, () => runChild(['inproc']));
  const file = resourcesFile();
  const controlPlane = await startControlPlaneProcess(file);
  let overGrpc: Measurement[];
  try {
    overGrpc = Array.from({ length: RUNS }, () => runChild(['grpc', controlPlane.address]));
  } finally {
    controlPlane.stop();
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  }
  const lines = [
    `## Config apply: ${CLUSTERS} clusters x ${ENDPOINTS_PER_CLUSTER} endpoints (${new Date().toISOString()})`,
    '',
    `Node ${process.version}; each run is a fresh process (cold JIT, what a sidecar sees at start), ${RUNS} runs, medians.`,
    'Targets (issue 2): <= 200 ms and <= 150 MB RSS. Baseline = RSS with modules and protos loaded, before the config.',
    '',
    '| path | median ms | min ms | max ms | baseline RSS MB | peak RSS MB | heap used after MB | meets targets |',
    '|---|---|---|---|---|---|---|---|',
    summarize('CDS + EDS response bytes -> published snapshot (in process)', inProcess),
    summarize('createSidecar -> ready, over gRPC from the control plane in another process', overGrpc),
  ];
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  const resultsFile = path.resolve(__dirname, '..', '..', 'bench', 'RESULTS.md');
  const previous = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '# Benchmark results\n\nWritten by the benchmarks in bench/ (`npm run bench`).\n';
  const kept = previous.replace(/\n## Config apply:[\s\S]*?(?=\n## |$)/, '');
  fs.writeFileSync(resultsFile, `${kept.trimEnd()}\n\n${report}\n`);
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  child(process.argv[childIndex + 1] ?? 'inproc', process.argv[childIndex + 2]).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
} else {
  parent().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
