// Renders a ConfigSnapshot as the short, human-readable summary the demo prints.

import type { ConfigSnapshot } from '../../sidecar/src/config/config-snapshot';
import type { AddressConfig, EndpointConfig } from '../../sidecar/src/config/endpoint-config';
import type { ListenerConfig } from '../../sidecar/src/config/listener-config';
import type { RouteActionConfig, RoutePathMatch } from '../../sidecar/src/config/route-config';

function addressText(address: AddressConfig): string {
  return address.kind === 'socket' ? `${address.host}:${address.port}` : `unix:${address.path}`;
}

function listenerRoutes(listener: ListenerConfig): string {
  const chains = [...listener.filterChains, ...(listener.defaultFilterChain !== null ? [listener.defaultFilterChain] : [])];
  return chains
    .map((chain) => {
      const network = chain.network;
      if (network.kind === 'http') {
        return network.routeSource.kind === 'rds' ? `HTTP, routes from RDS "${network.routeSource.name}"` : `HTTP, inline routes "${network.routeSource.route.name}"`;
      }
      return 'TCP proxy';
    })
    .join('; ');
}

function matchText(path: RoutePathMatch): string {
  return path.kind === 'safe_regex' ? `regex ${path.regex}` : `${path.kind} ${path.value}`;
}

function actionText(action: RouteActionConfig): string {
  if (action.kind !== 'route') return action.kind;
  const cluster = action.cluster;
  if (cluster.kind === 'cluster') return `-> ${cluster.name}`;
  if (cluster.kind === 'weighted') return `-> ${cluster.clusters.map((c) => `${c.name} (${c.weight})`).join(', ')}`;
  return `-> cluster from header ${cluster.header}`;
}

function endpointsText(assignment: EndpointConfig | undefined): string {
  if (assignment === undefined) return 'no endpoints yet';
  const hosts = assignment.priorities.flatMap((localities, priority) =>
    localities.flatMap((locality) =>
      locality.endpoints.map((e) => `${addressText(e.address)}${e.loadBalancingWeight !== 1 ? ` w=${e.loadBalancingWeight}` : ''}${priority > 0 ? ` p${priority}` : ''}${e.healthStatus !== 'UNKNOWN' && e.healthStatus !== 'HEALTHY' ? ` ${e.healthStatus}` : ''}`),
    ),
  );
  return hosts.length === 0 ? 'no endpoints' : hosts.join(', ');
}

/** A multi-line summary: listeners, route tables, clusters with their endpoints. */
export function describeSnapshot(snapshot: ConfigSnapshot): string {
  const lines = [`config snapshot v${snapshot.version} (${snapshot.createdAt})`];
  lines.push(`  listeners (${snapshot.listeners.size}):`);
  for (const listener of snapshot.listeners.values()) {
    lines.push(`    ${listener.name} on ${addressText(listener.address)}${listener.bindToPort ? '' : ' (not bound)'}: ${listenerRoutes(listener)}`);
  }
  lines.push(`  route configurations (${snapshot.routes.size}):`);
  for (const route of snapshot.routes.values()) {
    for (const vhost of route.virtualHosts) {
      const routes = vhost.routes.map((r) => `${matchText(r.match.path)} ${actionText(r.action)}`).join('; ');
      lines.push(`    ${route.name} / ${vhost.name} [${vhost.domains.join(', ')}]: ${routes}`);
    }
  }
  lines.push(`  clusters (${snapshot.clusters.size}):`);
  for (const cluster of snapshot.clusters.values()) {
    const assignment = cluster.loadAssignment ?? snapshot.endpoints.get(cluster.edsServiceName ?? cluster.name);
    lines.push(`    ${cluster.name} ${cluster.discoveryType} ${cluster.lbPolicy.kind}: ${endpointsText(assignment ?? undefined)}`);
  }
  return lines.join('\n');
}
