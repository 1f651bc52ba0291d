// Benchmark: the issue-4 failure scenarios through meshlet and through HAProxy configured equivalently, side by side:
// 5 backends (one 10x slower, or one starting to fail 5 s into the run), a fixed request rate, client-visible errors
// and p99. Proxies on CPU 0, backends and load generator on CPU 1. Writes its section of bench/RESULTS.md.
//
//   node dist/bench/resilience.bench.js [--no-results] [--only healthy|slow|failing|failing+retries]
//   env: RPS=300 DURATION_S=20 BENCH_RUN=<scratch dir> DEBUG_ERRORS=1 (print each non-200 with its time)
//   node dist/bench/resilience.bench.js --backends PORT...    (internal: the backend process)
//
// Backends are Node (the figures are client-visible errors and p99, not proxy CPU): each answers after BASE_MS,
// the slow one after 10 x BASE_MS, the failing one 500 for every request and for /health. A control port switches
// a backend to failing mid-run. Load: h2load --h1 with --rps per connection and a per-request log (p99, statuses).

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { missingTools, portOpen, sleep, waitPort, writeResultsSection } from './bench-support';

const ROOT = path.resolve(__dirname, '..', '..');
const RUN = process.env['BENCH_RUN'] ?? path.join(os.tmpdir(), 'meshlet-bench');
const PROXY_CPU = process.env['PROXY_CPU'] ?? '0';
const CLIENT_CPU = process.env['CLIENT_CPU'] ?? '1';
const RPS = Number(process.env['RPS'] ?? 300);
// 15 s per row (5 s healthy, then 10 s with backend 4 failing) keeps `npm run bench` within its 10 minutes (issue 3).
const SECONDS = Number(process.env['DURATION_S'] ?? 15);
/** Connections of the load generator: each paced at RPS / CONNECTIONS, so a 10x slow reply never delays the next send. */
const CONNECTIONS = 60;
const BASE_MS = 10;
const SLOW_FACTOR = 10;
const FAIL_AT_MS = 5_000;
const TOOLS = ['haproxy', 'h2load', 'taskset', 'flock'] as const;

/** Ports in the bench range bench/setup.sh reserves (39100-39399), apart from bench/proxy.bench.ts's. */
const PORT = { backends: [39150, 39151, 39152, 39153, 39154], control: 39159, haproxy: 39250, meshlet: 39350, meshletAdmin: 39391 } as const;

type Scenario = 'healthy' | 'slow' | 'failing' | 'failing+retries';
type Proxy = 'meshlet peak-EWMA' | 'meshlet least-request' | 'HAProxy leastconn';

interface Row {
  readonly scenario: Scenario;
  readonly proxy: Proxy;
  readonly requests: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Share of requests the special backend (slow or failing, index 4) served. */
  readonly specialShare: number;
}

const children: ChildProcess[] = [];

// === backends (child process) ===

function runBackends(ports: readonly number[]): void {
  const state = ports.map(() => ({ delayMs: BASE_MS, failing: false, served: 0 }));
  ports.forEach((port, i) => {
    const s = state[i]!;
    http
      .createServer((req, res) => {
        req.resume();
        if (req.url !== '/health') s.served += 1;
        if (s.failing) {
          res.writeHead(500, { 'content-length': 0 }).end();
          return;
        }
        setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 3 }).end('ok\n'), req.url === '/health' ? 0 : s.delayMs);
      })
      .listen(port, '127.0.0.1');
  });
  // GET /slow?i=4, /fail?i=4, /served: the bench drives the scenario through this port.
  http
    .createServer((req, res) => {
      const u = new URL(req.url ?? '/', 'http://control');
      const s = state[Number(u.searchParams.get('i') ?? -1)];
      if (u.pathname === '/slow' && s !== undefined) s.delayMs = BASE_MS * SLOW_FACTOR;
      if (u.pathname === '/fail' && s !== undefined) s.failing = true;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(state.map((x) => x.served)));
    })
    .listen(PORT.control, '127.0.0.1');
}

