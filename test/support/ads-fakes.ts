// Test doubles for the ADS client: a fake clock, a fake ADS transport and small resource types over real protos.

import type { Clock, TimerHandle } from '../../sidecar/src/core/clock';
import { ErrorCollector } from '../../sidecar/src/core/validation';
import type { AdsCall, AdsCallHandlers, AdsTransport } from '../../sidecar/src/xds/ads-stream';
import { ProtoSchema } from '../../sidecar/src/xds/proto-schema';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
  type DecodeContext,
  type XdsResourceType,
} from '../../sidecar/src/xds/resources/resource-type';
import type { DeltaDiscoveryRequest } from '../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DeltaDiscoveryResponse__Output } from '../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import type { DiscoveryRequest } from '../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryResponse';

/** Timers run only when the test advances time. */
export class FakeClock implements Clock {
  private nowMs = 1_700_000_000_000;
  private timers: Array<{ at: number; seq: number; callback: () => void; cancelled: boolean }> = [];
  private seq = 0;

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { at: this.nowMs + delayMs, seq: this.seq++, callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Moves time forward, running due timers in order (including ones they schedule). */
  advance(ms: number): void {
    const end = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.nowMs = due.at;
      due.callback();
    }
    this.nowMs = end;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  /** Delays of pending timers, from now. */
  pending(): number[] {
    return this.timers.filter((t) => !t.cancelled).map((t) => t.at - this.nowMs).sort((a, b) => a - b);
  }
}

export class FakeCall<Req, Res> implements AdsCall<Req> {
  readonly requests: Req[] = [];
  cancelled = false;
  closed = false;

  constructor(readonly mode: 'sotw' | 'delta', private readonly handlers: AdsCallHandlers<Res>) {}

  send(request: Req): void {
    if (this.closed) throw new Error('send on a closed call');
    this.requests.push(request);
  }

  cancel(): void {
    this.cancelled = true;
    this.close(1, 'Cancelled on client');
  }

  respond(response: Res): void {
    if (this.closed) throw new Error('respond on a closed call');
    this.handlers.onResponse(response);
  }

  close(code = 14, details = 'unavailable'): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose({ code, details });
  }
}

export class FakeTransport implements AdsTransport {
  readonly server = '127.0.0.1:1';
  ready = false;
  closed = false;
  readonly calls: Array<FakeCall<DiscoveryRequest, DiscoveryResponse__Output> | FakeCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output>> = [];
  private readyCallback: ((ready: boolean) => void) | undefined;

  openSotw(handlers: AdsCallHandlers<DiscoveryResponse__Output>): AdsCall<DiscoveryRequest> {
    const call = new FakeCall<DiscoveryRequest, DiscoveryResponse__Output>('sotw', handlers);
    this.calls.push(call);
    return call;
  }

  openDelta(handlers: AdsCallHandlers<DeltaDiscoveryResponse__Output>): AdsCall<DeltaDiscoveryRequest> {
    const call = new FakeCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output>('delta', handlers);
    this.calls.push(call);
    return call;
  }

  onReadyChange(callback: (ready: boolean) => void): void {
    this.readyCallback = callback;
  }

  setReady(ready: boolean): void {
    this.ready = ready;
    this.readyCallback?.(ready);
  }

  close(): void {
    this.closed = true;
  }

  get sotw(): FakeCall<DiscoveryRequest, DiscoveryResponse__Output> {
    const call = this.calls[this.calls.length - 1];
    if (call === undefined || call.mode !== 'sotw') throw new Error('no SotW call');
    return call as FakeCall<DiscoveryRequest, DiscoveryResponse__Output>;
  }

  get delta(): FakeCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output> {
    const call = this.calls[this.calls.length - 1];
    if (call === undefined || call.mode !== 'delta') throw new Error('no delta call');
    return call as FakeCall<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output>;
  }
}

// ---- test resource types: real protos, tiny domain values ----

/** `routeFetchTimeoutMs`: the HCMs' `rds.config_source.initial_fetch_timeout` (the last one set wins; unset: none). */
export interface TestListener { readonly name: string; readonly routes: readonly string[]; readonly routeFetchTimeoutMs?: number }
/** `edsFetchTimeoutMs`: `eds_cluster_config.eds_config.initial_fetch_timeout` (unset: none). */
export interface TestCluster { readonly name: string; readonly eds?: string; readonly edsFetchTimeoutMs?: number; readonly connectTimeoutS: number }
export interface TestRoute { readonly name: string; readonly cluster: string }
export interface TestEndpoints { readonly name: string; readonly addresses: readonly string[] }


