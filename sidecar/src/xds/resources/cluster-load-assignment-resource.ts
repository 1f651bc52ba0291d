// EDS: ClusterLoadAssignment -> EndpointConfig (priorities of localities of endpoints), also used for inline load_assignment.

import * as net from 'node:net';
import type { ErrorCollector } from '../../core/validation';
import {
  DEFAULT_OVERPROVISIONING_FACTOR,
  type DropOverloadConfig,
  type EndpointConfig,
  type EndpointHealthStatus,
  type LbEndpointConfig,
  type LocalityEndpointsConfig,
} from '../../config/endpoint-config';
import { decodeAddress } from './address';
import { durationMs } from './duration-ms';
import { decodeResource, stringField } from './decode-resource';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, type DecodeContext, type DecodedResource, type XdsResourceType } from './resource-type';
import { metadataToJson } from './struct-json';
import type { ClusterLoadAssignment__Output } from '../../../../xds-protos/generated/envoy/config/endpoint/v3/ClusterLoadAssignment';
import type { LbEndpoint__Output } from '../../../../xds-protos/generated/envoy/config/endpoint/v3/LbEndpoint';
import type { Endpoint__Output } from '../../../../xds-protos/generated/envoy/config/endpoint/v3/Endpoint';

const PROTO_NAME = 'envoy.config.endpoint.v3.ClusterLoadAssignment';
const UINT32_MAX = 4_294_967_295;

function decodeLbEndpoint(e: LbEndpoint__Output, named: { readonly [name: string]: Endpoint__Output }, requireIp: boolean, errors: ErrorCollector): LbEndpointConfig | null {
  let endpoint: Endpoint__Output | null | undefined = e.endpoint;
  if (e.host_identifier === 'endpoint_name') {
    endpoint = named[e.endpoint_name ?? ''];
    if (endpoint === undefined) {
      errors.add(`endpoint_name ${JSON.stringify(e.endpoint_name)} is not in named_endpoints`, 'endpoint_name');
      return null;
    }
  }
  if (endpoint === null || endpoint === undefined) {
    errors.add('endpoint is required', 'endpoint');
    return null;
  }
  const address = decodeAddress(endpoint.address, errors.at('endpoint').at('address'));
  if (address === null) return null;
  // Envoy resolves EDS and STATIC endpoint addresses as IP literals ("malformed IP address"); DNS clusters take names.
  if (requireIp && address.kind === 'socket' && net.isIP(address.host) === 0) {
    errors.add(`malformed IP address: ${JSON.stringify(address.host)}`, 'endpoint.address.socket_address.address');
    return null;
  }
  const hc = endpoint.health_check_config;
  if (hc?.address) errors.warn('health_check_config.address is not implemented; checks go to the endpoint address', 'endpoint.health_check_config.address');
  if (endpoint.additional_addresses.length > 0) errors.warn('additional_addresses are not implemented (no happy eyeballs)', 'endpoint.additional_addresses');
  return {
    address,
    hostname: endpoint.hostname,
    healthStatus: e.health_status as EndpointHealthStatus,
    loadBalancingWeight: e.load_balancing_weight?.value ?? 1,
    metadata: metadataToJson(e.metadata),
    healthCheck: { portValue: hc && hc.port_value !== 0 ? hc.port_value : null, hostname: hc?.hostname ?? '', disableActiveHealthCheck: hc?.disable_active_health_check ?? false },
  };
}

/**
 * Decodes a PGV-checked ClusterLoadAssignment (EDS resource or a cluster's inline `load_assignment`); `errors` is at it.
 * Envoy's extra rules: per-priority endpoint weight and per-priority locality weight sums fit in uint32; LEDS unsupported.
 */