// === processes ===


function startPinned(cpu: string, name: string, command: string, args: readonly string[], env?: NodeJS.ProcessEnv): ChildProcess {
  const log = fs.openSync(path.join(RUN, `resilience-${name}.log`), 'w');
  const child = spawn('taskset', ['-c', cpu, command, ...args], { stdio: ['ignore', log, log], env: env ?? process.env });
  fs.closeSync(log);
  children.push(child);
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}



function control(pathAndQuery: string): Promise<number[]> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port: PORT.control, path: pathAndQuery, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(JSON.parse(body) as number[]));
      })
      .on('error', reject);
  });
}

// === proxy configs ===

const T = 'type.googleapis.com/';

/** The meshlet cluster: least request or peak-EWMA, outlier detection and an HTTP health check like HAProxy's. */
function meshletBootstrap(policy: 'peak_ewma' | 'least_request', retries: boolean): object {
  const lb =
    policy === 'peak_ewma'
      ? { load_balancing_policy: { policies: [{ typed_extension_config: { name: 'meshlet.peak_ewma', typed_config: { '@type': `${T}xds.type.v3.TypedStruct`, type_url: `${T}meshlet.lb.v1.PeakEwma`, value: {} } } }] } }
      : { lb_policy: 'LEAST_REQUEST' };
  const route = {
    cluster: 'svc',
    timeout: '5s',
    ...(retries ? { retry_policy: { retry_on: '5xx', num_retries: 3, retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }], host_selection_retry_max_attempts: 3 } } : {}),
  };
  return {
    node: { id: 'resilience-bench', cluster: 'bench' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: PORT.meshletAdmin } } },
    static_resources: {
      listeners: [
        {
          name: 'in',
          address: { socket_address: { address: '127.0.0.1', port_value: PORT.meshlet } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
                    stat_prefix: 'in',
                    codec_type: 'AUTO',
                    route_config: { name: 'r', virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route }] }] },
                    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': `${T}envoy.extensions.filters.http.router.v3.Router` } }],
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'svc',
          type: 'STATIC',
          connect_timeout: '1s',
          ...lb,
          load_assignment: { cluster_name: 'svc', endpoints: [{ lb_endpoints: PORT.backends.map((port) => ({ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } })) }] },
          // HAProxy: observe layer7 error-limit 5 on-error mark-down. 5 hosts need max_ejection_percent >= 20.
          outlier_detection: { consecutive_5xx: 5, interval: '1s', base_ejection_time: '30s', max_ejection_percent: 50 },
          // istiod sets every breaker threshold to 2^32-1 (HAProxy has no retry limit); Envoy's default max_retries 3.
          circuit_breakers: { thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295 }] },
          // HAProxy: option httpchk GET /health, inter 1s fall 3 rise 2, timeout check 500ms.
          health_checks: [{ timeout: '0.5s', interval: '1s', no_traffic_interval: '1s', unhealthy_threshold: 3, healthy_threshold: 2, http_health_check: { path: '/health' } }],
        },
      ],
    },
  };
}

function haproxyConfig(retries: boolean): string {
  return [
    'global',
    '  maxconn 4096',
    'defaults',
    '  mode http',
    '  timeout connect 1s',
    '  timeout client 30s',
    '  timeout server 5s',
    '  timeout check 500ms',
    '  option http-keep-alive',
    ...(retries ? ['  retries 3', '  option redispatch 1', '  retry-on conn-failure empty-response response-timeout 500 502 503 504'] : ['  retries 0']),
    `frontend in`,
    `  bind 127.0.0.1:${PORT.haproxy}`,
    '  default_backend svc',
    'backend svc',
    '  balance leastconn',
    '  option httpchk GET /health',
    ...PORT.backends.map((port, i) => `  server b${i} 127.0.0.1:${port} check inter 1s fall 3 rise 2 observe layer7 error-limit 5 on-error mark-down`),
    '',
  ].join('\n');
}

