// The string a hash balancer hashes for a host: `envoy.lb` `hash_key` metadata, the hostname, or `address:port`.

import type { Host } from '../host';

/**
 * Envoy `ThreadAwareLoadBalancerBase` / `MaglevTable` `hashKey(host, use_hostname_for_hashing)`: endpoint metadata
 * `envoy.lb` → `hash_key` (a string) when present, else the hostname when `useHostname` (and it is set), else the
 * address as `address().asString()` prints it (`10.0.0.1:80`, `[::1]:80`).
 */
export function hashKey(host: Host, useHostname: boolean): string {
  const key = host.metadata['envoy.lb']?.['hash_key'];
  if (typeof key === 'string') return key;
  if (useHostname && host.hostname !== '') return host.hostname;
  return host.key;
}

/**
 * Envoy `normalizeHostWeights`: each host's share of the total weight (sums to 1); Σ over a fixed host list.
 * Returns the shares and their minimum and maximum.
 */
export function normalizedWeights(hosts: readonly Host[]): { weights: Float64Array; min: number; max: number } {
  let sum = 0;
  for (const h of hosts) sum += h.weight;
  const weights = new Float64Array(hosts.length);
  let min = Infinity;
  let max = 0;
  for (let i = 0; i < hosts.length; i++) {
    const w = hosts[i]!.weight / sum;
    weights[i] = w;
    if (w < min) min = w;
    if (w > max) max = w;
  }
  return { weights, min, max };
}
