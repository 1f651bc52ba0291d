// The access log as an exchange observer: one flat JSON line per finished request through an async pino
// destination (buffered, bounded, never blocking the request path); off unless configured.

import pino from 'pino';
import type { ExchangeOutcome, ExchangeView } from './exchange-view';

/** Where access lines go: `stdout` or a file path (appended). */
export interface AccessLogOptions {
  readonly destination: 'stdout' | string;
  /** Gives the trace and span ids of a sampled exchange (from the tracing observer), if tracing is on. */
  readonly traceIds?: (exchange: object) => { readonly traceId: string; readonly spanId: string } | undefined;
  /** Flush period for a quiet proxy (default 1000 ms). */
  readonly flushIntervalMs?: number;
}

/**
 * The fields of one access line (allow-listed, flat). Envoy's default format carries the same facts:
 * `%START_TIME% "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
 * %DURATION% %UPSTREAM_HOST% "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"` plus cluster, route, attempts and trace ids.
 */
export interface AccessLogLine {
  /** Epoch ms of the request start. */
  readonly start_ms: number;
  readonly listener: string;
  readonly method: string;
  readonly authority: string;
  /** Path without the query string, at most 256 characters (Envoy `max_path_tag_length`). */
  readonly path: string;
  readonly proto: 'HTTP/1.1' | 'HTTP/2';
  readonly grpc: boolean;
  /** 0 when the client went away first. */
  readonly status: number;
  /** Envoy response flag, `-` when none. */
  readonly flags: string;
  readonly dur_ms: number;
  readonly attempts: number;
  readonly route: string | null;
  readonly upstream_cluster: string | null;
  readonly upstream_host: string | null;
  readonly downstream_remote: string;
  readonly request_id: string | null;
  readonly trace_id: string | null;
  readonly span_id: string | null;
}

const MAX_PATH = 256;

/**
 * pino with `destination({ sync: false, minLength: 4096, maxLength: 16 MiB, periodicFlush })` (specs §4.3):
 * about 5 µs of event-loop time per line; lines beyond the 16 MiB buffer are dropped and counted, never queued
 * without bound. No child loggers, no redaction (no header values are logged).
 */
export class AccessLog {
  private readonly destination: pino.DestinationStream & { flushSync(): void; end(): void; on(event: string, cb: (...args: unknown[]) => void): void; once(event: string, cb: () => void): void };
  private readonly logger: pino.Logger;
  private ready: Promise<void>;
  /** Lines written (handed to the destination). */
  lines = 0;
  /** Lines dropped because the buffer was full (a slow disk or stdout). */
  dropped = 0;

  constructor(private readonly options: AccessLogOptions) {
    const dest = options.destination === 'stdout' ? 1 : options.destination;
    this.destination = pino.destination({ dest, sync: false, minLength: 4096, maxLength: 16 * 1024 * 1024, periodicFlush: options.flushIntervalMs ?? 1000, mkdir: true }) as unknown as AccessLog['destination'];
    this.ready = typeof dest === 'number' ? Promise.resolve() : new Promise((resolve) => this.destination.once('ready', resolve));
    this.destination.on('drop', () => {
      this.dropped += 1;
    });
    this.logger = pino({ base: null, messageKey: 'msg', level: 'info' }, this.destination);
  }

  exchangeEnded(exchange: ExchangeView, outcome: ExchangeOutcome): void {
    const q = exchange.path.indexOf('?');
    const path = q < 0 ? exchange.path : exchange.path.slice(0, q);
    const requestId = exchange.requestHeaders['x-request-id'];
    const ids = this.options.traceIds?.(exchange);
    const line: AccessLogLine = {
      start_ms: exchange.startedAtMs,
      listener: exchange.listenerName,
      method: exchange.method,
      authority: exchange.authority,
      path: path.length > MAX_PATH ? path.slice(0, MAX_PATH) : path,
      proto: exchange.protocol === 'http2' ? 'HTTP/2' : 'HTTP/1.1',
      grpc: exchange.isGrpc,
      status: outcome.status,
      flags: outcome.flag ?? '-',
      dur_ms: Math.round(outcome.durationMs * 1000) / 1000,
      attempts: outcome.attempts,
      route: exchange.routeName ?? null,
      upstream_cluster: exchange.clusterName ?? null,
      upstream_host: outcome.host?.key ?? null,
      downstream_remote: exchange.downstreamRemoteAddress,
      request_id: (Array.isArray(requestId) ? requestId[0] : requestId) ?? null,
      trace_id: ids?.traceId ?? null,
      span_id: ids?.spanId ?? null,
    };
    this.logger.info(line);
    this.lines += 1;
  }

  /** Writes out what is buffered (tests, shutdown). */
  async flush(): Promise<void> {
    await this.ready;
    this.destination.flushSync();
  }

  async close(): Promise<void> {
    await this.flush();
    this.destination.end();
  }
}
