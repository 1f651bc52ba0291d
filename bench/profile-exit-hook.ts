// Preloaded (node -r) into a profiled meshlet by proxy.bench.ts: SIGUSR2 exits the process at once, so
// `--cpu-prof` writes its profile even when a graceful stop would wait on open connections.

process.on('SIGUSR2', () => process.exit(0));
