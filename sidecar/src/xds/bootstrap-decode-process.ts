// Decodes the bootstrap in a short-lived child process (issue 3, peak RSS). Decoding needs the Envoy proto schema:
// protobufjs reflection over ~600 vendored types, whose loading lifts a process's peak RSS by ~28 MB. A sidecar
// without an xDS server needs the schema for nothing else, so the child loads it, decodes and validates the file,
// hands back the plain result (structured clone over the IPC channel) and exits; the sidecar process never loads
// protobufjs. With an xDS server the schema is needed for every ADS response anyway, so it decodes in process.

import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { BootstrapConfig, BootstrapFlags } from '../config/bootstrap-config';
import type { Validation } from '../core/validation';
import { BOOTSTRAP_ENV } from '../config/bootstrap-config';

const bootstrapLoaderModule = (): typeof import('./bootstrap-loader') => require('./bootstrap-loader') as typeof import('./bootstrap-loader');

/** What the parent sends the child: the flags and the loader options that survive a structured clone. */
export interface BootstrapDecodeRequest {
  readonly flags: BootstrapFlags;
  readonly version?: string;
}

/** The child's entry (bootstrap-decode-child.js), next to this file in src/ and dist/. */
const CHILD_ENTRY = path.join(__dirname, 'bootstrap-decode-child.js');

/**
 * `loadBootstrap(flags)`, in a child process when no xDS server is named by flag or env var; in process otherwise,
 * or when the child cannot be started or dies without an answer (the result is the same either way).
 */
export async function loadBootstrapOutOfProcess(flags: BootstrapFlags, options: { readonly version?: string } = {}): Promise<Validation<BootstrapConfig>> {
  const inProcess = (): Validation<BootstrapConfig> => bootstrapLoaderModule().loadBootstrap(flags, options);
  if (process.env['TMP_INPROC'] === '1' || flags.xdsAddress !== undefined || process.env[BOOTSTRAP_ENV.xdsAddress] !== undefined) return inProcess();
  const answer = await decodeInChild({ flags, ...(options.version === undefined ? {} : { version: options.version }) });
  return answer ?? inProcess();
}

/** The child's answer, or undefined when it could not be started or exited without one. */
function decodeInChild(request: BootstrapDecodeRequest): Promise<Validation<BootstrapConfig> | undefined> {
  return new Promise((resolve) => {
    let answer: Validation<BootstrapConfig> | undefined;
    let child;
    try {
      // No inherited node flags: the child needs none of the sidecar's heap settings (or a preload of the parent's).
      child = fork(CHILD_ENTRY, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    } catch {
      resolve(undefined);
      return;
    }
    child.once('message', (message) => {
      answer = message as Validation<BootstrapConfig>;
    });
    child.once('error', () => resolve(undefined));
    child.once('exit', () => resolve(answer));
    child.send(request);
  });
}
