// Memory footprint choices (issue 3, peak RSS), checked on real child processes: `meshlet run` loads only what its
// configuration uses (a static JSON bootstrap without tracing never loads @grpc/grpc-js, the OpenTelemetry SDK, the
// YAML parser, the demo or inject/; a preload writes the loaded module files at exit), and the `meshlet` command
// starts node with the heap flags of its shebang.

import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { httpListener, socketAddress, staticCluster } from '../support/sidecar';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const MESHLET = path.join(repoRoot, 'sidecar', 'bin', 'meshlet.js');

/** Starts `meshlet run` with `args`, waits for "meshlet started", stops it and returns the loaded module files. */
async function modulesLoadedBy(dir: string, args: readonly string[]): Promise<string[]> {
  const listFile = path.join(dir, `modules-${Date.now()}.json`);
  const preload = path.join(dir, 'list-modules.js');
  // Module files, and node's own modules as `NativeModule <name>` (process.moduleLoadList).
  fs.writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(listFile)}, JSON.stringify([...Object.keys(require.cache), ...process.moduleLoadList])));\n`);
  const proc = spawn(process.execPath, ['-r', preload, MESHLET, 'run', ...args, '--drain-timeout', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('meshlet started')) resolve();
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.once('exit', () => reject(new Error(`meshlet exited before it started: ${output}`)));
  });
  proc.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  return JSON.parse(fs.readFileSync(listFile, 'utf8')) as string[];
}

function loaded(modules: readonly string[], fragment: string): boolean {
  return modules.some((file) => file.includes(fragment));
}

describe('meshlet run loads only what the configuration uses', function () {
  this.timeout(30_000);
  let dir: string;
  let bootstrapFile: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-lazy-'));
    const listener = httpListener('ingress', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }]) as { address: unknown };
    listener.address = socketAddress(0);
    bootstrapFile = path.join(dir, 'bootstrap.json');
    fs.writeFileSync(bootstrapFile, JSON.stringify({
      node: { id: 'lazy-test', cluster: 'test' },
      admin: { address: socketAddress(0) },
      static_resources: { listeners: [listener], clusters: [staticCluster('backend', [9])] },
    }));
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('static JSON bootstrap, no tracing, no TLS: no node:http2 (only the fallback codec uses it), node:tls, proto schema (decoded in a child process), grpc-js, OpenTelemetry, YAML, demo or inject code', async () => {
    const modules = await modulesLoadedBy(dir, ['-b', bootstrapFile]);
    assert.ok(loaded(modules, `${path.sep}sidecar.js`), 'the sidecar itself is loaded');
    for (const fragment of ['NativeModule http2', 'NativeModule tls', 'NativeModule https', 'protobufjs', 'proto-schema.js', '@grpc/grpc-js', '@opentelemetry/', `${path.sep}yaml${path.sep}`, `examples${path.sep}demo`, `src${path.sep}inject${path.sep}`, 'xds-client.js']) {
      assert.ok(!loaded(modules, fragment), `${fragment} should not be loaded: ${modules.filter((m) => m.includes(fragment)).join(', ')}`);
    }
  });

  it('--otlp-endpoint loads the OpenTelemetry SDK', async () => {
    const modules = await modulesLoadedBy(dir, ['-b', bootstrapFile, '--otlp-endpoint', 'http://127.0.0.1:9/', '--otlp-protocol', 'http/protobuf']);
    assert.ok(loaded(modules, '@opentelemetry/sdk-trace-base'));
  });
});

describe('the meshlet command', function () {
  this.timeout(30_000);

  it('starts node with the heap flags of its shebang (semi-space 2 MB from the start, no parallel scavenge)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-flags-'));
    try {
      const preload = path.join(dir, 'exec-argv.js');
      const out = path.join(dir, 'exec-argv.json');
      fs.writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.execArgv)));\n`);
      // Run as a program (the kernel reads the shebang), the way npm's bin link and the image's entrypoint run it.
      const env = { ...process.env, NODE_OPTIONS: `-r ${preload}`, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}` };
      const proc = spawn(MESHLET, ['--version'], { stdio: 'ignore', env });
      const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
      assert.equal(code, 0);
      const execArgv = JSON.parse(fs.readFileSync(out, 'utf8')) as string[];
      assert.deepEqual(execArgv, ['--min-semi-space-size=2', '--max-semi-space-size=2', '--no-parallel-scavenge']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
