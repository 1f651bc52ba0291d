// Network-namespace helpers for the transparent-mode tests: whether namespaces and iptables can be used here,
// running commands, and running Node scripts inside a namespace.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Why network namespaces (with the given tools and the iptables nat table) cannot be used here; undefined when they can. */
export function whyNoNamespaces(tools: readonly string[] = ['ip', 'iptables', 'ip6tables', 'setpriv']): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return 'not root (ip netns and iptables need CAP_NET_ADMIN)';
  for (const tool of tools) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `no \`${tool}\` on PATH`;
  }
  const probe = `mlprobe${process.pid}${Math.floor(Math.random() * 1e4)}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  const nat = spawnSync('ip', ['netns', 'exec', probe, 'iptables', '-t', 'nat', '-L', '-n'], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', probe]);
  if (nat.status !== 0) return `iptables nat table unavailable in a namespace: ${nat.stderr.trim()}`;
  return undefined;
}

/** Runs a command, returns its stdout; throws with its stderr on failure. */
export function sh(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs a small Node script in a namespace as root (the "app"), returns its stdout. */
export function inNs(ns: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`app exited ${code}: ${err}`))));
  });
}

/**
 * The proxy child runs as another UID (1337) from this checkout. A checkout inside a private directory (`mktemp -d`
 * makes 0700 ones) is unreadable to that UID, so the folders above it get o+x (traverse only) for the test;
 * the returned function puts their modes back.
 */
export function letUidTraverseTo(target: string): () => void {
  const changed: Array<[string, number]> = [];
  let dir = path.dirname(path.resolve(target));
  for (;;) {
    const mode = fs.statSync(dir).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      fs.chmodSync(dir, mode | 0o001);
      changed.push([dir, mode]);
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return () => {
    for (const [d, mode] of changed.reverse()) fs.chmodSync(d, mode);
  };
}