type DurationOut = { seconds: string | number; nanos: number } | null | undefined;

function durationMs(d: DurationOut): number | undefined {
  return d == null ? undefined : Number(d.seconds) * 1000 + Math.round(d.nanos / 1e6);
}

function duration(ms: number): { seconds: number; nanos: number } {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

const PROTO = {
  lds: 'envoy.config.listener.v3.Listener',
  rds: 'envoy.config.route.v3.RouteConfiguration',
  cds: 'envoy.config.cluster.v3.Cluster',
  eds: 'envoy.config.endpoint.v3.ClusterLoadAssignment',
  hcm: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
} as const;

const HCM_TYPE_URL = `type.googleapis.com/${PROTO.hcm}`;

/**
 * Listener: needs the RDS names of its HTTP connection managers (with their config source's initial_fetch_timeout),
 * and (for short unit tests) its filter chain names.
 */
export const testListenerType: XdsResourceType<TestListener> = {
  typeUrl: LISTENER_TYPE_URL,
  protoName: PROTO.lds,
  shortName: 'LDS',
  allResourcesRequiredInSotW: true,
  decode(ctx, message) {
    const m = message as { name: string; filter_chains: Array<{ name: string; filters: Array<{ typed_config: Packed | null }> }> };
    const errors = ErrorCollector.root();
    if (m.name === '') errors.add('must not be empty', 'name');
    const routes: string[] = [];
    let timeoutMs: number | undefined;
    for (const chain of m.filter_chains) {
      if (chain.name !== '') routes.push(chain.name);
      for (const filter of chain.filters) {
        if (filter.typed_config?.type_url !== HCM_TYPE_URL) continue;
        const hcm = ctx.schema.unpackAny<{ rds: { route_config_name: string; config_source: { initial_fetch_timeout: DurationOut } | null } | null }>(filter.typed_config);
        if (hcm?.rds == null) continue;
        routes.push(hcm.rds.route_config_name);
        timeoutMs = durationMs(hcm.rds.config_source?.initial_fetch_timeout) ?? timeoutMs;
      }
    }
    return { name: m.name, result: errors.result({ name: m.name, routes, ...(timeoutMs !== undefined ? { routeFetchTimeoutMs: timeoutMs } : {}) }) };
  },
  dependencies: (value) =>
    value.routes.length > 0
      ? [{ typeUrl: ROUTE_CONFIGURATION_TYPE_URL, names: value.routes, ...(value.routeFetchTimeoutMs !== undefined ? { initialFetchTimeoutMs: value.routeFetchTimeoutMs } : {}) }]
      : [],
};

export const testRouteType: XdsResourceType<TestRoute> = {
  typeUrl: ROUTE_CONFIGURATION_TYPE_URL,
  protoName: PROTO.rds,
  shortName: 'RDS',
  allResourcesRequiredInSotW: false,
  decode(_ctx, message) {
    const m = message as { name: string; virtual_hosts: Array<{ name: string }> };
    return { name: m.name, result: { ok: true, value: { name: m.name, cluster: m.virtual_hosts[0]?.name ?? '' } } };
  },
  dependencies: () => [],
};

/** Cluster: EDS clusters need their service name (or own name); a negative connect_timeout is invalid. */
export const testClusterType: XdsResourceType<TestCluster> = {
  typeUrl: CLUSTER_TYPE_URL,
  protoName: PROTO.cds,
  shortName: 'CDS',
  allResourcesRequiredInSotW: true,
  decode(_ctx, message) {
    const m = message as {
      name: string;
      type: string;
      connect_timeout: { seconds: string } | null;
      eds_cluster_config: { service_name: string; eds_config: { initial_fetch_timeout: DurationOut } | null } | null;
    };
    const errors = ErrorCollector.root();
    const seconds = Number(m.connect_timeout?.seconds ?? '5');
    if (seconds < 0) errors.add('value must be greater than 0s', 'connect_timeout');
    const eds = m.type === 'EDS' ? (m.eds_cluster_config?.service_name || m.name) : undefined;
    const timeoutMs = eds !== undefined ? durationMs(m.eds_cluster_config?.eds_config?.initial_fetch_timeout) : undefined;
    return {
      name: m.name,
      result: errors.result({ name: m.name, connectTimeoutS: seconds, ...(eds !== undefined ? { eds } : {}), ...(timeoutMs !== undefined ? { edsFetchTimeoutMs: timeoutMs } : {}) }),
    };
  },
  dependencies: (value) =>
    value.eds !== undefined
      ? [{ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, names: [value.eds], ...(value.edsFetchTimeoutMs !== undefined ? { initialFetchTimeoutMs: value.edsFetchTimeoutMs } : {}) }]
      : [],
};

export const testEndpointsType: XdsResourceType<TestEndpoints> = {
  typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  protoName: PROTO.eds,
  shortName: 'EDS',
  allResourcesRequiredInSotW: false,
  decode(_ctx, message) {
    const m = message as { cluster_name: string; endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> };
    const addresses = m.endpoints.flatMap((l) => l.lb_endpoints.map((e) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`));
    return { name: m.cluster_name, result: { ok: true, value: { name: m.cluster_name, addresses } } };
  },
  dependencies: () => [],
};

export const TEST_TYPES = [testListenerType, testRouteType, testClusterType, testEndpointsType] as readonly XdsResourceType<unknown>[];

export function testDecodeContext(): DecodeContext {
  return { schema: ProtoSchema.get(), adsClusterNames: new Set(['xds_cluster']) };
}

// ---- message builders (proto-loader input shape) ----

export type Packed = { readonly type_url: string; readonly value: Buffer };

function pack(proto: string, message: object): Packed {
  return ProtoSchema.get().packAny(proto, message) as Packed;
}

export const build = {
  listener: (name: string, routes: string[] = []): Packed => pack(PROTO.lds, { name, filter_chains: routes.map((r) => ({ name: r })) }),
  /** A listener whose HCMs use RDS over ADS with `initial_fetch_timeout` (ms) on their config source. */
  rdsListener: (name: string, routes: string[], initialFetchTimeoutMs: number): Packed =>
    pack(PROTO.lds, {
      name,
      filter_chains: routes.map((r) => ({
        filters: [{ name: 'hcm', typed_config: pack(PROTO.hcm, { rds: { route_config_name: r, config_source: { ads: {}, initial_fetch_timeout: duration(initialFetchTimeoutMs) } } }) }],
      })),
    }),
  route: (name: string, cluster = 'c'): Packed => pack(PROTO.rds, { name, virtual_hosts: [{ name: cluster, domains: ['*'] }] }),
  /** `initialFetchTimeoutMs`: set on `eds_config` (unset: the field is absent). */
  edsCluster: (name: string, serviceName?: string, initialFetchTimeoutMs?: number): Packed =>
    pack(PROTO.cds, {
      name,
      type: 'EDS',
      connect_timeout: { seconds: 1 },
      eds_cluster_config: {
        eds_config: { ads: {}, ...(initialFetchTimeoutMs !== undefined ? { initial_fetch_timeout: duration(initialFetchTimeoutMs) } : {}) },
        ...(serviceName !== undefined ? { service_name: serviceName } : {}),
      },
    }),
  staticCluster: (name: string): Packed => pack(PROTO.cds, { name, type: 'STATIC', connect_timeout: { seconds: 1 } }),
  badCluster: (name: string): Packed => pack(PROTO.cds, { name, type: 'STATIC', connect_timeout: { seconds: -1 } }),
  endpoints: (name: string, ...addresses: string[]): Packed =>
    pack(PROTO.eds, {
      cluster_name: name,
      endpoints: [{ lb_endpoints: addresses.map((a) => ({ endpoint: { address: { socket_address: { address: a.split(':')[0], port_value: Number(a.split(':')[1]) } } } })) }],
    }),
};

export function sotwResponse(typeUrl: string, version: string, nonce: string, resources: Packed[]): DiscoveryResponse__Output {
  return { type_url: typeUrl, version_info: version, nonce, resources, canary: false, control_plane: null };
}

export function deltaResponse(typeUrl: string, nonce: string, resources: Array<{ name: string; version: string; any: Packed }>, removed: string[] = [], systemVersion = ''): DeltaDiscoveryResponse__Output {
  return {
    type_url: typeUrl,
    nonce,
    system_version_info: systemVersion,
    removed_resources: removed,
    removed_resource_names: [],
    control_plane: null,
    resources: resources.map((r) => ({ name: r.name, version: r.version, resource: r.any, aliases: [], ttl: null, cache_control: null, resource_name: null, metadata: null })),
  };
}
