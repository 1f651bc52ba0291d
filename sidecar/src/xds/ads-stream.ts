// The ADS transport: one gRPC channel to the xDS server and its StreamAggregatedResources / DeltaAggregatedResources calls.

import * as grpc from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest } from '../../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DeltaDiscoveryResponse__Output } from '../../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import type { DiscoveryRequest } from '../../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryResponse';
import type { ProtoSchema } from './proto-schema';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** istiod LDS/CDS responses in big meshes exceed gRPC's 4 MiB default (specs/xds.md §1.7). */
export const ADS_MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024;
/** As grpc-js-xds. */
export const ADS_KEEPALIVE_TIME_MS = 300_000;

/** How a call ended: the gRPC status code (0 = OK) and its details. */
export interface AdsCallStatus {
  readonly code: number;
  readonly details: string;
}

/** Callbacks of one ADS call. */
export interface AdsCallHandlers<Response> {
  onResponse(response: Response): void;
  /** Called exactly once when the call ends, whatever the reason (server close, failure, `cancel()`). */
  onClose(status: AdsCallStatus): void;
}

/** One open ADS call: requests go out with `send`; `cancel` ends it (onClose follows with CANCELLED). */
export interface AdsCall<Request> {
  send(request: Request): void;
  cancel(): void;
}

/**
 * A connection to one xDS server able to open ADS calls. The XdsClient opens one call at a time and a new one
 * after each ends. Tests substitute a fake; production uses `GrpcAdsTransport`.
 */
export interface AdsTransport {
  /** `host:port`, for status and logs. */
  readonly server: string;
  /** True while the channel is READY (A57: does-not-exist timers run only then). */
  readonly ready: boolean;
  openSotw(handlers: AdsCallHandlers<DiscoveryResponse__Output>): AdsCall<DiscoveryRequest>;
  openDelta(handlers: AdsCallHandlers<DeltaDiscoveryResponse__Output>): AdsCall<DeltaDiscoveryRequest>;
  /** Registers the one readiness callback (called on every change of `ready`). */
  onReadyChange(callback: (ready: boolean) => void): void;
  /** Closes the channel; open calls end with CANCELLED. */
  close(): void;
}

export interface GrpcAdsTransportOptions {
  /** `host:port` of the ADS server. */
  readonly server: string;
  readonly schema: ProtoSchema;
  /** Channel credentials; insecure when absent. The seam for TLS to istiod:15012. */
  readonly credentials?: grpc.ChannelCredentials;
  /** Metadata for each new call (e.g. `authorization: Bearer <token>`, re-read per call so tokens can rotate). */
  readonly callMetadata?: () => grpc.Metadata;
  /** Extra channel options, merged over the defaults (64 MiB receive limit, 5 min keepalive). */
  readonly channelOptions?: grpc.ChannelOptions;
}

/**
 * ADS over a grpc-js channel. The channel reconnects by itself; calls are opened by the XdsClient, which applies
 * its own stream backoff (A57). Messages are in proto-loader object shape (snake_case, enums and int64 as
 * strings, Any as `{type_url, value}`).
 */
export class GrpcAdsTransport implements AdsTransport {
  readonly server: string;
  private readonly client: grpc.Client;
  private readonly sotwMethod: grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse__Output>;
  private readonly deltaMethod: grpc.MethodDefinition<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output>;
  private readyCallback: ((ready: boolean) => void) | undefined;
  private readyState = false;
  private closed = false;

  constructor(private readonly options: GrpcAdsTransportOptions) {
    this.server = options.server;
    const definition = options.schema.serviceDefinition(ADS_SERVICE);
    const sotw = definition['StreamAggregatedResources'];
    const delta = definition['DeltaAggregatedResources'];
    if (sotw === undefined || delta === undefined) throw new Error(`${ADS_SERVICE} lacks its ADS methods`);
    this.sotwMethod = sotw as grpc.MethodDefinition<DiscoveryRequest, DiscoveryResponse__Output>;
    this.deltaMethod = delta as grpc.MethodDefinition<DeltaDiscoveryRequest, DeltaDiscoveryResponse__Output>;
    const Constructor = grpc.makeGenericClientConstructor(definition, 'AggregatedDiscoveryService');
    this.client = new Constructor(options.server, options.credentials ?? grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': ADS_MAX_RECEIVE_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': ADS_KEEPALIVE_TIME_MS,
      ...options.channelOptions,
    });
    this.watchChannel();
  }

  get ready(): boolean {
    return this.readyState;
  }

  onReadyChange(callback: (ready: boolean) => void): void {
    this.readyCallback = callback;
  }

  openSotw(handlers: AdsCallHandlers<DiscoveryResponse__Output>): AdsCall<DiscoveryRequest> {
    return this.open(this.sotwMethod, handlers);
  }

  openDelta(handlers: AdsCallHandlers<DeltaDiscoveryResponse__Output>): AdsCall<DeltaDiscoveryRequest> {
    return this.open(this.deltaMethod, handlers);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }

  private open<Req, Res>(method: grpc.MethodDefinition<Req, Res>, handlers: AdsCallHandlers<Res>): AdsCall<Req> {
    const metadata = this.options.callMetadata?.() ?? new grpc.Metadata();
    const call = this.client.makeBidiStreamRequest<Req, Res>(method.path, method.requestSerialize, method.responseDeserialize, metadata);
    let ended = false;
    const end = (status: AdsCallStatus): void => {
      if (ended) return;
      ended = true;
      handlers.onClose(status);
    };
    call.on('data', (response: Res) => {
      if (!ended) handlers.onResponse(response);
    });
    call.on('status', (status: grpc.StatusObject) => end({ code: status.code, details: status.details }));
    // A non-OK status is also emitted as 'error'; without a listener it would be thrown.
    call.on('error', (error: grpc.ServiceError) => end({ code: error.code ?? grpc.status.UNKNOWN, details: error.details ?? error.message }));
    return {
      send: (request) => {
        if (!ended) call.write(request);
      },
      cancel: () => {
        if (!ended) call.cancel();
      },
    };
  }

  /** Follows the channel's connectivity state for `ready` (no timer: the watch has no deadline). */
  private watchChannel(): void {
    const channel = this.client.getChannel();
    const watch = (): void => {
      if (this.closed) return;
      const state = channel.getConnectivityState(false);
      const ready = state === grpc.connectivityState.READY;
      if (ready !== this.readyState) {
        this.readyState = ready;
        this.readyCallback?.(ready);
      }
      if (state === grpc.connectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(state, Infinity, () => watch());
    };
    watch();
  }
}
