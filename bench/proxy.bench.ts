// Benchmark: meshlet's data plane against HAProxy, nginx and no proxy, measured side by side the way
// ../shared/bench/README.md describes (proxy pinned to CPU 0, native nginx backend and load on CPU 1, proxy CPU
// time per request from /proc/PID/task/*/schedstat at saturation, paired 3 s slices, median ratio).
// Scenarios: HTTP/1.1 keep-alive (wrk), h2c (h2load), gRPC unary (h2load POSTing a framed message with gRPC
// headers to a static gRPC answer with grpc-status 0 in the trailers; one real grpc-js call checks the path first).
// Writes its section of bench/RESULTS.md. Installs nothing: `bench/setup.sh` installs the tools.
//
//   node dist/bench/proxy.bench.js [--profile] [--only h1|h2|grpc] [--no-results]
//   env: PAIRS=7 SLICE_S=3 LAT_S=4 LAT_WARMUP_S=1 RATE=2000 BENCH_RUN=<scratch dir> PORT_OFFSET=0 LOCK_WAIT_S=600 MESHLET_NODE_FLAGS="..."
//   --profile: also runs `node --cpu-prof` on meshlet under HTTP/1.1 saturation (PROFILE_PROTO=h2|grpc: that
//   scenario) and prints where the time goes.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { missingTools, portOpen, sleep, waitPort, writeResultsSection } from './bench-support';
import * as grpc from '@grpc/grpc-js';

const ROOT = path.resolve(__dirname, '..', '..');
const SHARED_CONF = path.resolve(ROOT, '..', 'shared', 'bench', 'conf');
const RUN = process.env['BENCH_RUN'] ?? path.join(os.tmpdir(), 'meshlet-bench');
const PROXY_CPU = process.env['PROXY_CPU'] ?? '0';
const CLIENT_CPU = process.env['CLIENT_CPU'] ?? '1';
const PAIRS = Number(process.env['PAIRS'] ?? 7);
const SLICE_S = Number(process.env['SLICE_S'] ?? 3);
const LAT_S = Number(process.env['LAT_S'] ?? 4);
const LAT_PAIRS = Number(process.env['LAT_PAIRS'] ?? 3);
const LAT_WARMUP_S = Number(process.env['LAT_WARMUP_S'] ?? 1);
const RATE = Number(process.env['RATE'] ?? 2000);
const TOOLS = ['haproxy', 'nginx', 'wrk', 'h2load', 'taskset', 'flock'] as const;

/**
 * Ports: the referee's (backend 39100-39113, HAProxy 39201/39211/39216, nginx 39202/39212) and meshlet's own
 * (39301, 39311, admin 39390), all shifted by PORT_OFFSET (default 0) in every rendered config, for a box where
 * something else holds them.
 */
const PORT_OFFSET = Number(process.env['PORT_OFFSET'] ?? 0);
const p = (port: number): number => port + PORT_OFFSET;
const PORT = {
  backendStatus: p(39100),
  backendH1: p(39101),
  backendH2: p(39111),
  haproxyH1: p(39201),
  haproxyH2: p(39211),
  nginxH1: p(39202),
  meshletH1: p(39301),
  meshletH2: p(39311),
  meshletAdmin: p(39390),
} as const;
const BACKEND_PORTS = [39100, 39101, 39102, 39103, 39111, 39112, 39113].map(p);
const ALL_PORTS = [...BACKEND_PORTS, ...[39201, 39202, 39211, 39212, 39216].map(p), PORT.meshletH1, PORT.meshletH2, PORT.meshletAdmin];

type Proto = 'h1' | 'h2' | 'grpc';
const GRPC_PATH = '/bench.Echo/Unary';
/** A length-prefixed protobuf message (field 1 = "hello"), the request and the backend's answer. */
const GRPC_MESSAGE = Buffer.from([0, 0, 0, 0, 7, 0x0a, 5, 0x68, 0x65, 0x6c, 0x6c, 0x6f]);

interface Slice {
  readonly requests: number;
  readonly cpuNs: number;
  readonly errors: number;
}

interface PairedResult {
  readonly label: string;
  readonly proto: Proto;
  /** Per pair: [A µs/req, B µs/req, B/A, A rps, B rps]. */
  readonly pairs: Array<[number, number, number, number, number]>;
  readonly errors: number;
}

