// What the cluster should contain: one entry per endpoint address, from EDS, an inline load_assignment or DNS.

import type { EndpointConfig, LbEndpointConfig, LocalityConfig, MetadataConfig } from '../config/endpoint-config';
import { edsHealthFlags } from './host-health-flags';

/** The desired state of one host; the cluster diffs a list of these against its hosts by `address:port`. */
export interface HostSpec {
  readonly address: string;
  readonly port: number;
  readonly hostname: string;
  readonly weight: number;
  readonly priority: number;
  readonly locality: LocalityConfig;
  readonly metadata: MetadataConfig;
  /** HostHealthFlags EDS bits for its `health_status`. */
  readonly edsFlags: number;
}

/** An endpoint of a load assignment with the priority and locality it sits in (DNS clusters resolve these). */
export interface PlacedEndpoint {
  readonly endpoint: LbEndpointConfig;
  readonly priority: number;
  readonly locality: LocalityConfig;
}

/** Every socket endpoint of `assignment`, in priority then locality order (pipe addresses are skipped). */
export function placedEndpoints(assignment: EndpointConfig | null | undefined): PlacedEndpoint[] {
  const out: PlacedEndpoint[] = [];
  if (!assignment) return out;
  assignment.priorities.forEach((localities, priority) => {
    for (const l of localities) for (const endpoint of l.endpoints) if (endpoint.address.kind === 'socket') out.push({ endpoint, priority, locality: l.locality });
  });
  return out;
}

/** The host spec of `placed` at `address` (its own IP, or one its DNS name resolved to). */
export function hostSpec(placed: PlacedEndpoint, address: string): HostSpec {
  const e = placed.endpoint;
  const port = e.address.kind === 'socket' ? e.address.port : 0;
  const dnsName = e.address.kind === 'socket' && e.address.host !== address ? e.address.host : '';
  return {
    address,
    port,
    hostname: e.hostname !== '' ? e.hostname : dnsName,
    weight: e.loadBalancingWeight,
    priority: placed.priority,
    locality: placed.locality,
    metadata: e.metadata,
    edsFlags: edsHealthFlags(e.healthStatus),
  };
}

/** Host specs for an assignment whose addresses are IPs (EDS, STATIC). */
export function hostSpecsFromEndpoints(assignment: EndpointConfig | null | undefined): HostSpec[] {
  return placedEndpoints(assignment).map((p) => hostSpec(p, p.endpoint.address.kind === 'socket' ? p.endpoint.address.host : ''));
}
