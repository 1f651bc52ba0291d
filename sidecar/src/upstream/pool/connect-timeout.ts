// Arms the cluster connect timeout on a new upstream socket: TCP connect plus TLS handshake, then it is disarmed.

import type * as net from 'node:net';
import type { Clock, TimerHandle } from '../../core/clock';
import { Errors, ProxyError } from '../../core/errors';

const kTimer = Symbol('connectTimer');
type TimedSocket = net.Socket & { [kTimer]?: TimerHandle | undefined };

function disarm(this: TimedSocket): void {
  this[kTimer]?.cancel();
  this[kTimer] = undefined;
}

/**
 * Destroys `socket` with a ProxyError (UF) when it has not connected (`secure`: finished the TLS handshake)
 * within `timeoutMs`. One timer per connection, never per request. Envoy: `connect_timeout` covers TCP and TLS.
 */
export function armConnectTimeout(socket: net.Socket, timeoutMs: number, secure: boolean, clock: Clock, where: string): void {
  const s = socket as TimedSocket;
  if (timeoutMs <= 0) return;
  s[kTimer] = clock.setTimeout(() => {
    s[kTimer] = undefined;
    s.destroy(new ProxyError(Errors.connectFailure, `${where}: connect timeout after ${timeoutMs} ms`));
  }, timeoutMs);
  s.once(secure ? 'secureConnect' : 'connect', disarm);
  s.once('close', disarm);
}