interface LatencyResult {
  /** Per-pair p99 ratios to HAProxy (paired latency runs), when measured paired. */
  p99Ratios?: number[];
  readonly label: string;
  readonly proto: Proto;
  readonly requests: number;
  readonly errors: number;
  readonly p50: number;
  readonly p99: number;
  readonly cpuUsPerReq: number | undefined;
}

// === processes ===

const children: ChildProcess[] = [];

function startPinned(cpu: string, name: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const log = fs.openSync(path.join(RUN, `${name}.log`), 'w');
  const child = spawn('taskset', ['-c', cpu, command, ...args], { stdio: ['ignore', log, log], env: env ?? process.env });
  fs.closeSync(log);
  children.push(child);
  return child;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', waitMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), waitMs);
  await exited;
  clearTimeout(timer);
}

function stopAllNow(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}



/**
 * Starts a pinned server and waits for all its ports, retrying: on this shared box an outgoing connection of
 * someone else's test can hold one of our ports as its ephemeral port for a moment (bind fails, EADDRINUSE).
 * `bench/setup.sh` reserves the bench ports from the ephemeral range to make that rare.
 */
async function startServer(cpu: string, name: string, command: string, args: readonly string[], ports: readonly number[]): Promise<ChildProcess> {
  for (let attempt = 1; ; attempt += 1) {
    const child = startPinned(cpu, name, command, args);
    try {
      for (const port of ports) await waitPort(port, name, `${RUN}/*.log`);
      await sleep(200);
      if (child.exitCode === null && child.signalCode === null) return child;
      throw new Error(`${name} exited at start (see ${RUN}/${name}.log)`);
    } catch (error) {
      await stop(child, 'SIGKILL');
      if (attempt === 3) throw error;
      await sleep(3000);
    }
  }
}


/** Sum of on-CPU time (ns) of every thread of `pid`. */
function cpuNs(pid: number): number {
  let total = 0;
  for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread exited between readdir and read
    }
  }
  return total;
}

function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match === null ? 0 : Number(match[1]) / 1024;
}

function render(file: string, from: string): string {
  const out = path.join(RUN, path.basename(file).replace(/\.in$/, ''));
  const text = fs.readFileSync(path.join(from, file), 'utf8').replaceAll('@RUN@', RUN);
  fs.writeFileSync(out, text.replace(/\b39(\d{3})\b/g, (port) => String(p(Number(port)))));
  return out;
}

// === load ===

function run(command: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', CLIENT_CPU, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

function url(port: number, proto: Proto): string {
  return `http://127.0.0.1:${port}${proto === 'grpc' ? GRPC_PATH : '/'}`;
}

const GRPC_ARGS = ['-H', 'content-type: application/grpc', '-H', 'te: trailers', '-d'];

function saturationArgs(proto: Proto, port: number, seconds: number): [string, string[]] {
  if (proto === 'h1') return ['wrk', ['-t1', '-c50', `-d${seconds}s`, url(port, proto)]];
  const extra = proto === 'grpc' ? [...GRPC_ARGS, path.join(RUN, 'grpc-request.bin')] : [];
  return ['h2load', ['-t1', '-c10', '-m5', '-D', String(seconds), ...extra, url(port, proto)]];
}

/** Responses served and errors, from wrk or h2load output (same parsing as referee.sh). */
function parseLoad(out: string): { served: number; errors: number } {
  let served = 0;
  let errors = 0;
  const wrk = /(\d+) requests in/.exec(out);
  if (wrk !== null) served = Number(wrk[1]);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx !== null) errors += Number(non2xx[1]);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  if (socketErrors !== null) errors += Number(socketErrors[1]) + Number(socketErrors[2]) + Number(socketErrors[3]) + Number(socketErrors[4]);
  const h2 = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  if (h2 !== null) {
    served = Number(h2[4]);
    errors += Number(h2[5]) + Number(h2[6]) + Number(h2[7]);
  }
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (codes !== null) errors += Number(codes[3]) + Number(codes[4]);
  return { served, errors };
}

async function slice(proto: Proto, port: number, pid: number, seconds: number): Promise<Slice> {
  const [tool, args] = saturationArgs(proto, port, seconds);
  const c0 = cpuNs(pid);
  const out = await run(tool, args, (seconds + 20) * 1000);
  const c1 = cpuNs(pid);
  const { served, errors } = parseLoad(out);
  return { requests: served, cpuNs: c1 - c0, errors };
}

