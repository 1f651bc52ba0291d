// Applies (or prints, `--dry-run`) the capture rules with iptables-restore / ip6tables-restore of the chosen backend.

import { spawnSync } from 'node:child_process';
import { iptablesRestoreInput, type IptablesOptions } from './iptables-rules';

export interface IptablesRunResult {
  readonly ok: boolean;
  /** What was (or would be) fed to each binary, `# <binary>` headed; what `--dry-run` prints. */
  readonly script: string;
  /** The failing binary's message, when !ok. */
  readonly error?: string;
}

/** The restore binaries for a backend (Debian's alternatives: iptables-nft-restore, iptables-legacy-restore). */
export function restoreBinaries(mode: IptablesOptions['mode']): { readonly v4: string; readonly v6: string } {
  return { v4: `iptables-${mode}-restore`, v6: `ip6tables-${mode}-restore` };
}

/**
 * Feeds the rules to iptables-restore `--noflush` (IPv4, then IPv6 unless disabled), stopping at the first failure.
 * Runs in the current network namespace: the init container's, i.e. the pod's. Dry run: nothing is executed.
 */
export function runIptables(options: IptablesOptions, dryRun: boolean): IptablesRunResult {
  const binaries = restoreBinaries(options.mode);
  const steps: Array<[string, string]> = [[binaries.v4, iptablesRestoreInput(options, 4)]];
  if (options.ipv6) steps.push([binaries.v6, iptablesRestoreInput(options, 6)]);
  const script = steps.map(([binary, input]) => `# ${binary} --noflush\n${input}`).join('');
  if (dryRun) return { ok: true, script };
  for (const [binary, input] of steps) {
    // Only the legacy backend has the xtables lock to wait for.
    const run = spawnSync(binary, options.mode === 'legacy' ? ['--noflush', '--wait'] : ['--noflush'], { input, encoding: 'utf8' });
    if (run.error !== undefined || run.status !== 0) {
      const why = run.error !== undefined ? run.error.message : (run.stderr || run.stdout || `exit ${run.status}`).trim();
      return { ok: false, script, error: `${binary} failed: ${why}` };
    }
  }
  return { ok: true, script };
}
