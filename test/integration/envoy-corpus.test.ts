import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatErrors } from '../../sidecar/src/core/validation';
import { validateEnvoyFile } from '../../sidecar/src/xds/envoy-file-validator';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const corpus = path.resolve(repoRoot, '..', 'shared', 'corpus', 'envoy-examples');

function* walk(dir: string): Generator<string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (/\.(ya?ml|json)$/.test(entry.name)) yield full;
  }
}

/**
 * Rejections we expect, by file: each listed reason must appear in the errors. Files not listed may be accepted or
 * rejected, but a rejection must always say what is unsupported (the invariants below hold for every file).
 */
const EXPECTED_REJECTIONS: Readonly<Record<string, readonly RegExp[]>> = {
  'dynamic-config-fs/envoy.yaml': [/filesystem config sources are not supported/],
  'dynamic-config-cp/_include/response-config-cluster.json': [/envoy\.api\.v2\.Cluster is an xDS v2 type/],
  'load-reporting-service/envoy.yaml': [/load reporting service \(LRS\) is not supported/],
  'udp/envoy.yaml': [/UDP listeners are not supported/],
  'redis/envoy.yaml': [/redis_proxy/],
  'rbac/envoy.yaml': [/rbac/],
  'ext_authz/config/http-service.yaml': [/ext_authz/],
};

/** Words that make an error message say what is not supported or what is wrong (rather than a bare "invalid"). */
const NAMES_A_FEATURE = /not supported|not implemented|unsupported|unknown field|invalid .+|required|duplicate/i;

describe('Envoy corpus (../shared/corpus/envoy-examples)', function () {
  this.timeout(120_000);
  const files = fs.existsSync(corpus) ? [...walk(corpus)] : [];

  it('finds the corpus', () => {
    assert.ok(files.length >= 70, `expected the 73 corpus files under ${corpus}, found ${files.length}`);
  });

  const summary: string[] = [];
  for (const file of files) {
    const rel = path.relative(corpus, file);
    it(`validates ${rel}: accepted, or rejected with every reason named`, () => {
      let result;
      assert.doesNotThrow(() => { result = validateEnvoyFile(file, { env: {} }); });
      const r = result as unknown as ReturnType<typeof validateEnvoyFile>;
      if (r.ok) {
        summary.push(`accepted  ${rel}: ${r.value.summary}`);
      } else {
        assert.ok(r.errors.length > 0);
        for (const e of r.errors) {
          assert.ok(e.message.length > 0, `empty message at ${e.path}`);
          assert.doesNotMatch(e.message, /^\s+at /m);
        }
        // Follow-on errors ("no filter chains" once the UDP listener's filters are refused) may accompany it, but
        // the rejection must name what meshlet does not support or what is wrong.
        assert.ok(r.errors.some((e) => NAMES_A_FEATURE.test(e.message)), `no error names the problem:\n${formatErrors(r.errors)}`);
        summary.push(`rejected  ${rel}:\n${formatErrors(r.errors).split('\n').map((l) => `            ${l}`).join('\n')}`);
      }
      const expected = EXPECTED_REJECTIONS[rel];
      if (expected !== undefined) {
        assert.ok(!r.ok, `${rel} should be rejected`);
        const text = formatErrors(r.errors);
        for (const reason of expected) assert.match(text, reason);
      }
    });
  }

  it('spawned `meshlet validate` exits 0 or 2 with no stack trace, on a sample of the corpus', () => {
    const bin = path.join(repoRoot, 'sidecar', 'bin', 'meshlet.js');
    const sample = files.filter((_f, i) => i % 8 === 0).concat(files.filter((f) => /dynamic-config|lds\.tmpl|redis/.test(f)));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('MESHLET_') && v !== undefined) env[k] = v;
    const run = spawnSync(process.execPath, [bin, 'validate', ...new Set(sample)], { encoding: 'utf8', env, timeout: 60_000 });
    assert.ok(run.status === 0 || run.status === 2, `exit ${String(run.status)}: ${run.stderr}`);
    assert.doesNotMatch(run.stdout + run.stderr, /^\s+at /m);
    for (const file of new Set(sample)) assert.ok((run.stdout + run.stderr).includes(file), `no report for ${file}`);
  });

  after(() => {
    if (process.env['MESHLET_CORPUS_REPORT'] === '1') process.stdout.write(`\n${summary.join('\n')}\n`);
  });
});