/** A B, B A, ... for PAIRS pairs; each slice measures only its own proxy's CPU. */
async function paired(label: string, proto: Proto, a: { port: number; pid: number }, b: { port: number; pid: number }): Promise<PairedResult> {
  await slice(proto, a.port, a.pid, 2);
  await slice(proto, b.port, b.pid, 2);
  const pairs: PairedResult['pairs'] = [];
  let errors = 0;
  for (let i = 1; i <= PAIRS; i += 1) {
    let sa: Slice;
    let sb: Slice;
    if (i % 2 === 1) {
      sa = await slice(proto, a.port, a.pid, SLICE_S);
      sb = await slice(proto, b.port, b.pid, SLICE_S);
    } else {
      sb = await slice(proto, b.port, b.pid, SLICE_S);
      sa = await slice(proto, a.port, a.pid, SLICE_S);
    }
    const ua = sa.cpuNs / 1e3 / Math.max(sa.requests, 1);
    const ub = sb.cpuNs / 1e3 / Math.max(sb.requests, 1);
    pairs.push([ua, ub, ub / ua, sa.requests / SLICE_S, sb.requests / SLICE_S]);
    errors += sa.errors + sb.errors;
    process.stdout.write(`  ${label} pair ${i}: A ${ua.toFixed(1)} µs/req, B ${ub.toFixed(1)} µs/req, B/A ${(ub / ua).toFixed(3)}, rps ${(sa.requests / SLICE_S).toFixed(0)} / ${(sb.requests / SLICE_S).toFixed(0)}, errors ${sa.errors + sb.errors}\n`);
  }
  return { label, proto, pairs, errors };
}

/** p50/p99 at a fixed rate: 16 connections started 1 ms apart (staggered), h2load's per-request log. */
async function latency(label: string, proto: Proto, port: number, pid: number | undefined, seconds = LAT_S, quiet = false): Promise<LatencyResult> {
  const c = 16;
  const log = path.join(RUN, `lat-${process.pid}.tsv`);
  fs.rmSync(log, { force: true });
  const extra = proto === 'grpc' ? [...GRPC_ARGS, path.join(RUN, 'grpc-request.bin')] : proto === 'h1' ? ['--h1'] : [];
  const args = [...extra, '-t1', `-c${c}`, '-m1', '--rps', String(RATE / c), '-r1', '--rate-period=1ms', '-n', String(RATE * seconds), '--log-file', log, url(port, proto)];
  const c0 = pid === undefined ? 0 : cpuNs(pid);
  const out = await run('h2load', args, (seconds + 20) * 1000);
  const c1 = pid === undefined ? 0 : cpuNs(pid);
  const { served, errors } = parseLoad(out);
  const durations = fs.existsSync(log)
    ? fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => Number(line.split('\t')[2]))
        .sort((x, y) => x - y)
    : [];
  fs.rmSync(log, { force: true });
  const at = (q: number): number => durations[Math.min(durations.length - 1, Math.floor(durations.length * q))] ?? NaN;
  const result = { label, proto, requests: durations.length, errors, p50: at(0.5), p99: at(0.99), cpuUsPerReq: pid === undefined ? undefined : (c1 - c0) / 1e3 / Math.max(served, 1) };
  if (!quiet) process.stdout.write(`  latency ${label}: p50 ${result.p50} µs, p99 ${result.p99} µs, ${result.requests} requests, errors ${errors}\n`);
  return result;
}