async function startProxy(proxy: Proxy, retries: boolean): Promise<ChildProcess> {
  if (proxy === 'HAProxy leastconn') {
    const file = path.join(RUN, 'resilience-haproxy.cfg');
    fs.writeFileSync(file, haproxyConfig(retries));
    const child = startPinned(PROXY_CPU, 'haproxy', 'haproxy', ['-db', '-f', file]);
    await waitPort(PORT.haproxy, 'haproxy', `${RUN}/resilience-*.log`);
    return child;
  }
  const file = path.join(RUN, 'resilience-meshlet.json');
  fs.writeFileSync(file, JSON.stringify(meshletBootstrap(proxy === 'meshlet peak-EWMA' ? 'peak_ewma' : 'least_request', retries), null, 2));
  const child = startPinned(PROXY_CPU, 'meshlet', process.execPath, [path.join(ROOT, 'dist', 'sidecar', 'src', 'main.js'), 'run', '-b', file, '--drain-timeout', '0'], { ...process.env, MESHLET_LOG_LEVEL: 'warn' });
  await waitPort(PORT.meshlet, 'meshlet', `${RUN}/resilience-*.log`);
  return child;
}

// === load ===

function runLoad(port: number, seconds: number): Promise<{ out: string; log: string }> {
  const log = path.join(RUN, `resilience-${process.pid}.tsv`);
  fs.rmSync(log, { force: true });
  const total = RPS * seconds;
  // -r1 --rate-period: connections open one at a time, spread over one pacing period, so the per-connection sends
  // interleave into a smooth RPS instead of CONNECTIONS requests at the same instant every period.
  const period = Math.max(1, Math.floor(1000 / (RPS / CONNECTIONS) / CONNECTIONS));
  const args = ['--h1', '-t1', `-c${CONNECTIONS}`, '-m1', '--rps', String(RPS / CONNECTIONS), '-r1', `--rate-period=${period}ms`, '-n', String(total), '--log-file', log, `http://127.0.0.1:${port}/`];
  return new Promise((resolve) => {
    const child = spawn('taskset', ['-c', CLIENT_CPU, 'h2load', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ out, log });
    });
  });
}

async function measure(scenario: Scenario, proxy: Proxy): Promise<Row> {
  const backends = startPinned(CLIENT_CPU, 'backends', process.execPath, [__filename, '--backends']);
  for (const port of [...PORT.backends, PORT.control]) await waitPort(port, 'backends', `${RUN}/resilience-*.log`);
  if (scenario === 'slow') await control('/slow?i=4');
  const proxyChild = await startProxy(proxy, scenario === 'failing+retries');
  const port = proxy === 'HAProxy leastconn' ? PORT.haproxy : PORT.meshlet;
  await sleep(1500); // first health checks pass
  const before = await control('/served');
  const load = runLoad(port, SECONDS);
  if (scenario === 'failing' || scenario === 'failing+retries') {
    await sleep(FAIL_AT_MS);
    await control('/fail?i=4');
  }
  const { out, log } = await load;
  const after = await control('/served');
  await stop(proxyChild);
  await stop(backends);
  const lines = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : [];
  fs.rmSync(log, { force: true });
  const durationsMs = lines.map((l) => Number(l.split('\t')[2]) / 1000).sort((a, b) => a - b);
  const ok = lines.filter((l) => l.split('\t')[1] === '200').length;
  const requests = RPS * SECONDS;
  const at = (q: number): number => durationsMs[Math.min(durationsMs.length - 1, Math.floor(durationsMs.length * q))] ?? NaN;
  const served = after.map((n, i) => n - (before[i] ?? 0));
  const totalServed = served.reduce((a, b) => a + b, 0);
  const row: Row = { scenario, proxy, requests, errors: requests - ok, p50Ms: at(0.5), p99Ms: at(0.99), specialShare: totalServed === 0 ? 0 : (served[4] ?? 0) / totalServed };
  if (lines.length === 0) process.stderr.write(`h2load produced no log:\n${out}\n`);
  const bad = new Map<string, number>();
  for (const l of lines) {
    const [start, status] = l.split('\t');
    const key = `${status}@${((Number(start) - Number(lines[0]!.split('\t')[0])) / 1e6).toFixed(2)}s`;
    if (status !== '200') bad.set(key, 1 + (bad.get(key) ?? 0));
  }
  if (process.env['DEBUG_ERRORS'] === '1') process.stdout.write(`    non-200: ${[...bad].map(([k, n]) => `${n}x${k}`).join(' ')}\n`);
  process.stdout.write(`  ${scenario.padEnd(16)} ${proxy.padEnd(22)} errors ${String(row.errors).padStart(4)}  p50 ${row.p50Ms.toFixed(1)} ms  p99 ${row.p99Ms.toFixed(1)} ms  backend-4 share ${(100 * row.specialShare).toFixed(1)}%\n`);
  return row;
}

