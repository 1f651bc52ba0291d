// The ADS client: subscriptions, ACK/NACK, versions and nonces, reconnect and timers, per-resource status, and
// the cache the snapshot assembler turns into complete ConfigSnapshots.

import type * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Backoff, type BackoffOptions } from '../core/backoff';
import { systemClock, type Clock, type TimerHandle } from '../core/clock';
import { formatErrors, type FieldError } from '../core/validation';
import { DEFAULT_INITIAL_FETCH_TIMEOUT_MS } from '../config/listener-config';
import { SnapshotStore } from '../config/snapshot-store';
import type { Node } from '../../../xds-protos/generated/envoy/config/core/v3/Node';
import type { DeltaDiscoveryRequest } from '../../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DeltaDiscoveryResponse__Output } from '../../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import type { DiscoveryRequest } from '../../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse__Output } from '../../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryResponse';
import { GrpcAdsTransport, type AdsCall, type AdsCallStatus, type AdsTransport } from './ads-stream';
import type { AnyMessage } from './type-url';
import type { DecodeContext, XdsResourceType } from './resources/resource-type';
import { SnapshotAssembler, type DynamicResourceView, type Resolution, type StaticResources, type XdsLogger } from './snapshot-assembler';

/** google.rpc.Code INVALID_ARGUMENT, the NACK `error_detail.code`. */
const NACK_CODE = 3;
const USER_AGENT_NAME = 'meshlet';
const MAX_SEEN_NONCES = 32;

export type ResourceStatusKind = 'REQUESTED' | 'ACKED' | 'NACKED' | 'DOES_NOT_EXIST';

/** One resource as the config dump shows it. */
export interface ResourceStatus {
  readonly typeUrl: string;
  readonly name: string;
  /** Version of the last accepted value ('' when none was accepted). */
  readonly version: string;
  readonly status: ResourceStatusKind;
  /** Why the last update of this resource was rejected (NACKED only). */
  readonly error?: string;
  /** ISO 8601 time of the last status change. */
  readonly lastUpdated: string;
  /** The last accepted domain value (still in use while NACKED). */
  readonly lastGood?: unknown;
}

export interface AckRecord {
  /** SotW: the response's version_info; delta: its system_version_info. */
  readonly version: string;
  readonly nonce: string;
  /** ISO 8601. */
  readonly at: string;
}

export interface NackRecord extends AckRecord {
  readonly error: string;
}

/** One resource type's sub-stream. */
export interface TypeStatus {
  readonly typeUrl: string;
  readonly shortName: XdsResourceType<unknown>['shortName'];
  /** LDS and CDS: subscribed to everything; RDS and EDS: by name. */
  readonly wildcard: boolean;
  /** Last accepted version (kept across reconnects). */
  readonly version: string;
  /** Latest nonce received on the current stream ('' right after a reconnect). */
  readonly nonce: string;
  readonly lastAck?: AckRecord;
  readonly lastNack?: NackRecord;
  /** Responses ACKed / NACKed since start (metrics: Envoy `update_success` / `update_rejected`). */
  readonly updatesAccepted: number;
  readonly updatesRejected: number;
}

export type ConnectionState = 'CONNECTING' | 'CONNECTED' | 'BACKOFF';

export interface ConnectionStatus {
  readonly state: ConnectionState;
  /** `host:port` of the ADS server. */
  readonly server: string;
  /** The last stream failure before any response (`code details`); A57 does not count healthy closes. */
  readonly lastError?: string;
  /** Streams opened after the first one. */
  readonly reconnects: number;
}

export interface XdsClientOptions {
  /** `host:port` of the ADS server. */
  readonly server: string;
  /** Node identity (specs/xds.md §4.4); `user_agent_name`/`user_agent_version` are filled in. Sent on each stream's first request. */
  readonly node: Node;
  /** DeltaAggregatedResources instead of StreamAggregatedResources. */
  readonly delta?: boolean;
  /** LDS, RDS, CDS and EDS (from `resources/resource-types.ts`). Types not listed are NACKed if the server sends them. */
  readonly resourceTypes: readonly XdsResourceType<unknown>[];
  /**
   * Type URLs to subscribe as wildcard (from `dynamic_resources.lds_config` / `cds_config`). Default: every type
   * with `allResourcesRequiredInSotW` (LDS and CDS). The other types are subscribed by name, as resources need them.
   */
  readonly wildcardTypeUrls?: readonly string[];
  readonly decodeContext: DecodeContext;
  /**
   * Wildcard types only (LDS/CDS, from the bootstrap's `lds_config`/`cds_config`): `initial_fetch_timeout` per type
   * URL in ms (default 15 000; 0 = wait forever). Named types (RDS/EDS) take theirs from the resources that refer
   * to them (`dependencies()`); entries for them here are ignored.
   */
  readonly initialFetchTimeoutsMs?: Readonly<Record<string, number>>;
  /** Static bootstrap resources: always in the snapshot, never removed by xDS. */
  readonly staticResources?: StaticResources;
  /** Where complete snapshots are published (default: a new store, see `store`). */
  readonly store?: SnapshotStore;
  readonly clock?: Clock;
  /** Stream reconnect backoff (default 1 s x1.6 +-20 % up to 120 s). */
  readonly backoff?: BackoffOptions;
  readonly logger?: XdsLogger;
  /** Channel credentials (default insecure) and per-call metadata: the seam for TLS + token to istiod. */
  readonly credentials?: grpc.ChannelCredentials;
  readonly callMetadata?: () => grpc.Metadata;
  /** Extra grpc-js channel options (tests shorten grpc's own reconnect backoff with these). */
  readonly channelOptions?: grpc.ChannelOptions;
  /** Replaces the gRPC transport (unit tests). */
  readonly transport?: AdsTransport;
  /** Default: the version in meshlet's package.json. */
  readonly userAgentVersion?: string;
}

