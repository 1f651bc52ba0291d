// The TCP health check (Envoy TcpHealthCheckerImpl): connect, optionally send bytes and find the expected reply blocks.

import * as net from 'node:net';
import type { HealthCheckerConfig } from '../../config/cluster-config';
import { PROBE_NETWORK_FAILURE, PROBE_SUCCESS, type ProbeResult, type ProbeTarget, type SessionProbe } from './health-probe';

type TcpCheckerConfig = Extract<HealthCheckerConfig, { kind: 'tcp' }>;

/**
 * Envoy `TcpHealthCheckMatcher::match`: every `receive` block found in the buffer in order, each after the end of
 * the previous one ("fuzzy": other bytes may sit between them).
 */
export function receivedInOrder(buffer: Buffer, blocks: readonly Uint8Array[]): boolean {
  let from = 0;
  for (const block of blocks) {
    const at = buffer.indexOf(block, from);
    if (at < 0) return false;
    from = at + block.length;
  }
  return true;
}

/**
 * One host's TCP check: a connect alone is a success when `send` is empty; otherwise `send` is written and the
 * check succeeds once every `receive` block has arrived. A reply that never matches is left to the checker's
 * timeout (NETWORK_TIMEOUT); a refused or closed connection is a NETWORK failure. Each check uses a fresh
 * connection, closed after the check.
 */
export class TcpProbe implements SessionProbe {
  private socket: net.Socket | null = null;

  constructor(
    private readonly config: TcpCheckerConfig,
    private readonly target: ProbeTarget,
  ) {}

  check(done: (result: ProbeResult) => void): void {
    const send = this.config.send;
    const receive = this.config.receive;
    let finished = false;
    let received = Buffer.alloc(0);
    const socket = net.connect({ host: this.target.address, port: this.target.port });
    this.socket = socket;
    const finish = (result: ProbeResult): void => {
      if (finished) return;
      finished = true;
      this.socket = null;
      socket.destroy();
      done(result);
    };
    socket.on('connect', () => {
      if (send === null || send.length === 0) {
        if (receive.length === 0) finish(PROBE_SUCCESS);
        return;
      }
      socket.write(send);
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (receivedInOrder(received, receive)) finish(PROBE_SUCCESS);
    });
    socket.on('error', () => finish(PROBE_NETWORK_FAILURE));
    socket.on('close', () => finish(PROBE_NETWORK_FAILURE));
  }

  cancel(): void {
    const socket = this.socket;
    this.socket = null;
    if (socket === null) return;
    socket.removeAllListeners();
    socket.on('error', () => undefined);
    socket.destroy();
  }

  close(): void {
    this.cancel();
  }
}