// === report ===

function find(rows: readonly Row[], scenario: Scenario, proxy: Proxy): Row | undefined {
  return rows.find((r) => r.scenario === scenario && r.proxy === proxy);
}

function formatReport(rows: readonly Row[], started: string, load: string): string {
  const lines = [
    `## Resilience: failure scenarios vs HAProxy (${started})`,
    '',
    `Node ${process.version}; ${RPS} req/s for ${SECONDS} s per row (h2load --h1, ${CONNECTIONS} connections paced at ${RPS / CONNECTIONS} req/s each, per-request log), proxy on CPU ${PROXY_CPU}, load and 5 Node backends on CPU ${CLIENT_CPU}; load average before: ${load}.`,
    `Backends answer after ${BASE_MS} ms; "slow": backend 4 answers after ${BASE_MS * SLOW_FACTOR} ms from the start; "failing": backend 4 answers 500 (requests and /health) from ${FAIL_AT_MS / 1000} s into the run.`,
    'meshlet: outlier detection consecutive_5xx 5 (interval 1 s, max_ejection_percent 50), HTTP health check /health every 1 s (unhealthy 3, healthy 2); "+retries": retry_on 5xx, 3 retries, previous_hosts.',
    'HAProxy 2.6: balance leastconn, option httpchk GET /health, check inter 1s fall 3 rise 2, observe layer7 error-limit 5 on-error mark-down; "+retries": retries 3, option redispatch 1, retry-on conn-failure empty-response response-timeout 500 502 503 504.',
    'errors = requests that did not get a 200 (5xx or no response). backend-4 share = requests the slow/failing backend saw.',
    '',
    '| scenario | proxy | requests | client errors | p50 ms | p99 ms | backend-4 share |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.proxy} | ${r.requests} | ${r.errors} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${(100 * r.specialShare).toFixed(1)}% |`),
    '',
    'Targets (issue 4):',
  ];
  const healthy = find(rows, 'healthy', 'meshlet peak-EWMA');
  const slow = find(rows, 'slow', 'meshlet peak-EWMA');
  if (healthy !== undefined && slow !== undefined) {
    const ratio = slow.p99Ms / healthy.p99Ms;
    lines.push(`- one of 5 backends 10x slower: peak-EWMA p99 ${slow.p99Ms.toFixed(1)} ms = ${ratio.toFixed(2)}x the all-healthy p99 (${healthy.p99Ms.toFixed(1)} ms); target <= 1.2x: **${ratio <= 1.2 ? 'met' : 'not met'}**`);
  }
  const failing = find(rows, 'failing', 'meshlet peak-EWMA');
  const retried = find(rows, 'failing+retries', 'meshlet peak-EWMA');
  if (failing !== undefined) lines.push(`- one backend failing, no retries: ${failing.errors} client errors; target <= 5: **${failing.errors <= 5 ? 'met' : 'not met'}**`);
  if (retried !== undefined) lines.push(`- one backend failing, retries on 5xx: ${retried.errors} client errors; target 0: **${retried.errors === 0 ? 'met' : 'not met'}**`);
  const scenarios: Scenario[] = ['healthy', 'slow', 'failing', 'failing+retries'];
  const verdicts = scenarios.map((s) => {
    const m = find(rows, s, 'meshlet peak-EWMA');
    const h = find(rows, s, 'HAProxy leastconn');
    if (m === undefined || h === undefined) return `${s}: not run`;
    const verdict = m.errors < h.errors ? 'fewer' : m.errors === h.errors ? 'equal' : 'more';
    return `${s} ${m.errors} vs ${h.errors} (${verdict})`;
  });
  const allFewer = scenarios.every((s) => {
    const m = find(rows, s, 'meshlet peak-EWMA');
    const h = find(rows, s, 'HAProxy leastconn');
    return m !== undefined && h !== undefined && m.errors < h.errors;
  });
  lines.push(`- fewer client errors than HAProxy in each scenario (meshlet peak-EWMA vs HAProxy): ${verdicts.join('; ')}: **${allFewer ? 'met' : 'not met'}** (a tie at 0 errors counts as not fewer)`);
  return lines.join('\n');
}