export function decodeLoadAssignment(cla: ClusterLoadAssignment__Output, errors: ErrorCollector, options: { readonly requireIp: boolean } = { requireIp: true }): EndpointConfig | null {
  const start = errors.errors.length;
  const priorities: LocalityEndpointsConfig[][] = [];
  const endpointWeightSums: number[] = [];
  const localityWeightSums: number[] = [];
  cla.endpoints.forEach((l, i) => {
    const le = errors.at('endpoints').at(i);
    if (l.lb_config === 'leds_cluster_locality_config') {
      le.add('LEDS is not supported', 'leds_cluster_locality_config');
      return;
    }
    const lbEndpoints = l.lb_config === 'load_balancer_endpoints' ? (l.load_balancer_endpoints?.lb_endpoints ?? []) : l.lb_endpoints;
    const field = l.lb_config === 'load_balancer_endpoints' ? 'load_balancer_endpoints.lb_endpoints' : 'lb_endpoints';
    const endpoints: LbEndpointConfig[] = [];
    lbEndpoints.forEach((e, j) => {
      const decoded = decodeLbEndpoint(e, cla.named_endpoints, options.requireIp, le.at(field).at(j));
      if (decoded !== null) endpoints.push(decoded);
    });
    const p = l.priority;
    while (priorities.length <= p) {
      priorities.push([]);
      endpointWeightSums.push(0);
      localityWeightSums.push(0);
    }
    endpointWeightSums[p] = (endpointWeightSums[p] ?? 0) + endpoints.reduce((s, e) => s + e.loadBalancingWeight, 0);
    localityWeightSums[p] = (localityWeightSums[p] ?? 0) + (l.load_balancing_weight?.value ?? 0);
    if ((endpointWeightSums[p] ?? 0) > UINT32_MAX) le.add(`the sum of endpoint weights in priority ${p} exceeds ${UINT32_MAX}`, 'lb_endpoints');
    if ((localityWeightSums[p] ?? 0) > UINT32_MAX) le.add(`the sum of locality weights in priority ${p} exceeds ${UINT32_MAX}`, 'load_balancing_weight');
    priorities[p]?.push({
      locality: { region: l.locality?.region ?? '', zone: l.locality?.zone ?? '', subZone: l.locality?.sub_zone ?? '' },
      priority: p,
      loadBalancingWeight: l.load_balancing_weight?.value ?? null,
      endpoints,
      metadata: metadataToJson(l.metadata),
    });
  });
  const policy = cla.policy;
  const dropOverloads: DropOverloadConfig[] = (policy?.drop_overloads ?? []).map((d) => {
    const fp = d.drop_percentage;
    const scale: Record<string, number> = { HUNDRED: 10_000, TEN_THOUSAND: 100, MILLION: 1 };
    return { category: d.category, dropPerMillion: Math.min(1_000_000, (fp?.numerator ?? 0) * (scale[fp?.denominator ?? 'HUNDRED'] ?? 10_000)) };
  });
  // Envoy accepts at most one drop_overloads category.
  if (dropOverloads.length > 1) errors.add('only one drop_overloads category is supported', 'policy.drop_overloads');
  if (errors.errors.length > start) return null;
  return {
    clusterName: cla.cluster_name,
    priorities,
    policy: {
      overprovisioningFactor: policy?.overprovisioning_factor?.value ?? DEFAULT_OVERPROVISIONING_FACTOR,
      weightedPriorityHealth: policy?.weighted_priority_health ?? false,
      endpointStaleAfterMs: durationMs(policy?.endpoint_stale_after),
      dropOverloads,
    },
  };
}

/** The EDS resource type; its name is `cluster_name`. */
export const clusterLoadAssignmentResource: XdsResourceType<EndpointConfig> = {
  typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  protoName: PROTO_NAME,
  shortName: 'EDS',
  allResourcesRequiredInSotW: false,
  decode(ctx: DecodeContext, message: unknown): DecodedResource<EndpointConfig> {
    return decodeResource(ctx, PROTO_NAME, message, stringField(message, 'cluster_name'), 'cluster load assignment', (cla: ClusterLoadAssignment__Output, errors) => decodeLoadAssignment(cla, errors));
  },
  dependencies() {
    return [];
  },
};
