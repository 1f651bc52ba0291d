// Starts a real sidecar in-process from an Envoy bootstrap object (static config), for data-plane tests.

import * as assert from 'node:assert/strict';
import { createSidecar, type Sidecar, type SidecarOptions } from '../../sidecar/src/sidecar';
import { bootstrapFromJson } from '../../sidecar/src/xds/bootstrap-loader';
import { formatErrors } from '../../sidecar/src/core/validation';
import type { JsonValue } from '../../sidecar/src/config/endpoint-config';

export const T = 'type.googleapis.com/';
export const HCM_TYPE = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
export const ROUTER_TYPE = `${T}envoy.extensions.filters.http.router.v3.Router`;
export const TCP_PROXY_TYPE = `${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`;
export const HTTP_OPTIONS_TYPE = `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`;
export const UPSTREAM_TLS_TYPE = `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`;
export const DOWNSTREAM_TLS_TYPE = `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`;

/** A socket address in Envoy JSON. */
export function socketAddress(port: number, address = '127.0.0.1'): object {
  return { socket_address: { address, port_value: port } };
}

/** A STATIC cluster over 127.0.0.1 ports, with optional extra fields (protocol options, TLS, breakers...). */
export function staticCluster(name: string, ports: readonly number[], extra: Record<string, unknown> = {}): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: ports.map((port) => ({ endpoint: { address: socketAddress(port) } })) }] },
    ...extra,
  };
}

/** typed_extension_protocol_options that make a cluster speak HTTP/2 upstream. */
export const HTTP2_UPSTREAM = {
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTIONS_TYPE, explicit_http_config: { http2_protocol_options: {} } },
  },
};

/** An HTTP listener on 127.0.0.1:0 with an inline route config; `extra` merges into the HCM. */
export function httpListener(name: string, virtualHosts: readonly object[], extra: Record<string, unknown> = {}, chainExtra: Record<string, unknown> = {}): object {
  return {
    name,
    address: socketAddress(0),
    filter_chains: [
      {
        ...chainExtra,
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_TYPE,
              stat_prefix: name,
              codec_type: 'AUTO',
              route_config: { name: `${name}_routes`, virtual_hosts: virtualHosts },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
              ...extra,
            },
          },
        ],
      },
    ],
  };
}

/** Starts a sidecar from `static_resources`; fails the test with every bootstrap error if the config is invalid. */
export async function startStaticSidecar(staticResources: { listeners: object[]; clusters: object[] }, options: SidecarOptions = {}): Promise<Sidecar> {
  const raw = { node: { id: 'test-node', cluster: 'test' }, static_resources: staticResources };
  const bootstrap = bootstrapFromJson(raw as unknown as JsonValue, null, { adminAddress: '127.0.0.1:0' }, { env: {} });
  assert.ok(bootstrap.ok, bootstrap.ok ? '' : formatErrors(bootstrap.errors));
  const sidecar = await createSidecar(bootstrap.value, options);
  await sidecar.whenListenersApplied();
  return sidecar;
}

/** The bound port of a listener (listeners bind port 0 in tests). */
export function listenerPort(sidecar: Sidecar, name: string): number {
  const address = sidecar.listeners.addresses().get(name);
  assert.ok(address !== undefined, `listener ${name} is not bound`);
  return address.port;
}
