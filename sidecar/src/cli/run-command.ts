// `meshlet run`: load the bootstrap (file, env vars, flags), list every problem or start the sidecar.

import { Command } from 'commander';
import { BOOTSTRAP_ENV, type BootstrapFlags } from '../config/bootstrap-config';
import { EXIT_BAD_INPUT, printProblems, printWarnings, type CommandContext, type TelemetryFlags } from './command-context';

interface RunOptions {
  readonly bootstrap?: string;
  readonly xds?: string;
  readonly nodeId?: string;
  readonly nodeCluster?: string;
  readonly admin?: string;
  readonly healthAddress?: string;
  readonly xdsDelta?: boolean;
  readonly drainTimeout?: string;
  readonly otlpEndpoint?: string;
  readonly otlpProtocol?: string;
  readonly traceSampling?: string;
  readonly serviceName?: string;
  readonly accessLog?: string;
  readonly xdsCa?: string;
  readonly xdsServerName?: string;
  readonly xdsToken?: string;
  readonly xdsTokenAudience?: string;
}

/** Default time SIGTERM leaves in-flight requests to finish (Istio's terminationDrainDuration is 5 s). */
export const DEFAULT_DRAIN_TIMEOUT_S = 5;

export function runCommand(context: CommandContext): Command {
  return new Command('run')
    .description('run the sidecar from an Envoy v3 bootstrap file and/or flags (flags beat env vars, which beat the file)')
    .option('-b, --bootstrap <file>', 'Envoy v3 bootstrap, YAML or JSON (not needed with --xds and --node-id)')
    .option('--xds <host:port>', `ADS server address (env ${BOOTSTRAP_ENV.xdsAddress})`)
    .option('--node-id <id>', `node.id sent to the xDS server (env ${BOOTSTRAP_ENV.nodeId})`)
    .option('--node-cluster <name>', `node.cluster sent to the xDS server (env ${BOOTSTRAP_ENV.nodeCluster})`)
    .option('--admin <host:port>', `admin server address, default 127.0.0.1:15000 (env ${BOOTSTRAP_ENV.adminAddress})`)
    .option('--health-address <host:port>', `read-only health and metrics server (GET /ready, /live, /healthz/ready, /metrics) for probes and scrapes on the pod IP, off by default (env ${BOOTSTRAP_ENV.healthAddress})`)
    .option('--xds-delta', `use delta xDS, DeltaAggregatedResources (env ${BOOTSTRAP_ENV.xdsDelta}=1)`)
    .option('--xds-ca <file>', `TLS to the xDS server, trusting this CA bundle (istiod: root-cert.pem) (env ${BOOTSTRAP_ENV.xdsCa})`)
    .option('--xds-server-name <name>', `name the xDS server certificate must carry; default the --xds host (env ${BOOTSTRAP_ENV.xdsServerName})`)
    .option('--xds-token <file>', `bearer token file sent on every stream, re-read on reconnect (projected SA token) (env ${BOOTSTRAP_ENV.xdsToken})`)
    .option('--xds-token-audience <aud>', `audience the token must have, istio-ca for istiod (env ${BOOTSTRAP_ENV.xdsTokenAudience})`)
    .option('--otlp-endpoint <url>', 'export traces over OTLP: gRPC http://host:4317 or HTTP/protobuf http://host:4318 (env OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); tracing is off without it')
    .option('--otlp-protocol <grpc|http/protobuf>', 'OTLP transport (env OTEL_EXPORTER_OTLP_PROTOCOL); default grpc, http/protobuf for port 4318')
    .option('--trace-sampling <ratio>', 'share of requests without a trace context that start a trace: 0.01 or 1% (env OTEL_TRACES_SAMPLER_ARG; default 1%); an incoming sampled flag is always honoured')
    .option('--service-name <name>', 'resource service.name of the spans (env OTEL_SERVICE_NAME; default meshlet)')
    .option('--access-log <file|stdout>', 'write a JSON access log line per request (off by default)')
    .option('--drain-timeout <seconds>', `on SIGTERM, how long in-flight requests may take to finish (default ${DEFAULT_DRAIN_TIMEOUT_S})`)
    .action(async (options: RunOptions) => {
      const drainSeconds = options.drainTimeout === undefined ? DEFAULT_DRAIN_TIMEOUT_S : Number(options.drainTimeout);
      if (!Number.isFinite(drainSeconds) || drainSeconds < 0) {
        context.io.stderr(`meshlet run: --drain-timeout must be a number of seconds >= 0, got "${options.drainTimeout}"\n`);
        context.setExitCode(EXIT_BAD_INPUT);
        return;
      }
      // Env vars are applied by the loader, so `run` and `validate` see the same precedence.
      const flags: { -readonly [K in keyof BootstrapFlags]: BootstrapFlags[K] } = {};
      if (options.bootstrap !== undefined) flags.bootstrapPath = options.bootstrap;
      if (options.xds !== undefined) flags.xdsAddress = options.xds;
      if (options.nodeId !== undefined) flags.nodeId = options.nodeId;
      if (options.nodeCluster !== undefined) flags.nodeCluster = options.nodeCluster;
      if (options.admin !== undefined) flags.adminAddress = options.admin;
      if (options.healthAddress !== undefined) flags.healthAddress = options.healthAddress;
      if (options.xdsDelta === true) flags.xdsDelta = true;
      if (options.xdsCa !== undefined) flags.xdsCa = options.xdsCa;
      if (options.xdsServerName !== undefined) flags.xdsServerName = options.xdsServerName;
      if (options.xdsToken !== undefined) flags.xdsToken = options.xdsToken;
      if (options.xdsTokenAudience !== undefined) flags.xdsTokenAudience = options.xdsTokenAudience;
      const loaded = await context.actions.loadBootstrap(flags);
      if (!loaded.ok) {
        const what = flags.bootstrapPath === undefined ? 'the configuration' : flags.bootstrapPath;
        printProblems(context.io, `meshlet: ${what} is invalid (${loaded.errors.length} problem${loaded.errors.length === 1 ? '' : 's'}):`, loaded.errors);
        context.setExitCode(EXIT_BAD_INPUT);
        return;
      }
      printWarnings(context.io, loaded.value.warnings);
      const telemetry: { -readonly [K in keyof TelemetryFlags]: TelemetryFlags[K] } = {};
      if (options.otlpEndpoint !== undefined) telemetry.otlpEndpoint = options.otlpEndpoint;
      if (options.otlpProtocol !== undefined) telemetry.otlpProtocol = options.otlpProtocol;
      if (options.traceSampling !== undefined) telemetry.traceSampling = options.traceSampling;
      if (options.serviceName !== undefined) telemetry.serviceName = options.serviceName;
      if (options.accessLog !== undefined) telemetry.accessLog = options.accessLog;
      context.setExitCode(await context.actions.startSidecar(loaded.value, { drainTimeoutMs: drainSeconds * 1000, telemetry }));
    });
}
