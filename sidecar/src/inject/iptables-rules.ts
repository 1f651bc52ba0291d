// The traffic-capture rules `meshlet iptables` installs in a pod's network namespace, as iptables-restore input.

import { ErrorCollector, type Validation } from '../core/validation';
import { parseCidr } from './inject-settings';

/** What to capture. Built from the `meshlet iptables` flags (the injected init container's args). */
export interface IptablesOptions {
  /** The proxy's UID and GID: its own traffic is never redirected (Istio's `-u 1337`). */
  readonly proxyUid: number;
  readonly proxyGid: number;
  /** Outbound TCP goes here (Istio `-p 15001`). */
  readonly outboundPort: number;
  /** Inbound TCP goes here (Istio `-z 15006`). */
  readonly inboundPort: number;
  /** `*` = every inbound port, else only these (Istio `-b`). */
  readonly includeInboundPorts: '*' | readonly number[];
  readonly excludeInboundPorts: readonly number[];
  readonly excludeOutboundPorts: readonly number[];
  /** CIDRs reached directly, each applied to its own family. */
  readonly excludeOutboundIpRanges: readonly string[];
  /** `nft` (iptables-nft, the Debian default) or `legacy` (Linkerd's proxyInit.iptablesMode). */
  readonly mode: 'nft' | 'legacy';
  readonly ipv6: boolean;
}

/** The flags as given on the command line (strings), before validation. */
export interface IptablesFlags {
  readonly proxyUid?: string;
  readonly proxyGid?: string;
  readonly outboundPort?: string;
  readonly inboundPort?: string;
  readonly includeInboundPorts?: string;
  readonly excludeInboundPorts?: string;
  readonly excludeOutboundPorts?: string;
  readonly excludeOutboundIpRanges?: string;
  readonly mode?: string;
  readonly ipv6?: boolean;
}

/** Validates the flags, every problem at once (paths are the flag names). */
export function parseIptablesFlags(flags: IptablesFlags): Validation<IptablesOptions> {
  const ec = ErrorCollector.root();
  const int = (flag: string, value: string | undefined, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
    if (!(n >= min && n <= max)) ec.add(`expected a number from ${min} to ${max}, got "${value}"`, flag);
    return n;
  };
  const ports = (flag: string, value: string | undefined): number[] => {
    if (value === undefined || value.trim() === '') return [];
    const items = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const bad = items.filter((s) => !/^\d{1,5}$/.test(s) || Number(s) < 1 || Number(s) > 65535);
    if (bad.length > 0) ec.add(`not ports: ${bad.join(', ')}`, flag);
    return [...new Set(items.filter((s) => !bad.includes(s)).map(Number))];
  };
  const proxyUid = int('--proxy-uid', flags.proxyUid, 1337, 0, 2147483647);
  const cidrs = (flags.excludeOutboundIpRanges ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const badCidrs = cidrs.filter((c) => parseCidr(c) === undefined);
  if (badCidrs.length > 0) ec.add(`not CIDRs: ${badCidrs.join(', ')}`, '--exclude-outbound-ip-ranges');
  const mode = flags.mode ?? 'nft';
  if (mode !== 'nft' && mode !== 'legacy') ec.add(`expected nft or legacy, got "${mode}"`, '--mode');
  const include = flags.includeInboundPorts === undefined || flags.includeInboundPorts.trim() === '*' ? '*' : ports('--include-inbound-ports', flags.includeInboundPorts);
  return ec.result<IptablesOptions>({
    proxyUid,
    proxyGid: int('--proxy-gid', flags.proxyGid, proxyUid, 0, 2147483647),
    outboundPort: int('--outbound-port', flags.outboundPort, 15001, 1, 65535),
    inboundPort: int('--inbound-port', flags.inboundPort, 15006, 1, 65535),
    includeInboundPorts: include,
    excludeInboundPorts: ports('--exclude-inbound-ports', flags.excludeInboundPorts),
    excludeOutboundPorts: ports('--exclude-outbound-ports', flags.excludeOutboundPorts),
    excludeOutboundIpRanges: cidrs.filter((c) => !badCidrs.includes(c)),
    mode: mode === 'legacy' ? 'legacy' : 'nft',
    ipv6: flags.ipv6 ?? true,
  });
}

/**
 * iptables-restore input (`--noflush`) for one family, nat table only, with Istio's structure
 * (tools/istio-iptables/pkg/capture/run.go) under MESHLET_ chain names:
 * - PREROUTING -> MESHLET_INBOUND: excluded ports RETURN, then `*` or the listed ports -> REDIRECT to inboundPort.
 * - OUTPUT -> MESHLET_OUTPUT: the proxy's UID and GID RETURN (so its upstream dials are not captured again),
 *   loopback destinations RETURN, excluded ports and CIDRs RETURN, everything else -> REDIRECT to outboundPort.
 */
export function iptablesRestoreInput(options: IptablesOptions, family: 4 | 6): string {
  const loopback = family === 4 ? '127.0.0.0/8' : '::1/128';
  const lines = [
    '*nat',
    ':MESHLET_INBOUND - [0:0]',
    ':MESHLET_IN_REDIRECT - [0:0]',
    ':MESHLET_OUTPUT - [0:0]',
    ':MESHLET_REDIRECT - [0:0]',
    `-A MESHLET_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${options.inboundPort}`,
    `-A MESHLET_REDIRECT -p tcp -j REDIRECT --to-ports ${options.outboundPort}`,
  ];
  const capturesInbound = options.includeInboundPorts === '*' || options.includeInboundPorts.length > 0;
  if (capturesInbound) {
    lines.push('-A PREROUTING -p tcp -j MESHLET_INBOUND');
    for (const port of options.excludeInboundPorts) lines.push(`-A MESHLET_INBOUND -p tcp --dport ${port} -j RETURN`);
    if (options.includeInboundPorts === '*') lines.push('-A MESHLET_INBOUND -p tcp -j MESHLET_IN_REDIRECT');
    else for (const port of options.includeInboundPorts) lines.push(`-A MESHLET_INBOUND -p tcp --dport ${port} -j MESHLET_IN_REDIRECT`);
  }
  lines.push(
    '-A OUTPUT -p tcp -j MESHLET_OUTPUT',
    `-A MESHLET_OUTPUT -m owner --uid-owner ${options.proxyUid} -j RETURN`,
    `-A MESHLET_OUTPUT -m owner --gid-owner ${options.proxyGid} -j RETURN`,
    `-A MESHLET_OUTPUT -d ${loopback} -j RETURN`,
  );
  for (const port of options.excludeOutboundPorts) lines.push(`-A MESHLET_OUTPUT -p tcp --dport ${port} -j RETURN`);
  for (const cidr of options.excludeOutboundIpRanges) {
    if (parseCidr(cidr)?.family === family) lines.push(`-A MESHLET_OUTPUT -d ${cidr} -j RETURN`);
  }
  lines.push('-A MESHLET_OUTPUT -j MESHLET_REDIRECT', 'COMMIT');
  return `${lines.join('\n')}\n`;
}