interface Entry {
  readonly name: string;
  status: ResourceStatusKind;
  version: string;
  error: string | undefined;
  lastUpdatedMs: number;
  hasValue: boolean;
  value: unknown;
  /** Digest of the accepted bytes: an identical resend is not a change (a digest, not the bytes, which would pin the response buffer). */
  digest: string | undefined;
  /** Named types: how long to wait for a first value, in ms (0 = forever), from the referrers (`longerWait`). */
  waitLimitMs: number;
  /** When the wait began on the current live stream (undefined: not yet on this stream). */
  waitStartedMs: number | undefined;
  /** Fires `waitLimitMs` after `waitStartedMs`: the resource is then DOES_NOT_EXIST (absent). */
  waitTimer: TimerHandle | undefined;
}

interface TypeState {
  readonly type: XdsResourceType<unknown>;
  readonly wildcard: boolean;
  /** Wildcard types: the type's `initial_fetch_timeout` (0 = forever). */
  readonly fetchTimeoutMs: number;
  /** Wildcard: every resource received; named: exactly the subscribed names. */
  readonly entries: Map<string, Entry>;
  version: string;
  nonce: string;
  /** Recent nonces received on the current stream, to recognise a resend with an old nonce. */
  seenNonces: string[];
  lastAck: AckRecord | undefined;
  lastNack: NackRecord | undefined;
  updatesAccepted: number;
  updatesRejected: number;
  /** Wildcard types: first response arrived or the initial fetch timed out. */
  settled: boolean;
  fetchTimer: TimerHandle | undefined;
  /** Names the current stream was last told (undefined: nothing sent on this stream yet). */
  sent: ReadonlySet<string> | undefined;
}

/** One resource of a response, before decoding. */
interface Incoming {
  readonly index: number;
  readonly any: AnyMessage | null;
  /** Delta: the Resource wrapper's name and version. */
  readonly name?: string;
  readonly version: string;
}

interface Decoded {
  readonly name: string;
  readonly value?: unknown;
  readonly digest?: string;
  readonly errors?: readonly FieldError[];
}

const REQUEST_ORDER: Readonly<Record<XdsResourceType<unknown>['shortName'], number>> = { CDS: 0, LDS: 1, EDS: 2, RDS: 3 };

const RESOURCE_KIND: Readonly<Record<XdsResourceType<unknown>['shortName'], string>> = {
  LDS: 'listener',
  RDS: 'route configuration',
  CDS: 'cluster',
  EDS: 'cluster load assignment',
};

/**
 * A generic xDS client over one ADS stream (specs/xds.md §1, gRPC A46/A57), SotW or delta:
 * - LDS/CDS wildcard (legacy empty list); RDS/EDS named, always the full current list with the latest nonce and
 *   the last accepted version, computed from the resources' `dependencies()`; never an empty named list.
 * - ACK with the new version; NACK with `error_detail` naming every invalid resource and field path, version
 *   left at the last accepted; valid resources of a NACKed response are applied, invalid ones keep their last good
 *   value; duplicate names are NACKed. SotW absence deletes only for LDS/CDS.
 * - Stream closed after a response: reconnect at once; failed before one: back off; backoff resets on any
 *   response. The cache survives reconnects; versions are resent, nonces are not.
 * - Wildcard types: the bootstrap's per-type initial fetch timer stops a type from blocking the first snapshot.
 *   Named resources: one wait timer each, limit from the ConfigSources that refer to them (`longerWait`), run only
 *   while the stream is up; on expiry the resource is DOES_NOT_EXIST and stops blocking. 0 waits forever.
 * Every change is handed to the SnapshotAssembler, which publishes complete snapshots to `store`.
 */
