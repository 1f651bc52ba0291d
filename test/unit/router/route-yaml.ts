// Test support: Envoy RouteConfiguration YAML -> RouteConfig through the real decoder, a RouteTable, and request builders.

import { parse } from 'yaml';
import type { RouteConfig } from '../../../sidecar/src/config/route-config';
import { formatErrors } from '../../../sidecar/src/core/validation';
import { ObjectHeaderMap, type HeaderObject } from '../../../sidecar/src/router/header-map';
import type { HeaderVars } from '../../../sidecar/src/router/header-formatter';
import { RouteTable, type RouteRequest, type RouteTableOptions } from '../../../sidecar/src/router/route-table';
import { messageFromJson } from '../../../sidecar/src/xds/proto-json';
import { ProtoSchema } from '../../../sidecar/src/xds/proto-schema';
import { routeConfigurationResource } from '../../../sidecar/src/xds/resources/route-configuration-resource';

const schema = ProtoSchema.get();

/** Decodes Envoy YAML as a RouteConfiguration the way a static resource is: proto JSON mapping, then the RDS decoder. */
export function routeConfigFromYaml(yaml: string): RouteConfig {
  const message = messageFromJson(schema, routeConfigurationResource.protoName, parse(yaml));
  if (!message.ok) throw new Error(`proto JSON: ${formatErrors(message.errors)}`);
  const decoded = routeConfigurationResource.decode({ schema, adsClusterNames: new Set() }, message.value);
  if (!decoded.result.ok) throw new Error(`decoder: ${formatErrors(decoded.result.errors)}`);
  return decoded.result.value;
}

export function tableFromYaml(yaml: string, options: RouteTableOptions = {}): RouteTable {
  return RouteTable.compile(routeConfigFromYaml(yaml), options);
}

export interface RequestInit {
  readonly authority?: string;
  readonly path?: string;
  readonly method?: string;
  readonly headers?: HeaderObject;
  readonly scheme?: string;
}

export function request(init: RequestInit = {}): RouteRequest & { readonly headers: ObjectHeaderMap } {
  const headers = new ObjectHeaderMap({ ...(init.headers ?? {}) });
  const ct = headers.get('content-type');
  return {
    authority: init.authority ?? 'example.com',
    path: init.path ?? '/',
    method: init.method ?? 'GET',
    headers,
    isGrpc: ct !== undefined && ct.startsWith('application/grpc'),
    ...(init.scheme === undefined ? {} : { scheme: init.scheme }),
  };
}

export function vars(req: RouteRequest, extra: Partial<HeaderVars> = {}): HeaderVars {
  return {
    request: req,
    downstreamRemoteIp: '10.0.0.7',
    downstreamRemotePort: 51234,
    downstreamLocalIp: '10.0.0.1',
    downstreamLocalPort: 15001,
    upstreamHost: null,
    protocol: 'HTTP/1.1',
    startTimeMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
    ...extra,
  };
}

/** A one-virtual-host (`*`) RouteConfiguration YAML with the given routes (YAML list items, indented by the caller). */
export function routesYaml(routes: string, vhostExtra = '', rcExtra = ''): string {
  return `
name: rc
${rcExtra}
virtual_hosts:
- name: vh
  domains: ["*"]
${vhostExtra}
  routes:
${routes}
`;
}
