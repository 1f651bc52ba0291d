// Benchmark: decode and apply 1,000 clusters x 10 endpoints (CDS + EDS) until a complete snapshot is published.
// Two measurements, each in a fresh child process so RSS means something:
//   in-process: DiscoveryResponse bytes -> XdsClient (fake transport) -> decoders -> assembler -> SnapshotStore
//   over gRPC:  reference control plane on 127.0.0.1 -> real ADS stream -> the same path, timed to /ready
// Targets (issue 2): <= 200 ms and <= 150 MB RSS. Run: npm run bench:config (not part of npm test).

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ControlPlaneServer } from '../examples/control-plane/control-plane-server';
import { createSidecar } from '../sidecar/src/sidecar';
import { loadBootstrap } from '../sidecar/src/xds/bootstrap-loader';
import { ProtoSchema } from '../sidecar/src/xds/proto-schema';
import { SnapshotStore } from '../sidecar/src/config/snapshot-store';
import { XdsClient } from '../sidecar/src/xds/xds-client';
import { resourceTypes } from '../sidecar/src/xds/resources/resource-types';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, type XdsResourceType } from '../sidecar/src/xds/resources/resource-type';
import { FakeTransport } from '../test/support/ads-fakes';
import type { DiscoveryResponse__Output } from '../xds-protos/generated/envoy/service/discovery/v3/DiscoveryResponse';

const CLUSTERS = 1000;
const ENDPOINTS_PER_CLUSTER = 10;
const RUNS = 5;

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

interface Measurement {
  readonly mode: string;
  readonly ms: number[];
  readonly peakRssMb: number;
  readonly heapUsedMb: number;
}

function trackPeakRss(): { stop(): number } {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss);
    },
  };
}

async function measureInProcess(): Promise<Measurement> {
  const schema = ProtoSchema.get();
  const cdsBytes = encodedResponse(schema, CLUSTER_TYPE_URL, Array.from({ length: CLUSTERS }, (_, i) => clusterMessage(i)));
  const edsBytes = encodedResponse(schema, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, Array.from({ length: CLUSTERS }, (_, i) => assignmentMessage(i)));
  const types = [...resourceTypes.values()] as XdsResourceType<unknown>[];
  const ms: number[] = [];
  const rss = trackPeakRss();
  for (let run = 0; run < RUNS; run += 1) {
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
    const started = process.hrtime.bigint();
    // The bytes as they come off the wire: deserialisation is part of the cost.
    transport.sotw.respond(schema.decode<DiscoveryResponse__Output>('envoy.service.discovery.v3.DiscoveryResponse', cdsBytes));
    transport.sotw.respond(schema.decode<DiscoveryResponse__Output>('envoy.service.discovery.v3.DiscoveryResponse', edsBytes));
    const snapshot = store.current;
    const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
    if (snapshot === undefined || snapshot.clusters.size !== CLUSTERS || snapshot.endpoints.size !== CLUSTERS) {
      throw new Error(`incomplete snapshot: ${snapshot?.clusters.size} clusters, ${snapshot?.endpoints.size} assignments`);
    }
    ms.push(elapsed);
    client.stop();
  }
  return { mode: 'in-process (bytes -> snapshot)', ms, peakRssMb: rss.stop() / 2 ** 20, heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20 };
}

async function measureOverGrpc(): Promise<Measurement> {
  const controlPlane = await ControlPlaneServer.start({ host: '127.0.0.1', port: 0 });
  controlPlane.setResources(CLUSTER_TYPE_URL, Array.from({ length: CLUSTERS }, (_, i) => ({ name: clusterName(i), message: clusterMessage(i) })));
  controlPlane.setResources(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, Array.from({ length: CLUSTERS }, (_, i) => ({ name: clusterName(i), message: assignmentMessage(i) })));
  controlPlane.setResources(LISTENER_TYPE_URL, []);
  controlPlane.setResources(ROUTE_CONFIGURATION_TYPE_URL, []);
  const ms: number[] = [];
  const rss = trackPeakRss();
  for (let run = 0; run < RUNS; run += 1) {
    const bootstrap = loadBootstrap({ xdsAddress: controlPlane.address, nodeId: 'bench', adminAddress: '127.0.0.1:0' }, { env: {} });
    if (!bootstrap.ok) throw new Error('bench bootstrap invalid');
    const started = process.hrtime.bigint();
    const sidecar = await createSidecar(bootstrap.value);
    const snapshot = await sidecar.store.whenReady();
    ms.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (snapshot.clusters.size !== CLUSTERS) throw new Error(`only ${snapshot.clusters.size} clusters`);
    await sidecar.stop();
  }
  await controlPlane.stop();
  return { mode: 'over gRPC from the control plane (start -> ready; includes the server side)', ms, peakRssMb: rss.stop() / 2 ** 20, heapUsedMb: process.memoryUsage().heapUsed / 2 ** 20 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function child(mode: string): Promise<void> {
  const result = mode === 'inproc' ? await measureInProcess() : await measureOverGrpc();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function parent(): void {
  const lines: string[] = [];
  const results: Measurement[] = [];
  for (const mode of ['inproc', 'grpc']) {
    const out = execFileSync(process.execPath, [__filename, '--child', mode], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    results.push(JSON.parse(out.trim().split('\n').pop() ?? '{}') as Measurement);
  }
  const stamp = new Date().toISOString();
  lines.push(`## Config apply: ${CLUSTERS} clusters x ${ENDPOINTS_PER_CLUSTER} endpoints (${stamp})`, '');
  lines.push(`Node ${process.version}, ${RUNS} runs each, first run included (cold JIT). Targets: <= 200 ms, <= 150 MB RSS.`, '');
  lines.push('| path | median ms | first run ms | min ms | peak RSS MB | heap used MB | meets targets |', '|---|---|---|---|---|---|---|');
  for (const r of results) {
    const med = median(r.ms);
    const meets = med <= 200 && r.peakRssMb <= 150 ? 'yes' : 'no';
    lines.push(`| ${r.mode} | ${med.toFixed(1)} | ${(r.ms[0] ?? NaN).toFixed(1)} | ${Math.min(...r.ms).toFixed(1)} | ${r.peakRssMb.toFixed(1)} | ${r.heapUsedMb.toFixed(1)} | ${meets} |`);
  }
  const report = lines.join('\n');
  process.stdout.write(`${report}\n`);
  const resultsFile = path.resolve(__dirname, '..', '..', 'bench', 'RESULTS.md');
  const previous = fs.existsSync(resultsFile) ? fs.readFileSync(resultsFile, 'utf8') : '# Benchmark results\n\nWritten by the benchmarks in bench/ (`npm run bench`).\n';
  const kept = previous.replace(/\n## Config apply:[\s\S]*?(?=\n## |$)/, '');
  fs.writeFileSync(resultsFile, `${kept.trimEnd()}\n\n${report}\n`);
}

const childIndex = process.argv.indexOf('--child');
if (childIndex >= 0) {
  child(process.argv[childIndex + 1] ?? 'inproc').then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
} else {
  parent();
}