export class XdsClient {
  /** Complete snapshots land here; `store.current !== undefined` means ready. */
  readonly store: SnapshotStore;
  private readonly options: XdsClientOptions;
  private readonly clock: Clock;
  private readonly logger: XdsLogger | undefined;
  private readonly backoff: Backoff;
  private readonly assembler: SnapshotAssembler;
  private readonly types = new Map<string, TypeState>();
  private readonly wildcardTypeUrls: readonly string[];
  private readonly node: Node;
  private readonly view: DynamicResourceView;
  private transport: AdsTransport | undefined;
  private sotwCall: AdsCall<DiscoveryRequest> | undefined;
  private deltaCall: AdsCall<DeltaDiscoveryRequest> | undefined;
  /** Increments per stream; events of older streams are dropped. */
  private streamId = 0;
  private nodeSent = false;
  private receivedResponse = false;
  private streamUp = false;
  private retryTimer: TimerHandle | undefined;
  private started = false;
  private stopped = false;
  private state: ConnectionState = 'CONNECTING';
  private lastError: string | undefined;
  private reconnects = 0;

  constructor(options: XdsClientOptions) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    this.backoff = new Backoff(options.backoff);
    this.store = options.store ?? new SnapshotStore();
    this.wildcardTypeUrls = options.wildcardTypeUrls ?? options.resourceTypes.filter((t) => t.allResourcesRequiredInSotW).map((t) => t.typeUrl);
    const ordered = [...options.resourceTypes].sort((a, b) => REQUEST_ORDER[a.shortName] - REQUEST_ORDER[b.shortName]);
    for (const type of ordered) {
      this.types.set(type.typeUrl, {
        type,
        wildcard: this.wildcardTypeUrls.includes(type.typeUrl),
        fetchTimeoutMs: options.initialFetchTimeoutsMs?.[type.typeUrl] ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
        entries: new Map(),
        version: '',
        nonce: '',
        seenNonces: [],
        lastAck: undefined,
        lastNack: undefined,
        updatesAccepted: 0,
        updatesRejected: 0,
        settled: false,
        fetchTimer: undefined,
        sent: undefined,
      });
    }
    this.node = {
      ...options.node,
      user_agent_name: USER_AGENT_NAME,
      user_agent_version: options.userAgentVersion ?? meshletVersion(),
    };
    this.assembler = new SnapshotAssembler({
      store: this.store,
      resourceTypes: options.resourceTypes,
      ...(options.staticResources !== undefined ? { staticResources: options.staticResources } : {}),
      clock: this.clock,
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
    });
    this.view = {
      wildcardTypeUrls: this.wildcardTypeUrls.filter((url) => this.types.has(url)),
      values: (typeUrl) => this.values(typeUrl),
      value: (typeUrl, name) => {
        const entry = this.types.get(typeUrl)?.entries.get(name);
        return entry?.hasValue === true ? entry.value : undefined;
      },
      resolution: (typeUrl, name) => this.resolution(typeUrl, name),
      typeSettled: (typeUrl) => this.types.get(typeUrl)?.settled ?? true,
    };
  }

  /** Opens the ADS stream and starts the initial fetch timers. Idempotent; a stopped client stays stopped. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    const transport =
      this.options.transport ??
      new GrpcAdsTransport({
        server: this.options.server,
        schema: this.options.decodeContext.schema,
        ...(this.options.credentials !== undefined ? { credentials: this.options.credentials } : {}),
        ...(this.options.callMetadata !== undefined ? { callMetadata: this.options.callMetadata } : {}),
        ...(this.options.channelOptions !== undefined ? { channelOptions: this.options.channelOptions } : {}),
      });
    this.transport = transport;
    transport.onReadyChange((ready) => this.onChannelReady(ready));
    for (const ts of this.types.values()) {
      if (ts.wildcard && ts.fetchTimeoutMs > 0) {
        ts.fetchTimer = this.clock.setTimeout(() => this.onTypeFetchTimeout(ts), ts.fetchTimeoutMs);
      }
    }
    this.updateSubscriptions();
    this.openStream();
    this.assembler.assemble(this.view);
  }

  /** Ends the stream, the channel and every timer. The last snapshot stays in `store`. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.retryTimer?.cancel();
    for (const ts of this.types.values()) {
      ts.fetchTimer?.cancel();
      for (const entry of ts.entries.values()) stopWait(entry);
    }
    const sotw = this.sotwCall;
    const delta = this.deltaCall;
    this.sotwCall = undefined;
    this.deltaCall = undefined;
    sotw?.cancel();
    delta?.cancel();
    this.transport?.close();
  }

  /** The ADS connection as the config dump shows it. */
  get connection(): ConnectionStatus {
    return {
      state: this.state,
      server: this.transport?.server ?? this.options.server,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      reconnects: this.reconnects,
    };
  }

  /** Per-type version, nonce and last ACK/NACK, in request order (CDS, LDS, EDS, RDS). */
  typeStatuses(): TypeStatus[] {
    return [...this.types.values()].map((ts) => ({
      typeUrl: ts.type.typeUrl,
      shortName: ts.type.shortName,
      wildcard: ts.wildcard,
      version: ts.version,
      nonce: ts.nonce,
      ...(ts.lastAck !== undefined ? { lastAck: ts.lastAck } : {}),
      ...(ts.lastNack !== undefined ? { lastNack: ts.lastNack } : {}),
      updatesAccepted: ts.updatesAccepted,
      updatesRejected: ts.updatesRejected,
    }));
  }

  /** Every known or requested resource (of one type when given), sorted by type then name. */
  resourceStatuses(typeUrl?: string): ResourceStatus[] {
    const out: ResourceStatus[] = [];
    for (const ts of this.types.values()) {
      if (typeUrl !== undefined && ts.type.typeUrl !== typeUrl) continue;
      const names = [...ts.entries.keys()].sort();
      for (const name of names) {
        const e = ts.entries.get(name) as Entry;
        out.push({
          typeUrl: ts.type.typeUrl,
          name,
          version: e.version,
          status: e.status,
          ...(e.error !== undefined ? { error: e.error } : {}),
          lastUpdated: new Date(e.lastUpdatedMs).toISOString(),
          ...(e.hasValue ? { lastGood: e.value } : {}),
        });
      }
    }
    return out;
  }

  /** What the last assembly waited for (e.g. `EDS 'outbound|9080||reviews'`); empty once complete. */
  get pendingDependencies(): readonly string[] {
    return this.assembler.missing;
  }

  // ---- stream lifecycle (A57) ----

  private openStream(): void {
    if (this.stopped || this.transport === undefined) return;
    const id = ++this.streamId;
    this.receivedResponse = false;
    this.streamUp = false;
    this.nodeSent = false;
    this.state = 'CONNECTING';
    for (const ts of this.types.values()) {
      ts.nonce = '';
      ts.seenNonces = [];
      ts.sent = undefined;
    }
    const onClose = (status: AdsCallStatus): void => {
      if (id === this.streamId) this.onStreamClosed(status);
    };
    if (this.options.delta === true) {
      this.deltaCall = this.transport.openDelta({
        onResponse: (response) => {
          if (id === this.streamId) this.onResponse(() => this.handleDelta(response));
        },
        onClose,
      });
    } else {
      this.sotwCall = this.transport.openSotw({
        onResponse: (response) => {
          if (id === this.streamId) this.onResponse(() => this.handleSotw(response));
        },
        onClose,
      });
    }
    this.logger?.debug({ server: this.transport.server, stream: id, delta: this.options.delta === true }, 'ADS stream opened');
    // New stream: every type once, wildcard first, with the last accepted versions, full names and no nonce.
    for (const ts of this.types.values()) this.sendRequest(ts);
    if (this.transport.ready) this.markStreamUp();
  }

  private onStreamClosed(status: AdsCallStatus): void {
    this.sotwCall = undefined;
    this.deltaCall = undefined;
    this.markStreamDown();
    if (this.stopped) return;
    if (this.receivedResponse) {
      // A57: a stream that worked and then ended (e.g. max connection age) is not an error.
      this.logger?.info({ code: status.code, details: status.details }, 'ADS stream closed after responses; reconnecting');
      this.reconnects += 1;
      this.openStream();
      return;
    }
    const delayMs = this.backoff.next();
    this.lastError = `${status.code} ${status.details}`;
    this.state = 'BACKOFF';
    this.logger?.warn({ code: status.code, details: status.details, retryInMs: delayMs }, 'ADS stream failed before any response; backing off');
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.reconnects += 1;
      this.openStream();
    }, delayMs);
  }

  private onChannelReady(ready: boolean): void {
    if (this.stopped) return;
    if (ready && (this.sotwCall !== undefined || this.deltaCall !== undefined)) {
      this.markStreamUp();
    } else if (!ready && !this.receivedResponse) {
      this.markStreamDown();
      if (this.state === 'CONNECTED') this.state = 'CONNECTING';
    }
  }

  private markStreamUp(): void {
    this.state = 'CONNECTED';
    if (this.streamUp) return;
    this.streamUp = true;
    this.armWaitTimers();
  }

  /** A57: no wait timers while the server is unreachable; each starts afresh with the next stream. */
  private markStreamDown(): void {
    this.streamUp = false;
    for (const ts of this.types.values()) {
      for (const entry of ts.entries.values()) {
        stopWait(entry);
        entry.waitStartedMs = undefined;
      }
    }
  }

  private onResponse(handle: () => boolean): void {
    if (this.stopped) return;
    if (!this.receivedResponse) {
      this.receivedResponse = true;
      this.backoff.reset();
    }
    this.markStreamUp();
    let changed = false;
    try {
      changed = handle();
    } catch (error) {
      // Decoders never throw; this is a bug here. Keep the stream and the cache.
      this.logger?.error({ err: error }, 'processing an ADS response failed');
    }
    if (changed) this.afterChange();
  }

  // ---- requests ----

  /** Sends the type's current subscription (and ACK or NACK when `reply` is given) on the open stream. */
  private sendRequest(ts: TypeState, reply?: { nonce: string; error?: string }): void {
    if (this.sotwCall !== undefined) this.sendSotw(this.sotwCall, ts, reply);
    else if (this.deltaCall !== undefined) this.sendDelta(this.deltaCall, ts, reply);
    this.armWaitTimers();
  }

  private sendSotw(call: AdsCall<DiscoveryRequest>, ts: TypeState, reply: { nonce: string; error?: string } | undefined): void {
    const names = ts.wildcard ? [] : [...ts.entries.keys()];
    // istiod drops an RDS/EDS watch on an empty list, and a legacy server reads it as wildcard.
    if (!ts.wildcard && names.length === 0) return;
    const request: DiscoveryRequest = {
      type_url: ts.type.typeUrl,
      version_info: ts.version,
      resource_names: names,
      response_nonce: reply?.nonce ?? ts.nonce,
      ...(reply?.error !== undefined ? { error_detail: { code: NACK_CODE, message: reply.error } } : {}),
      ...this.nodeOnce(),
    };
    ts.sent = new Set(names);
    call.send(request);
  }

  private sendDelta(call: AdsCall<DeltaDiscoveryRequest>, ts: TypeState, reply: { nonce: string; error?: string } | undefined): void {
    const wanted = ts.wildcard ? new Set<string>() : new Set(ts.entries.keys());
    let subscribe: string[];
    let unsubscribe: string[] = [];
    let initialVersions: Record<string, string> | undefined;
    if (ts.sent === undefined) {
      // First request of the type on this stream: empty subscribe = legacy wildcard, so named types wait for names.
      if (!ts.wildcard && wanted.size === 0) return;
      subscribe = [...wanted];
      initialVersions = {};
      for (const entry of ts.entries.values()) {
        if (entry.hasValue) initialVersions[entry.name] = entry.version;
      }
    } else {
      subscribe = [...wanted].filter((n) => !(ts.sent as ReadonlySet<string>).has(n));
      unsubscribe = [...ts.sent].filter((n) => !wanted.has(n));
      if (reply === undefined && subscribe.length === 0 && unsubscribe.length === 0) return;
    }
    const request: DeltaDiscoveryRequest = {
      type_url: ts.type.typeUrl,
      resource_names_subscribe: subscribe,
      resource_names_unsubscribe: unsubscribe,
      response_nonce: reply?.nonce ?? '',
      ...(initialVersions !== undefined && Object.keys(initialVersions).length > 0 ? { initial_resource_versions: initialVersions } : {}),
      ...(reply?.error !== undefined ? { error_detail: { code: NACK_CODE, message: reply.error } } : {}),
      ...this.nodeOnce(),
    };
    ts.sent = wanted;
    call.send(request);
  }

  private nodeOnce(): { node?: Node } {
    if (this.nodeSent) return {};
    this.nodeSent = true;
    return { node: this.node };
  }

  private ack(ts: TypeState, nonce: string, version: string, error: string | undefined): void {
    const at = new Date(this.clock.now()).toISOString();
    if (error === undefined) {
      ts.lastAck = { version, nonce, at };
      ts.updatesAccepted += 1;
    } else {
      ts.lastNack = { version, nonce, at, error };
      ts.updatesRejected += 1;
      this.logger?.warn({ typeUrl: ts.type.typeUrl, version, nonce, error }, 'xDS response rejected (NACK)');
    }
    this.sendRequest(ts, error === undefined ? { nonce } : { nonce, error });
  }

  // ---- responses ----

  /** Returns whether the cache changed. */
  private handleSotw(response: DiscoveryResponse__Output): boolean {
    const ts = this.types.get(response.type_url);
    this.logger?.debug({ typeUrl: response.type_url, version: response.version_info, nonce: response.nonce, resources: response.resources.length }, 'ADS response');
    if (ts === undefined) {
      this.rejectUnknownType(response.type_url, response.nonce);
      return false;
    }
    if (this.isStaleNonce(ts, response.nonce)) return false;
    const incoming = response.resources.map((any, index): Incoming => ({ index, any, version: response.version_info }));
    const { changed, errors, seen, complete } = this.applyResources(ts, incoming);
    let deleted = false;
    if (ts.type.allResourcesRequiredInSotW && complete) {
      // SotW full state: a known resource missing from the response is gone (invalid ones count as present).
      for (const [name, entry] of ts.entries) {
        if (seen.has(name)) continue;
        stopWait(entry);
        ts.entries.delete(name);
        deleted = true;
      }
    }
    const error = errors.length > 0 ? errors.join('\n') : undefined;
    if (error === undefined) ts.version = response.version_info;
    const settled = this.settle(ts);
    this.ack(ts, response.nonce, response.version_info, error);
    return changed || deleted || settled;
  }

  private handleDelta(response: DeltaDiscoveryResponse__Output): boolean {
    const ts = this.types.get(response.type_url);
    this.logger?.debug(
      { typeUrl: response.type_url, version: response.system_version_info, nonce: response.nonce, resources: response.resources.length, removed: response.removed_resources.length },
      'ADS delta response',
    );
    if (ts === undefined) {
      this.rejectUnknownType(response.type_url, response.nonce);
      return false;
    }
    if (this.isStaleNonce(ts, response.nonce)) return false;
    const incoming: Incoming[] = [];
    response.resources.forEach((resource, index) => {
      // A Resource without a body is a TTL heartbeat; nothing to apply.
      if (resource.resource !== null) incoming.push({ index, any: resource.resource, name: resource.name, version: resource.version });
    });
    let { changed, errors } = this.applyResources(ts, incoming);
    const removed = new Set([...response.removed_resources, ...response.removed_resource_names.map((r) => r.name)]);
    for (const name of removed) {
      const entry = ts.entries.get(name);
      if (entry === undefined) continue;
      stopWait(entry);
      if (ts.wildcard) {
        ts.entries.delete(name);
      } else {
        entry.hasValue = false;
        entry.value = undefined;
        entry.digest = undefined;
        entry.version = '';
        entry.error = undefined;
        entry.status = 'DOES_NOT_EXIST';
        entry.lastUpdatedMs = this.clock.now();
      }
      changed = true;
    }
    const error = errors.length > 0 ? errors.join('\n') : undefined;
    if (error === undefined) ts.version = response.system_version_info;
    const settled = this.settle(ts);
    this.ack(ts, response.nonce, response.system_version_info, error);
    return changed || settled;
  }

  /**
   * A response carrying a nonce this stream already received for the type is a resend of an older response: its
   * content is not newer than what we have, and replying with its nonce would be a stale request the server
   * ignores (istiod drops those with their subscription changes). Skip it and keep replying with the latest nonce.
   * Otherwise records the nonce as the type's latest.
   */
  private isStaleNonce(ts: TypeState, nonce: string): boolean {
    if (nonce !== '' && ts.seenNonces.includes(nonce)) {
      this.logger?.info({ typeUrl: ts.type.typeUrl, nonce, latest: ts.nonce }, 'xDS response with an already-seen nonce ignored');
      return true;
    }
    ts.nonce = nonce;
    ts.seenNonces.push(nonce);
    if (ts.seenNonces.length > MAX_SEEN_NONCES) ts.seenNonces.shift();
    return false;
  }

  private rejectUnknownType(typeUrl: string, nonce: string): void {
    this.logger?.warn({ typeUrl }, 'xDS response for a type meshlet does not subscribe to; NACKed');
    const error = `meshlet does not handle resource type ${typeUrl}`;
    if (this.sotwCall !== undefined) {
      this.sotwCall.send({ type_url: typeUrl, response_nonce: nonce, error_detail: { code: NACK_CODE, message: error }, ...this.nodeOnce() });
    } else if (this.deltaCall !== undefined) {
      this.deltaCall.send({ type_url: typeUrl, response_nonce: nonce, error_detail: { code: NACK_CODE, message: error }, ...this.nodeOnce() });
    }
  }

  /**
   * Decodes and applies a response's resources (A46: valid ones applied, invalid ones keep their last good value).
   * `errors` are the NACK lines; `seen` every name present; `complete` false when a resource had no usable name.
   */
  private applyResources(ts: TypeState, incoming: readonly Incoming[]): { changed: boolean; errors: string[]; seen: Set<string>; complete: boolean } {
    const kind = RESOURCE_KIND[ts.type.shortName];
    const decoded = incoming.map((item) => ({ item, result: this.decode(ts, item) }));
    const counts = new Map<string, number>();
    for (const { result } of decoded) counts.set(result.name, (counts.get(result.name) ?? 0) + 1);
    const errors: string[] = [];
    const seen = new Set<string>();
    let changed = false;
    let complete = true;
    const now = this.clock.now();
    for (const { item, result } of decoded) {
      const name = result.name;
      if (name === '') {
        complete = false;
        errors.push(`${kind} #${item.index} (no name): ${formatErrors(result.errors ?? [{ path: 'name', message: 'must not be empty' }]).replace(/\n/g, '; ')}`);
        continue;
      }
      seen.add(name);
      // Unrequested named resources are ignored (specs/xds.md §1.3).
      if (!ts.wildcard && !ts.entries.has(name)) continue;
      const count = counts.get(name) ?? 0;
      const fieldErrors = count > 1 ? [{ path: '', message: `appears ${count} times in the response` }] : result.errors;
      if (fieldErrors !== undefined) {
        if (count > 1 && errors.some((line) => line.startsWith(`${kind} '${name}': appears`))) continue;
        const message = formatErrors(fieldErrors).replace(/\n/g, '; ');
        errors.push(`${kind} '${name}': ${message}`);
        changed = this.markRejected(ts, name, message, now) || changed;
        continue;
      }
      changed = this.markAccepted(ts, name, result.value, result.digest, item.version, now) || changed;
    }
    return { changed, errors, seen, complete };
  }

  private decode(ts: TypeState, item: Incoming): Decoded {
    const fallbackName = item.name ?? '';
    const any = item.any;
    if (any === null) return { name: fallbackName, errors: [{ path: '', message: 'resource is empty' }] };
    if (any.type_url !== ts.type.typeUrl) {
      return { name: fallbackName, errors: [{ path: '', message: `type_url ${any.type_url} does not match the response's ${ts.type.typeUrl}` }] };
    }
    const ctx = this.options.decodeContext;
    let message: unknown;
    try {
      message = ctx.schema.decode(ts.type.protoName, any.value);
    } catch (error) {
      return { name: fallbackName, errors: [{ path: '', message: `cannot decode ${ts.type.protoName}: ${(error as Error).message}` }] };
    }
    let decoded;
    try {
      decoded = ts.type.decode(ctx, message);
    } catch (error) {
      return { name: fallbackName, errors: [{ path: '', message: `decoder failed: ${(error as Error).message}` }] };
    }
    if (item.name !== undefined && decoded.name !== item.name) {
      return { name: item.name, errors: [{ path: 'name', message: `'${decoded.name}' differs from the delta resource name` }] };
    }
    if (!decoded.result.ok) return { name: decoded.name, errors: decoded.result.errors };
    if (decoded.result.warnings !== undefined) {
      this.logger?.debug({ typeUrl: ts.type.typeUrl, name: decoded.name, warnings: formatErrors(decoded.result.warnings) }, 'xDS resource accepted with warnings');
    }
    return { name: decoded.name, value: decoded.result.value, digest: createHash('sha1').update(any.value).digest('base64') };
  }

  private entryFor(ts: TypeState, name: string, now: number): Entry {
    let entry = ts.entries.get(name);
    if (entry === undefined) {
      entry = newEntry(name, now, 0);
      ts.entries.set(name, entry);
    }
    return entry;
  }

  /** Returns whether the usable value changed. */
  private markAccepted(ts: TypeState, name: string, value: unknown, digest: string | undefined, version: string, now: number): boolean {
    const entry = this.entryFor(ts, name, now);
    stopWait(entry);
    entry.status = 'ACKED';
    entry.error = undefined;
    entry.version = version;
    entry.lastUpdatedMs = now;
    if (entry.hasValue && digest !== undefined && entry.digest === digest) return false;
    entry.hasValue = true;
    entry.value = value;
    entry.digest = digest;
    return true;
  }

  /** Returns whether resolution changed (a rejected resource without a last good value stops blocking). */
  private markRejected(ts: TypeState, name: string, error: string, now: number): boolean {
    const entry = this.entryFor(ts, name, now);
    stopWait(entry);
    const wasPending = !entry.hasValue && entry.status !== 'NACKED';
    entry.status = 'NACKED';
    entry.error = error;
    entry.lastUpdatedMs = now;
    return wasPending;
  }

  /** Marks a type's first response; returns true the first time (the snapshot may now be complete). */
  private settle(ts: TypeState): boolean {
    if (ts.settled) return false;
    ts.settled = true;
    ts.fetchTimer?.cancel();
    ts.fetchTimer = undefined;
    return true;
  }

  // ---- subscriptions, timers, assembly ----

  private afterChange(): void {
    this.updateSubscriptions();
    this.assembler.assemble(this.view);
  }

  /**
   * Recomputes the named subscriptions from what static and wildcard resources (and, transitively, named ones)
   * depend on, with each name's wait limit; sends the full new list for each type whose set changed. Names nothing
   * needs are dropped.
   */
  private updateSubscriptions(): void {
    /** Named type URL -> name -> wait limit (ms, 0 = forever). */
    const wanted = new Map<string, Map<string, number>>();
    for (const ts of this.types.values()) if (!ts.wildcard) wanted.set(ts.type.typeUrl, new Map());
    const queue: Array<{ type: XdsResourceType<unknown>; value: unknown }> = [];
    for (const ts of this.types.values()) {
      for (const value of this.assembler.staticValues(ts.type.typeUrl).values()) queue.push({ type: ts.type, value });
      if (ts.wildcard) for (const entry of ts.entries.values()) if (entry.hasValue) queue.push({ type: ts.type, value: entry.value });
    }
    for (let i = 0; i < queue.length; i++) {
      const { type, value } = queue[i] as { type: XdsResourceType<unknown>; value: unknown };
      for (const dependency of type.dependencies(value)) {
        const limits = wanted.get(dependency.typeUrl);
        const depState = this.types.get(dependency.typeUrl);
        if (limits === undefined || depState === undefined) continue;
        const statics = this.assembler.staticValues(dependency.typeUrl);
        const timeoutMs = dependency.initialFetchTimeoutMs ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS;
        for (const name of dependency.names) {
          if (statics.has(name)) continue;
          const known = limits.get(name);
          limits.set(name, known === undefined ? timeoutMs : longerWait(known, timeoutMs));
          if (known !== undefined) continue;
          const entry = depState.entries.get(name);
          if (entry?.hasValue === true) queue.push({ type: depState.type, value: entry.value });
        }
      }
    }
    const now = this.clock.now();
    for (const [typeUrl, limits] of wanted) {
      const ts = this.types.get(typeUrl) as TypeState;
      let differs = false;
      for (const [name, entry] of ts.entries) {
        if (limits.has(name)) continue;
        stopWait(entry);
        ts.entries.delete(name);
        differs = true;
      }
      for (const [name, limitMs] of limits) {
        const entry = ts.entries.get(name);
        if (entry === undefined) {
          ts.entries.set(name, newEntry(name, now, limitMs));
          differs = true;
        } else if (entry.waitLimitMs !== limitMs) {
          // The referrers changed: re-armed below with the new limit, still counted from the original start.
          entry.waitLimitMs = limitMs;
          stopWait(entry);
        }
      }
      if (differs) this.sendRequest(ts);
    }
    this.armWaitTimers();
  }

  /**
   * Starts the wait timer of each named resource that the live stream has asked for and that has no value yet.
   * Envoy: `initial_fetch_timeout` of the referring ConfigSource, after which warming goes on without the resource
   * (a cluster with no hosts, a listener whose routes are missing); 0 waits forever. gRPC A57: only while the stream
   * is up, counted from when the name was first sent on it.
   */
  private armWaitTimers(): void {
    if (!this.streamUp) return;
    const now = this.clock.now();
    for (const ts of this.types.values()) {
      if (ts.wildcard || ts.sent === undefined) continue;
      for (const entry of ts.entries.values()) {
        if (entry.waitTimer !== undefined || entry.hasValue || entry.status !== 'REQUESTED' || !ts.sent.has(entry.name)) continue;
        entry.waitStartedMs ??= now;
        if (entry.waitLimitMs === 0) continue;
        const delayMs = Math.max(0, entry.waitStartedMs + entry.waitLimitMs - now);
        entry.waitTimer = this.clock.setTimeout(() => this.onWaitExpired(ts, entry), delayMs);
      }
    }
  }

  private onWaitExpired(ts: TypeState, entry: Entry): void {
    entry.waitTimer = undefined;
    if (this.stopped || ts.entries.get(entry.name) !== entry || entry.hasValue || entry.status !== 'REQUESTED') return;
    this.logger?.warn(
      { typeUrl: ts.type.typeUrl, name: entry.name, afterMs: entry.waitLimitMs },
      `${RESOURCE_KIND[ts.type.shortName]} not received within its initial_fetch_timeout; going on without it (does not exist)`,
    );
    entry.status = 'DOES_NOT_EXIST';
    entry.lastUpdatedMs = this.clock.now();
    this.afterChange();
  }

  private onTypeFetchTimeout(ts: TypeState): void {
    ts.fetchTimer = undefined;
    if (this.stopped || ts.settled) return;
    this.logger?.warn({ typeUrl: ts.type.typeUrl, afterMs: ts.fetchTimeoutMs }, 'initial fetch timed out; no longer waiting for this type');
    ts.settled = true;
    this.afterChange();
  }

  private values(typeUrl: string): ReadonlyMap<string, unknown> {
    const out = new Map<string, unknown>();
    const ts = this.types.get(typeUrl);
    if (ts !== undefined) for (const entry of ts.entries.values()) if (entry.hasValue) out.set(entry.name, entry.value);
    return out;
  }

  private resolution(typeUrl: string, name: string): Resolution {
    const entry = this.types.get(typeUrl)?.entries.get(name);
    if (entry === undefined) return 'pending';
    if (entry.hasValue) return 'value';
    if (entry.status === 'DOES_NOT_EXIST' || entry.status === 'NACKED') return 'absent';
    return 'pending';
  }
}

