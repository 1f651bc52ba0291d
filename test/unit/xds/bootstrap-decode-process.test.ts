// `meshlet run` decodes its bootstrap in a child process so the sidecar never loads the proto schema: the answer
// must be exactly what decoding in process gives, for good files, bad files and missing files alike.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadBootstrap } from '../../../sidecar/src/xds/bootstrap-loader';
import { loadBootstrapOutOfProcess } from '../../../sidecar/src/xds/bootstrap-decode-process';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');
const corpusDir = path.resolve(repoRoot, '..', 'shared', 'corpus');

describe('loadBootstrapOutOfProcess', function () {
  this.timeout(60_000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-decode-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('gives the same config as decoding in process, for every corpus bootstrap it can decode, and the same errors for the others', async () => {
    const files = fs
      .readdirSync(corpusDir, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .map((f) => path.join(corpusDir, f))
      .sort()
      .slice(0, 16);
    assert.ok(files.length >= 8, `corpus files under ${corpusDir}`);
    let decoded = 0;
    for (const file of files) {
      const flags = { bootstrapPath: file };
      const inProcess = loadBootstrap(flags, { version: '9.9.9' });
      const outOfProcess = await loadBootstrapOutOfProcess(flags, { version: '9.9.9' });
      assert.deepStrictEqual(outOfProcess, inProcess, file);
      if (inProcess.ok) decoded += 1;
    }
    assert.ok(decoded >= 3, `${decoded} corpus bootstraps decoded`);
  });

  it('lists every problem of a bad file and names a missing one, as in process', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ node: { id: 'x' }, static_resources: { clusters: [{ name: 'c', connect_timeout: '-1s' }, { name: 'c' }] } }));
    for (const flags of [{ bootstrapPath: bad }, { bootstrapPath: path.join(dir, 'missing.yaml') }]) {
      const outOfProcess = await loadBootstrapOutOfProcess(flags);
      assert.equal(outOfProcess.ok, false);
      assert.deepStrictEqual(outOfProcess, loadBootstrap(flags));
    }
  });

  it('decodes in process when an xDS server is named (the schema is needed for ADS anyway)', async () => {
    const flags = { xdsAddress: '127.0.0.1:18000', nodeId: 'n1' };
    assert.deepStrictEqual(await loadBootstrapOutOfProcess(flags), loadBootstrap(flags));
  });
});
