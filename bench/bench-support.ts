// Helpers every benchmark shares: waiting for ports, checking the tools are installed, writing a section of
// bench/RESULTS.md.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Waits up to 10 s for `port` to open; the error names `what` and where its logs are. */
export async function waitPort(port: number, what: string, logs: string): Promise<void> {
  for (let i = 0; i < 100; i += 1) {
    if (await portOpen(port)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not open port ${port} (see ${logs})`);
}

/** The tools (commands) not on PATH. */
export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** Replaces this benchmark's section (the one whose heading starts with `heading`) in bench/RESULTS.md. */
export function writeResultsSection(repoRoot: string, heading: string, section: string): void {
  const file = path.join(repoRoot, 'bench', 'RESULTS.md');
  const previous = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmark results\n\nWritten by the benchmarks in bench/ (`npm run bench`).\n';
  const escaped = heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const kept = previous.replace(new RegExp(`\\n## ${escaped}[\\s\\S]*?(?=\\n## |$)`), '');
  fs.writeFileSync(file, `${kept.trimEnd()}\n\n${section}\n`);
}
