// The actions behind `meshlet iptables`, `meshlet inject` and `meshlet injector` (main.ts hands them to the CLI).

import * as fs from 'node:fs';
import * as YAML from 'yaml';
import { formatErrors, type Validation } from '../core/validation';
import { parseInjectSettings, type InjectSettings } from './inject-settings';
import { InjectorServer } from './injector-server';
import { parseIptablesFlags, type IptablesFlags } from './iptables-rules';
import { runIptables } from './iptables-runner';
import { injectManifests } from './manifest-injector';

interface Io {
  stdout(text: string): void;
  stderr(text: string): void;
}

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_BAD_INPUT = 2;

/** Injection settings from a YAML/JSON file (the chart's ConfigMap), or the defaults without one. */
export function loadInjectSettings(file: string | undefined): Validation<InjectSettings> {
  if (file === undefined) return parseInjectSettings(undefined);
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    return { ok: false, errors: [{ path: file, message: `cannot read the injection settings: ${(error as Error).message.split('\n')[0]}` }] };
  }
  const parsed = parseInjectSettings(raw);
  return parsed.ok ? parsed : { ok: false, errors: parsed.errors.map((e) => ({ ...e, path: `${file}: ${e.path}` })) };
}

/** `meshlet iptables [--dry-run]`. */
export function iptablesAction(flags: IptablesFlags & { readonly dryRun?: boolean }, io: Io): number {
  const options = parseIptablesFlags(flags);
  if (!options.ok) {
    io.stderr(`meshlet iptables: invalid flags:\n${indent(formatErrors(options.errors))}\n`);
    return EXIT_BAD_INPUT;
  }
  const result = runIptables(options.value, flags.dryRun === true);
  if (flags.dryRun === true) io.stdout(result.script);
  if (!result.ok) {
    io.stderr(`meshlet iptables: ${result.error ?? 'failed'}\nrules:\n${result.script}`);
    return EXIT_FAILURE;
  }
  if (flags.dryRun !== true) io.stderr(`meshlet iptables: capture rules installed\n${result.script}`);
  return EXIT_OK;
}

/** `meshlet inject -f FILE|-`: injected manifests on stdout, a line per workload on stderr. */
export async function injectAction(flags: { readonly file: string; readonly config?: string; readonly namespace?: string }, io: Io): Promise<number> {
  const settings = loadInjectSettings(flags.config);
  if (!settings.ok) {
    io.stderr(`meshlet inject: invalid injection settings:\n${indent(formatErrors(settings.errors))}\n`);
    return EXIT_BAD_INPUT;
  }
  let text: string;
  try {
    text = flags.file === '-' ? await readStdin() : fs.readFileSync(flags.file, 'utf8');
  } catch (error) {
    io.stderr(`meshlet inject: cannot read ${flags.file}: ${(error as Error).message}\n`);
    return EXIT_BAD_INPUT;
  }
  const result = injectManifests(text, { settings: settings.value, ...(flags.namespace === undefined ? {} : { defaultNamespace: flags.namespace }) });
  for (const w of result.warnings) io.stderr(`warning: ${w}\n`);
  if (result.errors.length > 0) {
    io.stderr(`meshlet inject: cannot inject:\n${result.errors.map((e) => `  ${e}`).join('\n')}\n`);
    return EXIT_BAD_INPUT;
  }
  for (const line of result.report) io.stderr(`${line}\n`);
  io.stdout(result.output);
  return EXIT_OK;
}

/** `meshlet injector`: serves until SIGTERM/SIGINT. */
export async function injectorAction(
  flags: { readonly config?: string; readonly tlsCert: string; readonly tlsKey: string; readonly listen?: string; readonly namespace?: string },
  io: Io,
): Promise<number> {
  const settings = loadInjectSettings(flags.config);
  if (!settings.ok) {
    io.stderr(`meshlet injector: invalid injection settings:\n${indent(formatErrors(settings.errors))}\n`);
    return EXIT_BAD_INPUT;
  }
  const listen = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(flags.listen ?? '0.0.0.0:9443');
  if (listen === null) {
    io.stderr(`meshlet injector: --listen must be HOST:PORT, got "${flags.listen}"\n`);
    return EXIT_BAD_INPUT;
  }
  const namespace = flags.namespace ?? process.env['POD_NAMESPACE'];
  const log = (fields: Record<string, unknown>, message: string): void => io.stderr(`${JSON.stringify({ time: new Date().toISOString(), msg: message, ...fields })}\n`);
  let server: InjectorServer;
  try {
    server = await InjectorServer.start({
      settings: settings.value,
      certFile: flags.tlsCert,
      keyFile: flags.tlsKey,
      host: listen[1] ?? listen[2] ?? '0.0.0.0',
      port: Number(listen[3]),
      ...(namespace === undefined || namespace === '' ? {} : { namespace }),
      log,
    });
  } catch (error) {
    io.stderr(`meshlet injector: cannot start: ${(error as Error).message}\n`);
    return EXIT_FAILURE;
  }
  log({ port: server.port, namespace }, 'injector listening (POST /inject)');
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await server.close();
  return EXIT_OK;
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks).toString('utf8'))).on('error', reject);
  });
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}