/** Fixed-rate runs alternating A B, B A... LAT_PAIRS times; medians of p50/p99/CPU, B's p99 ratio per pair. */
async function latencyPaired(proto: Proto, labelA: string, a: { port: number; pid: number }, labelB: string, b: { port: number; pid: number }): Promise<[LatencyResult, LatencyResult]> {
  const runsA: LatencyResult[] = [];
  const runsB: LatencyResult[] = [];
  // Unmeasured warm-up at the same rate on both: the saturation runs before leave other connections and code
  // shapes behind (the first fixed-rate second re-optimises JavaScript and refills pools).
  if (LAT_WARMUP_S > 0) {
    await latency(labelA, proto, a.port, undefined, LAT_WARMUP_S, true);
    await latency(labelB, proto, b.port, undefined, LAT_WARMUP_S, true);
  }
  for (let i = 0; i < LAT_PAIRS; i += 1) {
    if (i % 2 === 0) {
      runsA.push(await latency(labelA, proto, a.port, a.pid));
      runsB.push(await latency(labelB, proto, b.port, b.pid));
    } else {
      runsB.push(await latency(labelB, proto, b.port, b.pid));
      runsA.push(await latency(labelA, proto, a.port, a.pid));
    }
  }
  const combine = (label: string, runs: LatencyResult[]): LatencyResult => ({
    label,
    proto,
    requests: runs.reduce((n, r) => n + r.requests, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    cpuUsPerReq: median(runs.map((r) => r.cpuUsPerReq ?? NaN)),
  });
  return [combine(labelA, runsA), { ...combine(labelB, runsB), p99Ratios: runsB.map((r, i) => r.p99 / (runsA[i]?.p99 ?? NaN)) }];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 === 1 ? (sorted[(n - 1) / 2] as number) : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
}

function quartiles(values: readonly number[]): [number, number] {
  const sorted = [...values].sort((x, y) => x - y);
  const n = sorted.length;
  return [sorted[Math.floor(n / 4)] ?? NaN, sorted[Math.min(n - 1, Math.floor((3 * n) / 4))] ?? NaN];
}

// === meshlet ===

function bootstrap(): object {
  const T = 'type.googleapis.com/';
  const listener = (name: string, port: number, cluster: string): object => ({
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
              stat_prefix: name,
              codec_type: 'AUTO',
              route_config: { name: `${name}_routes`, virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } }],
            },
          },
        ],
      },
    ],
  });
  const cluster = (name: string, firstPort: number, http2: boolean): object => ({
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [0, 1, 2].map((i) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: firstPort + i } } } })) }],
    },
    ...(http2
      ? {
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
        }
      : {}),
  });
  return {
    node: { id: 'bench', cluster: 'bench' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: PORT.meshletAdmin } } },
    static_resources: {
      listeners: [listener('bench_h1', PORT.meshletH1, 'backend_h1'), listener('bench_h2', PORT.meshletH2, 'backend_h2')],
      clusters: [cluster('backend_h1', PORT.backendH1, false), cluster('backend_h2', PORT.backendH2, true)],
    },
  };
}

/** The node flags users get: those on the shebang line of sidecar/bin/meshlet.js (`#!/usr/bin/env -S node ...`). */
function launchFlags(): string[] {
  const shebang = fs.readFileSync(path.join(ROOT, 'sidecar', 'bin', 'meshlet.js'), 'utf8').split('\n', 1)[0] ?? '';
  const words = shebang.split(' ').filter((w) => w !== '');
  return words.slice(words.indexOf('node') + 1);
}

async function startMeshlet(nodeFlags: readonly string[]): Promise<ChildProcess> {
  const file = path.join(RUN, 'meshlet-bootstrap.json');
  fs.writeFileSync(file, JSON.stringify(bootstrap(), null, 2));
  // MESHLET_NODE_FLAGS come after the launch flags, so they override them (V8: the last value wins).
  const extra = (process.env['MESHLET_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
  const child = startPinned(PROXY_CPU, 'meshlet', process.execPath, [...launchFlags(), ...extra, ...nodeFlags, path.join(ROOT, 'dist', 'sidecar', 'src', 'main.js'), 'run', '-b', file, '--drain-timeout', '0'], {
    ...process.env,
    MESHLET_LOG_LEVEL: 'warn',
  });
  await waitPort(PORT.meshletH1, 'meshlet', `${RUN}/*.log`);
  await waitPort(PORT.meshletH2, 'meshlet', `${RUN}/*.log`);
  return child;
}

/** One real gRPC call through meshlet: the answer must carry grpc-status 0 in trailers (h2load only sees :status). */
function checkGrpc(port: number): Promise<void> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(
      GRPC_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      GRPC_MESSAGE.subarray(5),
      (error: grpc.ServiceError | null, reply?: Buffer) => {
        client.close();
        if (error !== null) reject(new Error(`gRPC check through port ${port} failed: ${error.message}`));
        else if (reply === undefined || reply.toString() !== GRPC_MESSAGE.subarray(5).toString()) reject(new Error('gRPC check: unexpected reply'));
        else resolve();
      },
    );
  });
}