async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--backends') {
    runBackends(PORT.backends);
    return;
  }
  const missing = missingTools(TOOLS);
  if (missing.length > 0) {
    process.stderr.write(`resilience bench skipped: missing ${missing.join(', ')}. Install with: sudo bench/setup.sh\n`);
    process.exitCode = 2;
    return;
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'sidecar', 'src', 'main.js'))) throw new Error('build first: npx tsc -p .');
  fs.mkdirSync(RUN, { recursive: true });
  // One benchmark at a time on the box (the lock bench/proxy.bench.ts and the shared referee use).
  const lock = spawn('flock', ['-n', '--no-fork', path.join(RUN, 'referee.lock'), 'sleep', '3600'], { stdio: 'ignore' });
  children.push(lock);
  const lockFailed = await Promise.race([new Promise<boolean>((resolve) => lock.once('exit', () => resolve(true))), sleep(300).then(() => false)]);
  if (lockFailed) throw new Error(`another measurement holds ${RUN}/referee.lock`);
  for (const port of [...PORT.backends, PORT.control, PORT.haproxy, PORT.meshlet, PORT.meshletAdmin]) if (await portOpen(port)) throw new Error(`port ${port} is already in use`);

  const started = new Date().toISOString();
  const load = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  process.stdout.write(`resilience bench: ${RPS} req/s x ${SECONDS} s per row; load average ${load}\n`);
  const plan: Array<[Scenario, Proxy]> = [
    ['healthy', 'meshlet peak-EWMA'],
    ['healthy', 'HAProxy leastconn'],
    ['slow', 'meshlet peak-EWMA'],
    ['slow', 'meshlet least-request'],
    ['slow', 'HAProxy leastconn'],
    ['failing', 'meshlet peak-EWMA'],
    ['failing', 'HAProxy leastconn'],
    ['failing+retries', 'meshlet peak-EWMA'],
    ['failing+retries', 'HAProxy leastconn'],
  ];
  const rows: Row[] = [];
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  for (const [scenario, proxy] of plan) if (only === undefined || only === scenario) rows.push(await measure(scenario, proxy));
  const section = formatReport(rows, started, load);
  process.stdout.write(`\n${section}\n`);
  if (!args.includes('--no-results')) writeResultsSection(ROOT, 'Resilience: failure scenarios vs HAProxy', section);
  lock.kill();
}

main().catch((error: unknown) => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
