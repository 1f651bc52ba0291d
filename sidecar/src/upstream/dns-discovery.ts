// STRICT_DNS and LOGICAL_DNS discovery: resolve each endpoint name on a timer and report the resulting host specs.

import * as dns from 'node:dns';
import * as net from 'node:net';
import type { ClusterConfig } from '../config/cluster-config';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../observability/logger';
import { hostSpec, placedEndpoints, type HostSpec } from './host-spec';

export type DnsLookupFamily = ClusterConfig['dnsLookupFamily'];

/** Resolves a name to addresses (already filtered by family policy). Rejects on failure. Injectable for tests. */
export type DnsResolver = (hostname: string, family: DnsLookupFamily) => Promise<string[]>;

/**
 * `dns.lookup({ all: true })` (the system resolver, /etc/hosts included), then Envoy's `dns_lookup_family`:
 * V4_ONLY / V6_ONLY filter; AUTO prefers IPv6 and falls back to IPv4; V4_PREFERRED the reverse; ALL keeps both.
 */
export const systemDnsResolver: DnsResolver = async (hostname, family) => {
  const results = await dns.promises.lookup(hostname, { all: true, family: family === 'V4_ONLY' ? 4 : family === 'V6_ONLY' ? 6 : 0, verbatim: true });
  return applyFamilyPolicy(
    results.map((r) => r.address),
    family,
  );
};

/** Envoy's family policy over a mixed address list. */
export function applyFamilyPolicy(addresses: readonly string[], family: DnsLookupFamily): string[] {
  const v4 = addresses.filter((a) => net.isIPv4(a));
  const v6 = addresses.filter((a) => net.isIPv6(a));
  switch (family) {
    case 'V4_ONLY':
      return v4;
    case 'V6_ONLY':
      return v6;
    case 'AUTO':
      return v6.length > 0 ? v6 : v4;
    case 'V4_PREFERRED':
      return v4.length > 0 ? v4 : v6;
    case 'ALL':
      return [...addresses];
  }
}

/**
 * Resolves every endpoint of a DNS cluster now and then every `dnsRefreshRateMs` (timer via the clock,
 * unref'ed). STRICT_DNS: one host per resolved address of every endpoint. LOGICAL_DNS: one host, the first
 * address of the (single) endpoint. A failed lookup keeps that endpoint's previous addresses (Envoy keeps the
 * last good resolution). `onUpdate` gets the complete list after each round.
 */
export class DnsDiscovery {
  private timer: TimerHandle | null = null;
  private stopped = false;
  private readonly last = new Map<number, readonly string[]>();
  /** Resolves after the first round (success or not). */
  readonly firstRound: Promise<void>;
  private firstRoundDone!: () => void;

  constructor(
    private readonly config: ClusterConfig,
    private readonly logical: boolean,
    private readonly resolver: DnsResolver,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly onUpdate: (specs: HostSpec[]) => void,
  ) {
    this.firstRound = new Promise((resolve) => (this.firstRoundDone = resolve));
  }

  start(): void {
    void this.round();
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    this.firstRoundDone();
  }

  private async round(): Promise<void> {
    const placed = placedEndpoints(this.config.loadAssignment);
    const targets = this.logical ? placed.slice(0, 1) : placed;
    const resolved = await Promise.all(
      targets.map(async (p, i) => {
        const name = p.endpoint.address.kind === 'socket' ? p.endpoint.address.host : '';
        try {
          const addresses = await this.resolver(name, this.config.dnsLookupFamily);
          if (addresses.length > 0) this.last.set(i, addresses);
          else this.logger.warn({ cluster: this.config.name, hostname: name }, 'DNS resolution returned no address of the requested family');
        } catch (error) {
          this.logger.warn({ cluster: this.config.name, hostname: name, err: (error as Error).message }, 'DNS resolution failed; keeping the previous addresses');
        }
        return this.last.get(i) ?? [];
      }),
    );
    if (this.stopped) return;
    const specs: HostSpec[] = [];
    targets.forEach((p, i) => {
      const addresses = resolved[i] ?? [];
      for (const address of this.logical ? addresses.slice(0, 1) : addresses) specs.push(hostSpec(p, address));
    });
    this.onUpdate(specs);
    this.firstRoundDone();
    this.timer = this.clock.setTimeout(() => void this.round(), Math.max(1, this.config.dnsRefreshRateMs));
  }
}
