// One h2c connection a health-check session reuses (HTTP/2 HTTP checks and gRPC checks), opened on demand.

import type * as http2 from 'node:http2';
import * as net from 'node:net';
import type { ProbeTarget } from './health-probe';

/**
 * A lazily opened plaintext HTTP/2 session to one host. `stream()` opens the session if needed and starts one
 * stream; with `reuse` false (`reuse_connection: false`) `release()` closes the session after each check.
 * The session is unref'd: health checks never keep the process alive.
 */
export class H2Connection {
  private session: http2.ClientHttp2Session | null = null;

  constructor(
    private readonly target: ProbeTarget,
    private readonly reuse: boolean,
  ) {}

  stream(headers: http2.OutgoingHttpHeaders, body: Buffer | null): http2.ClientHttp2Stream {
    let session = this.session;
    if (session === null || session.closed || session.destroyed) {
      const host = net.isIPv6(this.target.address) ? `[${this.target.address}]` : this.target.address;
      // node:http2 loads with the first gRPC health check, not at start (issue 3, RSS).
      session = (require('node:http2') as typeof http2).connect(`http://${host}:${this.target.port}`);
      session.on('error', () => undefined); // the stream reports the failure
      session.unref();
      this.session = session;
    }
    const stream = session.request(headers, { endStream: body === null });
    if (body !== null) stream.end(body);
    return stream;
  }

  /** After a check: keep the session for the next one, or close it. */
  release(): void {
    if (!this.reuse) this.close();
  }

  /** After a failed check (reset, timeout): the session is not trusted any more. */
  close(): void {
    this.session?.destroy();
    this.session = null;
  }
}
