// CLI of the reference control plane: serves a resources file over ADS, reloads it on change, logs every request
// (ACK/NACK) and every response.
//
//   node dist/examples/control-plane/main.js FILE [--port 18000] [--host 127.0.0.1]

import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { ControlPlaneServer, ResourceFileError } from './control-plane-server';

const USAGE = `usage: npm run control-plane -- FILE [--port 18000] [--host 127.0.0.1]

Serves the Listeners, RouteConfigurations, Clusters and ClusterLoadAssignments in FILE (YAML or JSON,
Envoy's DiscoveryResponse format: resources: [{"@type": ..., ...}]) over ADS (SotW and delta), reloading
FILE when it changes. An invalid edit is logged and the previous resources keep being served.
`;

/** How often the resources file is polled; polling also survives editors that save by rename. */
const WATCH_INTERVAL_MS = 300;

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`);
}

function reportFileError(error: unknown): void {
  if (error instanceof ResourceFileError) {
    log(`${error.path}: not loaded, ${error.errors.length} error(s):`);
    for (const e of error.errors) log(`  ${e.path === '' ? '' : `${e.path}: `}${e.message}`);
  } else {
    log(`cannot load resources: ${error instanceof Error ? error.message : String(error)}`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { port: { type: 'string', default: '18000' }, host: { type: 'string', default: '127.0.0.1' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const file = positionals[0];
  const port = Number(values.port);
  if (file === undefined || positionals.length > 1 || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(USAGE);
    return 2;
  }

  const server = await ControlPlaneServer.start({ host: values.host, port, log });
  try {
    server.loadFile(file);
  } catch (error) {
    reportFileError(error);
    await server.stop();
    return 2;
  }
  log(`serving ${file} over ADS on ${server.address} (e.g. meshlet run --xds ${server.address} --node-id test-id)`);

  let reloadTimer: NodeJS.Timeout | undefined;
  const onChange = (current: fs.Stats, previous: fs.Stats): void => {
    if (current.mtimeMs === previous.mtimeMs && current.size === previous.size) return;
    clearTimeout(reloadTimer);
    // Editors write in several steps; load once the file has settled.
    reloadTimer = setTimeout(() => {
      log(`${file} changed, reloading`);
      try {
        server.loadFile(file);
      } catch (error) {
        reportFileError(error);
        log('still serving the previous resources');
      }
    }, 50);
  };
  fs.watchFile(file, { interval: WATCH_INTERVAL_MS }, onChange);

  return new Promise<number>((resolve) => {
    const shutdown = (signal: string): void => {
      log(`${signal}: stopping`);
      fs.unwatchFile(file, onChange);
      clearTimeout(reloadTimer);
      void server.stop().then(() => resolve(0));
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
