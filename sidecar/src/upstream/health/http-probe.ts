// The HTTP health check (Envoy HttpHealthCheckerImpl): method and path to the host, status against expected and retriable ranges.

import * as http from 'node:http';
import type { HealthCheckerConfig } from '../../config/cluster-config';
import { H2Connection } from './h2-connection';
import { PROBE_NETWORK_FAILURE, PROBE_SUCCESS, type ProbeResult, type ProbeTarget, type SessionProbe } from './health-probe';
import { inStatusRanges } from './status-ranges';

type HttpCheckerConfig = Extract<HealthCheckerConfig, { kind: 'http' }>;

const DEGRADED: ProbeResult = Object.freeze({ kind: 'success', degraded: true });

/**
 * One host's HTTP check. Request: `method` (GET) `path`, Host = `host`, else the endpoint hostname, else the cluster
 * name; `User-Agent: Envoy/HC`; `request_headers_to_add/remove`. Result: a status in `expected_statuses` (default
 * 200 only) is a success (degraded with `x-envoy-degraded`); any other status an ACTIVE failure, retriable when in
 * `retriable_statuses`; a connection error or reset a NETWORK failure. HTTP/1.1 keep-alive (one socket) or one
 * h2c session, reused across checks unless `reuse_connection: false`.
 */
export class HttpProbe implements SessionProbe {
  private readonly agent: http.Agent | false;
  private readonly h2: H2Connection | null;
  /** Ends the check in progress without reporting (set while one runs). */
  private abort: (() => void) | null = null;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly config: HttpCheckerConfig,
    private readonly target: ProbeTarget,
    reuseConnection: boolean,
  ) {
    const headers: Record<string, string> = { 'user-agent': 'Envoy/HC' };
    for (const h of config.requestHeadersToAdd) {
      const key = h.key.toLowerCase();
      const existing = headers[key];
      headers[key] = existing !== undefined && (h.appendAction === 'APPEND_IF_EXISTS_OR_ADD') ? `${existing},${h.value}` : h.value;
    }
    for (const name of config.requestHeadersToRemove) delete headers[name];
    this.headers = headers;
    const authority = config.host !== '' ? config.host : target.defaultAuthority;
    if (config.codec === 'HTTP2') {
      this.h2 = new H2Connection(target, reuseConnection);
      this.agent = false;
      this.headers = { ...headers, ':method': config.method, ':path': config.path, ':authority': authority, ':scheme': 'http' };
    } else {
      this.h2 = null;
      this.agent = reuseConnection ? new http.Agent({ keepAlive: true, maxSockets: 1 }) : false;
      this.headers = { ...headers, host: authority, ...(reuseConnection ? {} : { connection: 'close' }) };
    }
  }

  check(done: (result: ProbeResult) => void): void {
    let finished = false;
    const finish = (result: ProbeResult): void => {
      if (finished) return;
      finished = true;
      this.abort = null;
      if (result.kind === 'failure' && result.type !== 'active') this.h2?.close();
      else this.h2?.release();
      done(result);
    };
    if (this.h2 !== null) {
      const stream = this.h2.stream(this.headers, null);
      this.abort = () => {
        finished = true;
        stream.destroy();
      };
      stream.on('response', (headers) => {
        stream.resume();
        stream.on('end', () => finish(this.classify(Number(headers[':status']), headers['x-envoy-degraded'] !== undefined)));
      });
      stream.on('error', () => finish(PROBE_NETWORK_FAILURE));
      stream.on('close', () => finish(PROBE_NETWORK_FAILURE));
      return;
    }
    const req = http.request({ host: this.target.address, port: this.target.port, method: this.config.method, path: this.config.path, headers: this.headers, agent: this.agent }, (res) => {
      res.resume();
      res.on('end', () => finish(this.classify(res.statusCode ?? 0, res.headers['x-envoy-degraded'] !== undefined)));
      res.on('error', () => finish(PROBE_NETWORK_FAILURE));
    });
    req.on('error', () => finish(PROBE_NETWORK_FAILURE));
    req.end();
    this.abort = () => {
      finished = true;
      req.destroy();
    };
  }

  private classify(status: number, degraded: boolean): ProbeResult {
    if (inStatusRanges(this.config.expectedStatuses, status)) return degraded ? DEGRADED : PROBE_SUCCESS;
    return { kind: 'failure', type: 'active', retriable: inStatusRanges(this.config.retriableStatuses, status) };
  }

  cancel(): void {
    const abort = this.abort;
    this.abort = null;
    if (abort === null) return;
    abort();
    this.h2?.close();
  }

  close(): void {
    this.cancel();
    if (this.agent !== false) this.agent.destroy();
    this.h2?.close();
  }
}