/** nginx stub_status 'accepts': new connections the backend took (NaN if it cannot be read). */
function backendAccepts(): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port: PORT.backendStatus, path: '/', agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => {
          const match = /\n\s*(\d+) (\d+) (\d+)/.exec(text);
          resolve(match === null ? NaN : Number(match[1]));
        });
      })
      .on('error', () => resolve(NaN));
  });
}

// === profile ===

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

/** Self time per function (top `n`), as shares of all samples, from a V8 .cpuprofile. */
export function summarizeProfile(file: string, n = 30): string {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const total = profile.samples.length;
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const frame = node.callFrame;
    const where = frame.url === '' ? '' : `${frame.url.replace(/^file:\/\//, '').replace(`${ROOT}/`, '')}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName === '' ? '(anonymous)' : frame.functionName} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + hits);
    const area = frame.url.includes('/dist/sidecar/') ? `meshlet ${frame.url.replace(/.*\/dist\/sidecar\/src\//, '').replace(/\/[^/]*$/, '/')}` : frame.url.startsWith('node:') ? `node ${frame.url.slice(5).split('/')[0] ?? ''}` : frame.url === '' ? frame.functionName : 'other js';
    byArea.set(area, (byArea.get(area) ?? 0) + hits);
  }
  const pct = (hits: number): string => `${((hits / total) * 100).toFixed(1)}%`;
  const top = [...byFunction.entries()].sort((x, y) => y[1] - x[1]).slice(0, n);
  const areas = [...byArea.entries()].sort((x, y) => y[1] - x[1]).slice(0, 20);
  return [
    `samples: ${total}`,
    'by area (self time):',
    ...areas.map(([k, v]) => `  ${pct(v).padStart(6)}  ${k}`),
    'top functions (self time):',
    ...top.map(([k, v]) => `  ${pct(v).padStart(6)}  ${k}`),
  ].join('\n');
}

async function profileMeshlet(): Promise<string> {
  const dir = path.join(RUN, 'cpu-prof');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const meshlet = await startMeshlet(['--cpu-prof', `--cpu-prof-dir=${dir}`, '-r', path.join(__dirname, 'profile-exit-hook.js')]);
  // PROFILE_PROTO=h2|grpc profiles that scenario instead of HTTP/1.1.
  const proto = (process.env['PROFILE_PROTO'] ?? 'h1') as Proto;
  const port = proto === 'h1' ? PORT.meshletH1 : PORT.meshletH2;
  await slice(proto, port, meshlet.pid as number, 2);
  const measured = await slice(proto, port, meshlet.pid as number, 10);
  const stopStarted = Date.now();
  await stop(meshlet, 'SIGUSR2', 30_000);
  process.stdout.write(`profiled meshlet exited (${meshlet.exitCode ?? meshlet.signalCode}) ${Date.now() - stopStarted} ms after SIGUSR2\n`);
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  if (files[0] === undefined) return 'no profile written (meshlet did not exit cleanly)';
  const us = measured.cpuNs / 1e3 / Math.max(measured.requests, 1);
  return `${proto} saturation under --cpu-prof: ${(measured.requests / 10).toFixed(0)} rps, ${us.toFixed(1)} µs/req (profiler overhead included)\nprofile: ${path.join(dir, files[0])}\n${summarizeProfile(path.join(dir, files[0]))}`;
}

// === report ===

function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

function pairedRow(result: PairedResult, name: string): string {
  const ratios = result.pairs.map((p) => p[2]);
  const [q1, q3] = quartiles(ratios);
  const us = median(result.pairs.map((p) => p[1]));
  const rps = median(result.pairs.map((p) => p[4]));
  return `| ${name} | ${us.toFixed(1)} | ${median(ratios).toFixed(2)} (IQR ${q1.toFixed(2)}-${q3.toFixed(2)}) | ${rps.toFixed(0)} |`;
}

function haproxyRow(result: PairedResult, name: string): string {
  return `| ${name} | ${median(result.pairs.map((p) => p[0])).toFixed(1)} | 1.00 | ${median(result.pairs.map((p) => p[3])).toFixed(0)} |`;
}

function ratioOf(result: PairedResult | undefined): number {
  return result === undefined ? NaN : median(result.pairs.map((p) => p[2]));
}

interface Report {
  readonly started: string;
  readonly loadBefore: string;
  readonly loadAfter: string;
  readonly paired: Map<string, PairedResult>;
  readonly latency: LatencyResult[];
  readonly rss: Map<string, number>;
  readonly accepts: Map<string, number>;
  readonly profile: string | undefined;
}

function formatReport(report: Report): string {
  const lines: string[] = [];
  lines.push(`## HTTP data plane vs HAProxy and nginx (${report.started})`);
  lines.push('');
  lines.push(
    `Node ${process.version}, ${os.cpus().length} cores; proxy pinned to CPU ${PROXY_CPU}, nginx backend and load on CPU ${CLIENT_CPU}. ` +
      `Load average before ${report.loadBefore}, after ${report.loadAfter} (other work on the box shifts absolute figures; ratios are paired). ` +
      `Saturation: wrk -t1 -c50 (HTTP/1.1), h2load -t1 -c10 -m5 (h2c, gRPC); ${PAIRS} pairs of ${SLICE_S} s slices, median of per-pair ratios. ` +
      `Latency: h2load, 16 staggered connections at ${RATE} rps for ${LAT_S} s, after an unmeasured ${LAT_WARMUP_S} s at that rate on each proxy. gRPC: h2load POSTs a framed message with gRPC headers; the backend answers with grpc-status 0 in trailers (checked with one grpc-js call through meshlet).`,
  );
  lines.push('');
  lines.push('| client → proxy → upstream | proxy CPU µs/req | ÷ HAProxy (paired) | one-core rps |');
  lines.push('|---|---|---|---|');
  const h1 = report.paired.get('h1 meshlet');
  const h1nginx = report.paired.get('h1 nginx');
  const h2 = report.paired.get('h2 meshlet');
  const grpcResult = report.paired.get('grpc meshlet');
  if (h1 !== undefined) lines.push(haproxyRow(h1, 'HTTP/1.1 HAProxy'));
  if (h1nginx !== undefined) lines.push(pairedRow(h1nginx, 'HTTP/1.1 nginx'));
  if (h1 !== undefined) lines.push(pairedRow(h1, 'HTTP/1.1 meshlet'));
  if (h2 !== undefined) lines.push(haproxyRow(h2, 'h2c HAProxy (h2 upstream)'));
  if (h2 !== undefined) lines.push(pairedRow(h2, 'h2c meshlet (h2 upstream)'));
  if (grpcResult !== undefined) lines.push(haproxyRow(grpcResult, 'gRPC unary HAProxy'));
  if (grpcResult !== undefined) lines.push(pairedRow(grpcResult, 'gRPC unary meshlet'));
  lines.push('');
  lines.push(`| at ${RATE} rps (${LAT_S} s runs; HAProxy and meshlet alternate ${LAT_PAIRS} times: medians) | p50 µs | p99 µs | p99 ÷ HAProxy | proxy CPU µs/req | errors |`);
  lines.push('|---|---|---|---|---|---|');
  for (const l of report.latency) {
    const base = report.latency.find((x) => x.proto === l.proto && x.label.includes('HAProxy'));
    const paired = l.p99Ratios;
    const ratio =
      paired !== undefined ? `${median(paired).toFixed(2)} (pairs ${paired.map((r) => r.toFixed(2)).join(', ')})` : base === undefined || l.label.includes('direct') ? '–' : (l.p99 / base.p99).toFixed(2);
    lines.push(`| ${l.label} | ${l.p50} | ${l.p99} | ${ratio} | ${l.cpuUsPerReq === undefined ? '–' : l.cpuUsPerReq.toFixed(1)} | ${l.errors} |`);
  }
  lines.push('');
  lines.push(`Peak RSS (VmHWM) MB: ${[...report.rss.entries()].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}.`);
  lines.push(`New backend connections during the run (nginx accepts; keep-alive check): ${[...report.accepts.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  lines.push('');
  const meshletRss = report.rss.get('meshlet') ?? NaN;
  const p99 = (proto: Proto, who: string): number => report.latency.find((l) => l.proto === proto && l.label.includes(who))?.p99 ?? NaN;
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  lines.push('Targets (issue 3, ratios in this run):');
  lines.push(`- HTTP/1.1 CPU per request ≤ 1.5× HAProxy: ${ratioOf(h1).toFixed(2)}× — ${verdict(ratioOf(h1) <= 1.5)}`);
  lines.push(`- h2c CPU per request ≤ 2× HAProxy: ${ratioOf(h2).toFixed(2)}× — ${verdict(ratioOf(h2) <= 2)}`);
  lines.push(`- gRPC CPU per request ≤ 2× HAProxy: ${ratioOf(grpcResult).toFixed(2)}× — ${verdict(ratioOf(grpcResult) <= 2)}`);
  for (const proto of ['h1', 'h2', 'grpc'] as const) {
    const r = median(report.latency.find((l) => l.proto === proto && l.label.includes('meshlet'))?.p99Ratios ?? [p99(proto, 'meshlet') / p99(proto, 'HAProxy')]);
    if (Number.isFinite(r)) lines.push(`- ${proto} p99 at ${RATE} rps ≤ 1.5× HAProxy: ${r.toFixed(2)}× — ${verdict(r <= 1.5)}`);
  }
  lines.push(`- peak RSS ≤ 60 MB: ${meshletRss.toFixed(1)} MB — ${verdict(meshletRss <= 60)}`);
  if (report.profile !== undefined) {
    lines.push('');
    lines.push('Profile (`--profile`, node --cpu-prof on meshlet at HTTP/1.1 saturation):');
    lines.push('');
    lines.push('```');
    lines.push(report.profile);
    lines.push('```');
  }
  return lines.join('\n');
}


// === main ===


async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const only = args.includes('--only') ? (args[args.indexOf('--only') + 1] as Proto) : undefined;
  const wantProfile = args.includes('--profile');
  const missing = missingTools(TOOLS);
  if (missing.length > 0) {
    process.stderr.write(`proxy bench skipped: missing ${missing.join(', ')}. Install with: sudo bench/setup.sh (apt-get install -y haproxy nginx wrk nghttp2-client)\n`);
    process.exitCode = 2;
    return;
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'sidecar', 'src', 'main.js'))) throw new Error('build first: npx tsc -p .');
  fs.mkdirSync(RUN, { recursive: true });
  // One benchmark at a time on the box, shared with ../shared/bench/referee.sh and the other benches (same lock
  // file, flock): wait up to LOCK_WAIT_S for it. The lock holder is `sleep` itself (--no-fork), so stopping it
  // frees the lock.
  const waitS = Number(process.env['LOCK_WAIT_S'] ?? 600);
  process.stdout.write(`proxy bench: waiting for ${RUN}/referee.lock (up to ${waitS} s)\n`);
  const lock = spawn('flock', ['-w', String(waitS), '--no-fork', path.join(RUN, 'referee.lock'), 'sh', '-c', 'echo locked; exec sleep 3600'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(lock);
  const locked = await new Promise<boolean>((resolve) => {
    lock.stdout?.once('data', () => resolve(true));
    lock.once('exit', () => resolve(false));
  });
  if (!locked) throw new Error(`another measurement held ${RUN}/referee.lock for ${waitS} s`);
  for (const port of ALL_PORTS) if (await portOpen(port)) throw new Error(`port ${port} is already in use (another benchmark or service?): refusing to measure someone else's process`);

  const started = new Date().toISOString();
  const loadBefore = loadAverage();
  process.stdout.write(`proxy bench: load average ${loadBefore}; scratch ${RUN}\n`);
  fs.writeFileSync(path.join(RUN, 'grpc-request.bin'), GRPC_MESSAGE);
  fs.writeFileSync(path.join(RUN, 'grpc-reply.bin'), GRPC_MESSAGE);
  const backendConf = render('nginx-backend.conf.in', path.join(ROOT, 'bench', 'conf'));
  const backend = await startServer(CLIENT_CPU, 'backend', 'nginx', ['-c', backendConf], BACKEND_PORTS);
  const haproxy = await startServer(PROXY_CPU, 'haproxy', 'haproxy', ['-db', '-f', render('haproxy.cfg', SHARED_CONF)], [PORT.haproxyH1, PORT.haproxyH2, p(39216)]);
  const nginxProxy = await startServer(PROXY_CPU, 'nginx-proxy', 'nginx', ['-c', render('nginx-proxy.conf.in', SHARED_CONF)], [PORT.nginxH1, p(39212)]);
  const meshlet = await startMeshlet([]);
  const pid = (child: ChildProcess): number => child.pid as number;
  const meshletStartRss = peakRssMb(pid(meshlet));
  if (only === undefined || only === 'grpc') {
    await checkGrpc(PORT.haproxyH2);
    await checkGrpc(PORT.meshletH2);
  }

  const pairedResults = new Map<string, PairedResult>();
  const latencies: LatencyResult[] = [];
  const accepts = new Map<string, number>();
  const haproxyH1 = { port: PORT.haproxyH1, pid: pid(haproxy) };
  const haproxyH2 = { port: PORT.haproxyH2, pid: pid(haproxy) };
  const meshletH1 = { port: PORT.meshletH1, pid: pid(meshlet) };
  const meshletH2 = { port: PORT.meshletH2, pid: pid(meshlet) };
  const acceptsBefore = await backendAccepts();
  if (only === undefined || only === 'h1') {
    process.stdout.write('HTTP/1.1 keep-alive, saturation (A = HAProxy):\n');
    const before = await backendAccepts();
    pairedResults.set('h1 meshlet', await paired('h1 meshlet', 'h1', haproxyH1, meshletH1));
    pairedResults.set('h1 nginx', await paired('h1 nginx', 'h1', haproxyH1, { port: PORT.nginxH1, pid: pid(nginxProxy) }));
    accepts.set('HTTP/1.1 (3 proxies, 50 client connections each)', (await backendAccepts()) - before);
  }
  if (only === undefined || only === 'h2') {
    process.stdout.write('h2c, saturation (A = HAProxy):\n');
    pairedResults.set('h2 meshlet', await paired('h2 meshlet', 'h2', haproxyH2, meshletH2));
  }
  if (only === undefined || only === 'grpc') {
    process.stdout.write('gRPC unary over h2c, saturation (A = HAProxy):\n');
    pairedResults.set('grpc meshlet', await paired('grpc meshlet', 'grpc', haproxyH2, meshletH2));
  }
  process.stdout.write(`latency at ${RATE} rps:\n`);
  if (only === undefined || only === 'h1') {
    latencies.push(await latency('HTTP/1.1 direct (no proxy)', 'h1', PORT.backendH1, undefined));
    latencies.push(...(await latencyPaired('h1', 'HTTP/1.1 HAProxy', haproxyH1, 'HTTP/1.1 meshlet', meshletH1)));
    latencies.push(await latency('HTTP/1.1 nginx', 'h1', PORT.nginxH1, pid(nginxProxy)));
  }
  if (only === undefined || only === 'h2') {
    latencies.push(await latency('h2c direct (no proxy)', 'h2', PORT.backendH2, undefined));
    latencies.push(...(await latencyPaired('h2', 'h2c HAProxy', haproxyH2, 'h2c meshlet', meshletH2)));
  }
  if (only === undefined || only === 'grpc') {
    latencies.push(...(await latencyPaired('grpc', 'gRPC unary HAProxy', haproxyH2, 'gRPC unary meshlet', meshletH2)));
  }
  accepts.set('whole run', (await backendAccepts()) - acceptsBefore);
  const rss = new Map<string, number>([
    ['meshlet', peakRssMb(pid(meshlet))],
    ['meshlet at start (before load)', meshletStartRss],
    ['HAProxy', peakRssMb(pid(haproxy))],
    ['nginx', peakRssMb(pid(nginxProxy))],
  ]);
  await stop(meshlet);
  const profile = wantProfile ? await profileMeshlet() : undefined;
  await Promise.all([stop(haproxy), stop(nginxProxy), stop(backend)]);
  await stop(lock);

  const report = formatReport({ started, loadBefore, loadAfter: loadAverage(), paired: pairedResults, latency: latencies, rss, accepts, profile });
  process.stdout.write(`\n${report}\n`);
  const errors = [...pairedResults.values()].reduce((n, r) => n + r.errors, 0) + latencies.reduce((n, l) => n + l.errors, 0);
  if (errors > 0) {
    process.stderr.write(`proxy bench: ${errors} error responses: results not written\n`);
    process.exitCode = 1;
    return;
  }
  if (!args.includes('--no-results') && only === undefined) writeResultsSection(ROOT, 'HTTP data plane vs HAProxy', report);
}

process.on('SIGINT', () => {
  stopAllNow();
  process.exit(130);
});
main().catch((error: unknown) => {
  stopAllNow();
  process.stderr.write(`proxy bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
