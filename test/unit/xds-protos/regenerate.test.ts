import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const repoRoot = path.resolve(__dirname, '..', '..', '..', '..');

function listFiles(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, base));
    else out.push(path.relative(base, full));
  }
  return out.sort();
}

describe('xds-protos/', () => {
  it('is exactly what the generator makes from the pinned @grpc/grpc-js-xds package', function () {
    this.timeout(60_000);
    // The generator runs from the repo root with paths relative to it, so generate inside the repo.
    const scratch = fs.mkdtempSync(path.join(repoRoot, '.tmp-protos-'));
    try {
      execFileSync(process.execPath, [path.join(repoRoot, 'xds-protos', 'scripts', 'generate.js'), '--out', scratch], {
        cwd: repoRoot,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const committedRoot = path.join(repoRoot, 'xds-protos');
      const generated = listFiles(scratch);
      const committed = listFiles(committedRoot).filter((f) => !f.startsWith(`scripts${path.sep}`));
      assert.deepEqual(committed, generated, 'file lists differ: run npm run generate:protos');
      const changed = generated.filter(
        (f) => !fs.readFileSync(path.join(scratch, f)).equals(fs.readFileSync(path.join(committedRoot, f))),
      );
      assert.deepEqual(changed, [], 'regenerating changed these files: run npm run generate:protos and commit');
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('carries the Apache-2.0 licence and a SOURCES.md naming the package, version and integrity', () => {
    const license = fs.readFileSync(path.join(repoRoot, 'xds-protos', 'LICENSE'), 'utf8');
    assert.match(license, /Apache License\s+Version 2\.0/);
    const sources = fs.readFileSync(path.join(repoRoot, 'xds-protos', 'SOURCES.md'), 'utf8');
    assert.match(sources, /@grpc\/grpc-js-xds@1\.14\.1/);
    assert.match(sources, /sha512-F2mVXwEeMWw1znPUrp/);
    assert.match(sources, /envoy-api\/envoy\/config\/cluster\/v3\/cluster\.proto/);
  });
});
