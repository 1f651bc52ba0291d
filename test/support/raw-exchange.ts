// A raw-socket HTTP/1.1 client for tests that need to see bytes and connection closes exactly.

import * as net from 'node:net';

/**
 * One request on a raw socket; resolves with everything received until the server closed (or `waitMs` passed).
 * `connect` opens another kind of socket (a TLS one); writes are timed from its 'connect' event.
 */
export function rawExchange(port: number, writes: Array<{ data: string; afterMs: number }>, waitMs: number, until?: RegExp, connect?: () => net.Socket): Promise<{ data: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect !== undefined ? connect() : net.connect(port, '127.0.0.1');
    let data = '';
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ data, closedByServer });
    };
    const timer = setTimeout(() => finish(false), waitMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      if (until !== undefined && until.test(data)) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('connect', () => {
      for (const w of writes) setTimeout(() => socket.write(w.data), w.afterMs);
    });
  });
}

