#!/usr/bin/env node
// Enforces the import rules of ARCHITECTURE.md ("Who may import whom") over sidecar/src, and that
// nothing outside sidecar/src/xds (and tests, examples) imports the generated proto types.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..');
const srcRoot = path.join(repoRoot, 'sidecar', 'src');

/** folder -> folders it may import (besides itself). `*` = anything. */
const ALLOWED = {
  core: [],
  // codec/: wire protocols meshlet speaks itself (HTTP/2 frames, HPACK); used by proxy/ (downstream) and
  // upstream/ (connection pools) alike.
  codec: ['core'],
  config: ['core'],
  observability: ['core'],
  router: ['config', 'core'],
  upstream: ['config', 'core', 'observability', 'codec'],
  xds: ['config', 'core', 'observability', 'xds-protos'],
  // listener/ reads ListenerConfig (config types): the plan's table omitted config here.
  listener: ['config', 'core', 'observability'],
  proxy: ['router', 'upstream', 'config', 'core', 'observability', 'listener', 'codec'],
  admin: ['upstream', 'xds', 'config', 'observability', 'core'],
  inject: ['config', 'core'],
  cli: ['config', 'core'],
  '.': ['*'],
};

function* walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith('.ts')) yield full;
  }
}

function folderOf(file) {
  const rel = path.relative(srcRoot, file);
  if (rel.startsWith('..')) return rel.split(path.sep).includes('xds-protos') ? 'xds-protos' : 'outside';
  const parts = rel.split(path.sep);
  return parts.length === 1 ? '.' : parts[0];
}

const problems = [];
for (const file of walk(srcRoot)) {
  const from = folderOf(file);
  const text = fs.readFileSync(file, 'utf8');
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    const spec = match[1] ?? match[2] ?? match[3];
    if (!spec || !spec.startsWith('.')) continue;
    const target = path.resolve(path.dirname(file), spec);
    const to = folderOf(target);
    if (to === from) continue;
    const allowed = ALLOWED[from] ?? [];
    if (!allowed.includes('*') && !allowed.includes(to)) {
      problems.push(`${path.relative(repoRoot, file)}: ${from}/ may not import ${to}/ (${spec})`);
    }
  }
  if (/from\s+['"][^'"]*\/(main|sidecar)['"]/.test(text) && from !== '.') {
    problems.push(`${path.relative(repoRoot, file)}: nothing may import main.ts or sidecar.ts`);
  }
}

if (problems.length > 0) {
  process.stderr.write(`import rules (ARCHITECTURE.md) broken:\n${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('import rules: ok\n');
