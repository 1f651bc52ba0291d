// What every command shares: the injected actions, the output streams, exit codes and problem printing.

import type { BootstrapConfig, BootstrapFlags } from '../config/bootstrap-config';
import { formatErrors, type FieldError, type Validation } from '../core/validation';
import type { KubernetesActions } from './kubernetes-actions';

/** Exit codes: 0 success, 1 runtime failure, 2 bad input (bootstrap, file, flags). */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_BAD_INPUT = 2;

/** Where the CLI writes; tests capture it. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/**
 * What the commands do, injected by main.ts (cli/ sees only config types and core). Each returns its outcome as a
 * value; none should throw for bad input.
 */
/** `meshlet run` flags for tracing and the access log, resolved with the OTEL_* env vars by the process entry. */
export interface TelemetryFlags {
  readonly otlpEndpoint?: string;
  readonly otlpProtocol?: string;
  readonly traceSampling?: string;
  readonly serviceName?: string;
  /** `stdout` or a file path. */
  readonly accessLog?: string;
}

export interface CliActions {
  readonly version: string;
  /** Bootstrap file (optional) + flags + env vars -> validated bootstrap, every problem listed. */
  loadBootstrap(flags: BootstrapFlags): Validation<BootstrapConfig> | Promise<Validation<BootstrapConfig>>;
  /** Checks any Envoy file (bootstrap, xDS resource file, config dump) without starting anything. */
  validateFile(file: string): Validation<{ readonly summary: string }>;
  /** Starts the sidecar and resolves with the exit code once it has stopped (signal, fatal error). */
  startSidecar(bootstrap: BootstrapConfig, options: { readonly drainTimeoutMs: number; readonly telemetry?: TelemetryFlags }): Promise<number>;
  /** `meshlet demo` (what `npm start` runs): resolves with the exit code. */
  runDemo(options: DemoFlags): Promise<number>;
  /** `meshlet iptables`, `inject`, `injector` (inject/); optional so test doubles need not provide them. */
  readonly kubernetes?: KubernetesActions;
}

/** `meshlet demo` flags. */
export interface DemoFlags {
  /** `--admin HOST:PORT`; default 127.0.0.1:15000 (a free port when taken). */
  readonly adminAddress?: string;
  /** `--duration SECONDS`: stop by itself (CI, scripts); default: until Ctrl-C. */
  readonly durationMs?: number;
  /** `--listener-port PORT`: meshlet's demo listener on 127.0.0.1; default 10000, 0 = any free port. */
  readonly listenerPort?: number;
}

/** Shared by the commands: sets the process outcome. */
export interface CommandContext {
  readonly actions: CliActions;
  readonly io: CliIo;
  setExitCode(code: number): void;
}

export const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/** Prints a list of problems, one `path: message` per line, indented under a heading. */
export function printProblems(io: CliIo, heading: string, errors: readonly FieldError[]): void {
  const lines = formatErrors(errors).split('\n').map((line) => `  ${line}`);
  io.stderr(`${heading}\n${lines.join('\n')}\n`);
}

export function printWarnings(io: CliIo, warnings: readonly FieldError[] | undefined): void {
  if (warnings === undefined || warnings.length === 0) return;
  io.stdout(`${formatErrors(warnings).split('\n').map((line) => `warning: ${line}`).join('\n')}\n`);
}

