// Process entry: argv -> CLI commands; `run` loads the bootstrap, starts the sidecar and stops it on SIGINT/SIGTERM.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from './cli/cli';
import { EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_OK, type CliActions, type TelemetryFlags } from './cli/command-context';
import type { BootstrapConfig } from './config/bootstrap-config';
import { createLogger } from './observability/logger';
import { resolveTracingOptions } from './observability/tracing-options';
import { loadBootstrapOutOfProcess } from './xds/bootstrap-decode-process';

// Each command's code is loaded when that command runs, not at process start (issue 3, peak RSS): `meshlet run`
// never loads the demo (control plane, grpc-js server), inject/ or the file validator.
const demoModule = (): typeof import('../../examples/demo/demo') => require('../../examples/demo/demo') as typeof import('../../examples/demo/demo');
const injectModule = (): typeof import('./inject/inject-commands') => require('./inject/inject-commands') as typeof import('./inject/inject-commands');
const sidecarModule = (): typeof import('./sidecar') => require('./sidecar') as typeof import('./sidecar');
const validatorModule = (): typeof import('./xds/envoy-file-validator') => require('./xds/envoy-file-validator') as typeof import('./xds/envoy-file-validator');

/** The version in the root package.json (found by walking up from this file, in src/ or dist/). */
function packageVersion(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'meshlet' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here; keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

/**
 * Runs the sidecar until SIGINT/SIGTERM, then drains (/ready 503, listeners stop accepting, in-flight requests
 * finish within the drain timeout) and stops. Start failures are one log line, never a stack trace.
 */
async function startSidecar(bootstrap: BootstrapConfig, options: { readonly drainTimeoutMs: number; readonly telemetry?: TelemetryFlags }): Promise<number> {
  const logger = createLogger();
  // Flags beat the standard OTEL_* variables (OTel SDK environment specification).
  const tracing = resolveTracingOptions(options.telemetry ?? {}, process.env);
  if (typeof tracing === 'string') {
    process.stderr.write(`meshlet run: ${tracing}\n`);
    return EXIT_BAD_INPUT;
  }
  let sidecar;
  try {
    sidecar = await sidecarModule().createSidecar(bootstrap, { logger, tracing, accessLog: options.telemetry?.accessLog ?? null });
  } catch (error) {
    process.stderr.write(`meshlet: cannot start: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_FAILURE;
  }
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  logger.info({ signal, drainTimeoutMs: options.drainTimeoutMs }, 'draining');
  await sidecar.drain(options.drainTimeoutMs);
  logger.info({ signal }, 'stopping');
  await sidecar.stop();
  return EXIT_OK;
}

async function main(): Promise<void> {
  const version = packageVersion();
  const actions: CliActions = {
    version,
    loadBootstrap: (flags) => loadBootstrapOutOfProcess(flags, { version }),
    validateFile: (file) => validatorModule().validateEnvoyFile(file, { version }),
    startSidecar,
    runDemo: (flags) => demoModule().runDemo(flags),
    kubernetes: {
      iptables: (flags, io) => injectModule().iptablesAction(flags, io),
      inject: (flags, io) => injectModule().injectAction(flags, io),
      injector: (flags, io) => injectModule().injectorAction(flags, io),
    },
  };
  process.exitCode = await runCli(process.argv.slice(2), actions);
}

main().catch((error: unknown) => {
  process.stderr.write(`meshlet: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = EXIT_FAILURE;
});
