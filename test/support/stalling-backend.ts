// An HTTP/1.1 backend for timeout tests: responses that stall or trickle.

import * as http from 'node:http';
import type * as net from 'node:net';

/** A backend for timeouts: `/stall` sends headers and a first chunk, then nothing; `/trickle` a chunk every 100 ms. */
export async function startStallingBackend(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    const path = req.url ?? '/';
    if (path.includes('/stall')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      return; // never ends
    }
    if (path.includes('/trickle')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let sent = 0;
      const timer = setInterval(() => {
        res.write(`chunk${sent}\n`);
        if (++sent === 8) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(200, { 'content-length': 2 }).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

