// Test handle for the reference control plane: start, restart on the same port, and builders for consistent
// LDS/RDS/CDS/EDS resources (proto-loader shape) to serve from it.

import { ControlPlaneServer, type ControlPlaneOptions, type ResourceInput } from '../../examples/control-plane/control-plane-server';
import { ProtoSchema } from '../../sidecar/src/xds/proto-schema';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
} from '../../sidecar/src/xds/resources/resource-type';

export { ControlPlaneServer };
export type { ControlPlaneOptions, RecordedRequest, RecordedResponse, ResourceInput } from '../../examples/control-plane/control-plane-server';

export const TYPE_URLS = {
  lds: LISTENER_TYPE_URL,
  rds: ROUTE_CONFIGURATION_TYPE_URL,
  cds: CLUSTER_TYPE_URL,
  eds: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
} as const;

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'envoy.extensions.filters.http.router.v3.Router';

/**
 * Starts a control plane on 127.0.0.1 (port 0 unless given). Set `CONTROL_PLANE_LOG=1` to see its log on stderr.
 * The caller stops it in an `after`/`afterEach` hook.
 */
export function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlaneServer> {
  const log = process.env['CONTROL_PLANE_LOG'] === '1' ? (line: string) => process.stderr.write(`[control-plane] ${line}\n`) : undefined;
  return ControlPlaneServer.start({ ...(log !== undefined ? { log } : {}), ...options });
}

/**
 * Stops a control plane and starts an empty one on the same host and port (streams die at once; the new server
 * has no resources and a fresh version counter). Serve resources on the returned server.
 */
export async function restartControlPlane(server: ControlPlaneServer, options: Omit<ControlPlaneOptions, 'host' | 'port'> = {}): Promise<ControlPlaneServer> {
  await server.stop();
  return startControlPlane({ ...options, host: server.host, port: server.port });
}

export interface EndpointAddress {
  readonly host: string;
  readonly port: number;
}

/** A Listener on `address:port` whose HTTP connection manager takes route config `routeConfigName` over ADS. */
export function httpListener(name: string, port: number, routeConfigName: string, address = '0.0.0.0'): ResourceInput {
  return {
    name,
    message: {
      name,
      address: { socket_address: { address, port_value: port } },
      filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: rdsConnectionManager(name, routeConfigName) }] }],
    },
  };
}

/** A proxyless-gRPC Listener: `api_listener` holding an HCM with RDS over ADS (what grpc-js-xds asks for). */
export function apiListener(name: string, routeConfigName: string): ResourceInput {
  return { name, message: { name, api_listener: { api_listener: rdsConnectionManager(name, routeConfigName) } } };
}

function rdsConnectionManager(statPrefix: string, routeConfigName: string): object {
  return ProtoSchema.get().packAny(HCM_TYPE, {
    stat_prefix: statPrefix,
    codec_type: 'AUTO',
    rds: { route_config_name: routeConfigName, config_source: { ads: {}, resource_api_version: 'V3' } },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: ProtoSchema.get().packAny(ROUTER_TYPE, {}) }],
  });
}

/** A RouteConfiguration with one virtual host (`domains`) routing every path prefix `/` to `clusterName`. */
export function routeConfiguration(name: string, clusterName: string, domains: string[] = ['*']): ResourceInput {
  return {
    name,
    message: {
      name,
      virtual_hosts: [{ name: `${name}_vhost`, domains, routes: [{ match: { prefix: '/' }, route: { cluster: clusterName } }] }],
    },
  };
}

/** An EDS Cluster (endpoints over ADS; `serviceName` is the EDS resource name when it differs from the cluster name). */
export function edsCluster(name: string, serviceName?: string): ResourceInput {
  return {
    name,
    message: {
      name,
      type: 'EDS',
      connect_timeout: { seconds: 1 },
      lb_policy: 'ROUND_ROBIN',
      eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, ...(serviceName !== undefined ? { service_name: serviceName } : {}) },
    },
  };
}

/** A STATIC Cluster with an inline load assignment. */
export function staticCluster(name: string, endpoints: readonly EndpointAddress[]): ResourceInput {
  return {
    name,
    message: { name, type: 'STATIC', connect_timeout: { seconds: 1 }, lb_policy: 'ROUND_ROBIN', load_assignment: loadAssignmentMessage(name, endpoints) },
  };
}

/** The ClusterLoadAssignment of an EDS cluster: one locality with the given endpoints. */
export function clusterLoadAssignment(clusterName: string, endpoints: readonly EndpointAddress[]): ResourceInput {
  return { name: clusterName, message: loadAssignmentMessage(clusterName, endpoints) };
}

function loadAssignmentMessage(clusterName: string, endpoints: readonly EndpointAddress[]): object {
  return {
    cluster_name: clusterName,
    endpoints: [
      {
        locality: { region: 'local' },
        // gRPC ignores localities without a weight; Envoy ignores the weight unless locality-weighted LB is on.
        load_balancing_weight: { value: 1 },
        lb_endpoints: endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } } })),
      },
    ],
  };
}

/** Serves one consistent LDS->RDS->CDS->EDS set: listener -> route config -> EDS cluster -> endpoints. */
export function serveHttpService(
  server: ControlPlaneServer,
  names: { listener: string; listenerPort: number; routeConfig: string; cluster: string },
  endpoints: readonly EndpointAddress[],
): void {
  server.setResources(CLUSTER_TYPE_URL, [edsCluster(names.cluster)]);
  server.setResources(CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, [clusterLoadAssignment(names.cluster, endpoints)]);
  server.setResources(LISTENER_TYPE_URL, [httpListener(names.listener, names.listenerPort, names.routeConfig)]);
  server.setResources(ROUTE_CONFIGURATION_TYPE_URL, [routeConfiguration(names.routeConfig, names.cluster)]);
}
