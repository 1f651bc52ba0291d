#!/usr/bin/env node
// Runs every compiled test (dist/test/**/*.test.js) with mocha and ends with the line CI reads:
// "N passed, N failed". Exit code 1 when anything failed. Extra arguments are file filters
// (substrings of the test path), e.g. `node test/run-tests.js ads-client`.
'use strict';

const path = require('node:path');
const fs = require('node:fs');
const mochaModule = require('mocha');
const Mocha = mochaModule.default ?? mochaModule;

const distTests = path.resolve(__dirname, '..', 'dist', 'test');
const filters = process.argv.slice(2);

function* walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.name.endsWith('.test.js')) yield full;
  }
}

const files = fs.existsSync(distTests) ? [...walk(distTests)].sort() : [];
const selected = filters.length === 0 ? files : files.filter((f) => filters.some((x) => f.includes(x)));
const mocha = new Mocha({ reporter: 'spec', timeout: 20000, color: process.stdout.isTTY === true });
for (const file of selected) mocha.addFile(file);

let passed = 0;
let failed = 0;
let skipped = 0;
async function main() {
  await mocha.loadFilesAsync();
  mocha.run((failures) => {
  process.stdout.write(`\n${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`);
  process.exitCode = failures > 0 || failed > 0 || selected.length === 0 ? 1 : 0;
  // Background handles (sockets, timers) left by a test must not hold the run open.
  setTimeout(() => process.exit(process.exitCode), 500).unref();
})
  .on('pass', () => { passed += 1; })
  .on('fail', () => { failed += 1; })
  .on('pending', () => { skipped += 1; });
}

main().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.stdout.write(`\n${passed} passed, ${failed + 1} failed\n`);
  process.exit(1);
});
