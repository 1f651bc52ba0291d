// `npm start` runs `meshlet demo`: the reference control plane and a sidecar on loopback. A newcomer's first look.

import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { runDemo } from '../../examples/demo/demo';

const repoRoot = path.resolve(__dirname, '..', '..', '..');

describe('the demo (npm start)', () => {
  it('prints the received config, an EDS-only update and the NACK of a bad cluster, then stops cleanly', async function () {
    this.timeout(20_000);
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const code = await runDemo({ adminAddress: '127.0.0.1:0', durationMs: 3000, stepMs: 300, out });
    assert.equal(code, 0, text);
    assert.match(text, /config snapshot v1/);
    assert.match(text, /demo_outbound_http on 127\.0\.0\.1:10000: HTTP, routes from RDS "demo_routes"/);
    assert.match(text, /reviews EDS least_request: 127\.0\.0\.1:19001, 127\.0\.0\.1:19002, 127\.0\.0\.1:19003 w=2/);
    assert.match(text, /ready: GET \/ready now answers 200/);
    assert.match(text, /config snapshot v2[\s\S]*127\.0\.0\.1:19004/, 'the EDS-only update shows as a new snapshot');
    assert.match(text, /last NACK sent .*cluster 'broken': connect_timeout/);
    assert.doesNotMatch(text, /broken EDS|broken STATIC/, 'the rejected cluster never enters the config');
    assert.match(text, /stopping/);
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
    const ok = await run(['demo', '--duration', '1', '--admin', '127.0.0.1:0']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /config snapshot v1/);
    const bad = await run(['demo', '--duration', 'soon']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--duration must be a positive number/);
  });
});
