// The diagnostic logger: pino JSON on stderr (stdout stays free for command output), level changeable at run time.

import pino from 'pino';

/** The logging surface every part of meshlet takes (pino-compatible, so tests can pass a silent one). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  level: string;
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

/** A pino logger writing JSON lines to stderr. `MESHLET_LOG_LEVEL` sets the default level. */
export function createLogger(options: { level?: LogLevel; name?: string } = {}): Logger {
  const level = options.level ?? ((process.env['MESHLET_LOG_LEVEL'] as LogLevel | undefined) ?? 'info');
  return pino({ name: options.name ?? 'meshlet', level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything (tests, `validate`). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
