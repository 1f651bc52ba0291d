// `meshlet iptables`, `meshlet inject`, `meshlet injector` and `meshlet wait`: the Kubernetes commands' flags and help.

import { Command } from 'commander';
import * as http from 'node:http';
import { EXIT_FAILURE, EXIT_OK, type CommandContext } from './command-context';
import type { KubernetesActions } from './kubernetes-actions';

/** The four commands; `iptables`, `inject` and `injector` need main.ts's KubernetesActions. */
export function kubernetesCommands(context: CommandContext): Command[] {
  const actions = (): KubernetesActions => {
    const k = context.actions.kubernetes;
    if (k === undefined) throw new Error('the Kubernetes commands are not available in this build');
    return k;
  };
  const iptables = new Command('iptables')
    .description('install the traffic-capture rules in this network namespace (the injected init container runs this); outbound TCP -> 15001, inbound -> 15006, the proxy UID, loopback and exclusions left alone; IPv4 and IPv6')
    .option('--proxy-uid <uid>', 'UID of the proxy, never captured', '1337')
    .option('--proxy-gid <gid>', 'GID of the proxy, never captured (default: the UID)')
    .option('--outbound-port <port>', 'where outbound TCP is redirected', '15001')
    .option('--inbound-port <port>', 'where inbound TCP is redirected', '15006')
    .option('--include-inbound-ports <ports>', '"*" or comma-separated ports to capture inbound ("" = none)', '*')
    .option('--exclude-inbound-ports <ports>', 'comma-separated inbound ports not captured')
    .option('--exclude-outbound-ports <ports>', 'comma-separated outbound ports not captured')
    .option('--exclude-outbound-ip-ranges <cidrs>', 'comma-separated CIDRs reached directly (IPv4 and IPv6)')
    .option('--mode <backend>', 'nft or legacy iptables backend', 'nft')
    .option('--no-ipv6', 'IPv4 rules only')
    .option('--dry-run', 'print the iptables-restore input instead of applying it')
    .action((options: Record<string, string | boolean | undefined>) => {
      const str = (key: string): Record<string, string> => (typeof options[key] === 'string' ? { [key]: options[key] } : {});
      context.setExitCode(actions().iptables({
        ...str('proxyUid'), ...str('proxyGid'), ...str('outboundPort'), ...str('inboundPort'), ...str('includeInboundPorts'),
        ...str('excludeInboundPorts'), ...str('excludeOutboundPorts'), ...str('excludeOutboundIpRanges'), ...str('mode'),
        ipv6: options['ipv6'] !== false,
        dryRun: options['dryRun'] === true,
      }, context.io));
    });
  const inject = new Command('inject')
    .description('add the meshlet sidecar to the pod templates of Kubernetes manifests (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob; multi-document YAML); the same result as the webhook; usable as a Helm post-renderer')
    .requiredOption('-f, --filename <file>', 'manifests to inject, "-" for stdin')
    .option('--config <file>', 'injection settings (the chart\'s ConfigMap settings.yaml); default: built-in defaults')
    .option('-n, --namespace <ns>', 'namespace of objects that set none', 'default')
    .action(async (options: { filename: string; config?: string; namespace?: string }) => {
      context.setExitCode(await actions().inject({
        file: options.filename,
        ...(options.config === undefined ? {} : { config: options.config }),
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      }, context.io));
    });
  const injector = new Command('injector')
    .description('serve the sidecar-injection webhook: AdmissionReview v1 over HTTPS on POST /inject (what the Helm chart runs)')
    .requiredOption('--tls-cert <file>', 'serving certificate (PEM), reloaded when it changes')
    .requiredOption('--tls-key <file>', 'serving key (PEM)')
    .option('--config <file>', 'injection settings (YAML or JSON)')
    .option('--listen <host:port>', 'address to serve on', '0.0.0.0:9443')
    .option('--namespace <ns>', 'the injector\'s own namespace, never injected (env POD_NAMESPACE)')
    .action(async (options: { tlsCert: string; tlsKey: string; config?: string; listen?: string; namespace?: string }) => {
      context.setExitCode(await actions().injector({
        tlsCert: options.tlsCert,
        tlsKey: options.tlsKey,
        ...(options.config === undefined ? {} : { config: options.config }),
        ...(options.listen === undefined ? {} : { listen: options.listen }),
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      }, context.io));
    });
  const wait = new Command('wait')
    .description('wait until the local proxy is ready (GET /ready answers 200): the classic sidecar\'s postStart hook, holding the app until the proxy is ready')
    .option('--url <url>', 'readiness URL', 'http://127.0.0.1:15000/ready')
    .option('--timeout <seconds>', 'give up after this long (exit 1)', '60')
    .action(async (options: { url: string; timeout: string }) => {
      const deadline = Date.now() + Number(options.timeout) * 1000;
      while (Date.now() < deadline) {
        if (await isReady(options.url)) {
          context.setExitCode(EXIT_OK);
          return;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
      context.io.stderr(`meshlet wait: ${options.url} not ready after ${options.timeout}s\n`);
      context.setExitCode(EXIT_FAILURE);
    });
  return [iptables, inject, injector, wait];
}

function isReady(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