/**
 * The wait limit of a name several ConfigSources refer to: the longest wait wins, and 0 (forever) beats any
 * timeout. Envoy's init manager completes warming only when every referrer's own timer has expired, and a snapshot
 * here is all-or-nothing, so it cannot complete earlier; and a referrer that asked to wait forever (istiod's 0s) is
 * never overridden by another's shorter timeout (istio/istio#31818: ready with partial config).
 */
function longerWait(aMs: number, bMs: number): number {
  return aMs === 0 || bMs === 0 ? 0 : Math.max(aMs, bMs);
}

function newEntry(name: string, now: number, waitLimitMs: number): Entry {
  return {
    name,
    status: 'REQUESTED',
    version: '',
    error: undefined,
    lastUpdatedMs: now,
    hasValue: false,
    value: undefined,
    digest: undefined,
    waitLimitMs,
    waitStartedMs: undefined,
    waitTimer: undefined,
  };
}

function stopWait(entry: Entry): void {
  entry.waitTimer?.cancel();
  entry.waitTimer = undefined;
}

let cachedVersion: string | undefined;

/** meshlet's version from its package.json (found above this file in src and dist alike). */
function meshletVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = '0.0.0';
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'package.json');
    try {
      const pkg = JSON.parse(fs.readFileSync(candidate, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'meshlet' && typeof pkg.version === 'string') {
        cachedVersion = pkg.version;
        break;
      }
    } catch {
      // no package.json at this level
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return cachedVersion;
}
