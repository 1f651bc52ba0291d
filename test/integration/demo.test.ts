// `npm start` runs `meshlet demo`: services, control plane and a sidecar on loopback. A newcomer's first look.

import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { runDemo } from '../../examples/demo/demo';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

describe('the demo (npm start)', () => {
  it('serves three services through meshlet, shows a live view, retries a failing instance, applies an EDS update and NACKs a bad cluster', async function () {
    this.timeout(30_000);
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const code = await runDemo({ adminAddress: '127.0.0.1:0', durationMs: 4500, stepMs: 1000, rps: 20, listenerPort: 0, out });
    assert.equal(code, 0, text);
    assert.match(text, /config snapshot v1/);
    assert.match(text, /demo_outbound_http on 127\.0\.0\.1:0: HTTP, routes from RDS "demo_routes"/);
    assert.match(text, /reviews EDS least_request: (127\.0\.0\.1:\d+, ){2}127\.0\.0\.1:\d+\n/);
    assert.match(text, /traffic through meshlet/);
    assert.match(text, /reviews-2 .* \(failing: 503s, retried by meshlet\)/);
    assert.match(text, /config snapshot v\d+[\s\S]*reviews EDS least_request: (127\.0\.0\.1:\d+, ){3}127\.0\.0\.1:\d+/, 'the EDS-only update adds reviews-4');
    assert.match(text, /last NACK sent .*cluster 'broken': connect_timeout/);
    assert.doesNotMatch(text, /broken STATIC/, 'the rejected cluster never enters the config');
    const totals = /client saw (\d+) answers, (\d+) errors/.exec(text);
    assert.ok(totals !== null, text);
    assert.ok(Number(totals[1]) > 50, `traffic flowed:\n${text}`);
    assert.equal(Number(totals[2]), 0, `the failing instance was hidden by retries:\n${text}`);
  });

  it('runs from the CLI with --duration and exits 0; a bad --duration exits 2', async function () {
    this.timeout(20_000);
    const bin = path.join(repoRoot, 'sidecar', 'bin', 'meshlet.js');
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [bin, ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr });
        });
      });
    const ok = await run(['demo', '--duration', '1', '--admin', '127.0.0.1:0', '--listener-port', '0']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /config snapshot v1/);
    const bad = await run(['demo', '--duration', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--duration must be a positive number/);
  });
});
