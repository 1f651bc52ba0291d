// Child process entry of bootstrap-decode-process.ts: decodes one bootstrap, sends the result, exits.

import type { BootstrapDecodeRequest } from './bootstrap-decode-process';
import { loadBootstrap } from './bootstrap-loader';

process.once('message', (message) => {
  const request = message as BootstrapDecodeRequest;
  const result = loadBootstrap(request.flags, request.version === undefined ? {} : { version: request.version });
  process.send?.(result, () => process.disconnect());
});
