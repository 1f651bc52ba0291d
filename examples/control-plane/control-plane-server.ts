// The reference xDS control plane: a gRPC ADS server (SotW and delta) over an in-memory resource store, with the
// test hooks the sidecar's ADS client tests need (never answer, stale nonces, raw pushes) and a record of every request.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ProtoSchema, typeNameOf, type AnyMessage } from '../../sidecar/src/xds/proto-schema';
import { formatErrors } from '../../sidecar/src/core/validation';
import type { DiscoveryRequest__Output } from '../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryRequest';
import type { DiscoveryResponse } from '../../xds-protos/generated/envoy/service/discovery/v3/DiscoveryResponse';
import type { DeltaDiscoveryRequest__Output } from '../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryRequest';
import type { DeltaDiscoveryResponse } from '../../xds-protos/generated/envoy/service/discovery/v3/DeltaDiscoveryResponse';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
} from '../../sidecar/src/xds/resources/resource-type';
import { parseResourceFile } from './resource-file';


/** The four types `loadFile` replaces, in the order changes are pushed (make-before-break: CDS, EDS, LDS, RDS). */
export const FILE_TYPE_URLS = [CLUSTER_TYPE_URL, CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL] as const;

/** SotW responses of these types are full state, and a delta first request with no names is a (legacy) wildcard. */
const WILDCARD_TYPES: ReadonlySet<string> = new Set([LISTENER_TYPE_URL, CLUSTER_TYPE_URL]);

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** How many (nonce, version) pairs a stream remembers per type: enough to resolve NACKs of recent responses. */
const NONCE_HISTORY = 8;

export interface ControlPlaneOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. Pass the old port to restart a stopped server on the same address. */
  port?: number;
  /** Receives one line per request, response and store change; default: silent. */
  log?: (line: string) => void;
  /** Serve over TLS (istiod's 15012) instead of plaintext. */
  credentials?: grpc.ServerCredentials;
  /** Like istiod: streams whose `authorization` is not `Bearer <token>` end with UNAUTHENTICATED. Read per stream. */
  requiredToken?: () => string;
}

/** A resource to serve: a proto-loader-shaped message of the type's proto, or a ready Any (sent as given). */
export type ResourceInput =
  | { name: string; message: object }
  | { name: string; any: { type_url: string; value: Buffer | Uint8Array } };

/** One request as received, in arrival order. */
export interface RecordedRequest {
  streamId: number;
  mode: 'sotw' | 'delta';
  typeUrl: string;
  /** NACK: error_detail set. ACK: no error_detail and response_nonce is the latest sent for the type on the stream. */
  kind: 'ACK' | 'NACK' | 'REQUEST';
  /** response_nonce is set, the stream has sent this type before, and the nonce is not the latest one it sent. */
  stale: boolean;
  versionInfo: string;
  responseNonce: string;
  /** SotW only (empty for delta). */
  resourceNames: string[];
  /** Delta only (empty for SotW). */
  subscribe: string[];
  unsubscribe: string[];
  initialResourceVersions: Record<string, string>;
  errorDetail?: { code: number; message: string };
  /** Only when the request carried a node. */
  node?: object;
  at: number;
}

/** One response as sent (also raw and stale-nonce resends). */
export interface RecordedResponse {
  streamId: number;
  mode: 'sotw' | 'delta';
  typeUrl: string;
  versionInfo: string;
  nonce: string;
  /** Names of the resources carried (SotW: from the store; raw: empty). */
  resourceNames: string[];
  /** Delta only. */
  removedResources: string[];
  /** Why it was sent: a request, a store change, or a test hook. */
  cause: 'request' | 'push' | 'stale-nonce' | 'raw';
  at: number;
}

interface StoredResource {
  readonly name: string;
  readonly any: AnyMessage;
  /** Content hash, the per-resource version of delta xDS. */
  readonly version: string;
}

interface TypeState {
  version: string;
  resources: Map<string, StoredResource>;
}

interface SentNonce {
  readonly nonce: string;
  readonly version: string;
}

/** Per stream and type: what the SotW client asked for and what it was last sent. */
interface SotwSubscription {
  subscribed: boolean;
  wildcard: boolean;
  /** The stream has named resources (or `*`) at least once: from then on an empty list unsubscribes everything. */
  explicit: boolean;
  names: Set<string>;
  /** Nonces sent for this type on this stream, oldest first, latest last. */
  sent: SentNonce[];
  /** Store version of the last response from the store, and the resources (name -> version) it carried. */
  sentVersion: string | undefined;
  sentResources: Map<string, string> | undefined;
  nackedVersion: string | undefined;
}

/** Per stream and type: the delta client's subscription and the resource versions it is known to hold. */
interface DeltaSubscription {
  started: boolean;
  answered: boolean;
  wildcard: boolean;
  names: Set<string>;
  known: Map<string, string>;
  sent: SentNonce[];
}

interface StreamBase<Req, Res> {
  readonly id: number;
  readonly call: grpc.ServerDuplexStream<Req, Res>;
  open: boolean;
}
interface SotwStream extends StreamBase<DiscoveryRequest__Output, DiscoveryResponse> {
  readonly mode: 'sotw';
  readonly types: Map<string, SotwSubscription>;
}
interface DeltaStream extends StreamBase<DeltaDiscoveryRequest__Output, DeltaDiscoveryResponse> {
  readonly mode: 'delta';
  readonly types: Map<string, DeltaSubscription>;
}

interface Waiter {
  readonly predicate: (r: RecordedRequest) => boolean;
  readonly fromIndex: number;
  readonly resolve: (r: RecordedRequest) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** Thrown by `loadFile` when the file cannot be read or has errors; the previous resources keep being served. */
export class ResourceFileError extends Error {
  constructor(readonly path: string, readonly errors: readonly { path: string; message: string }[]) {
    super(`${path}: ${errors.length} error(s)\n${formatErrors(errors)}`);
    this.name = 'ResourceFileError';
  }
}

/**
 * An Envoy-style ADS server on grpc-js.
 *
 * SotW: per stream and type a subscription (wildcard when the first request names nothing or `*`; after naming
 * resources an empty list unsubscribes everything). Every response gets a fresh nonce (server-wide, increasing);
 * versions are per type, from a server-wide counter. A request is answered when it is the first of its stream for
 * the type (empty nonce), when it changes the subscription, or when the client lacks the current version and it
 * was not NACKed; a NACK alone is never answered with the same version. LDS and CDS wildcard responses are full
 * state; otherwise a response carries only the requested names that exist (missing names are omitted and the rest
 * still sent, unlike go-control-plane's ADS mode which waits until every name exists). Store changes are pushed to
 * every subscribed stream (named streams only when their resources changed).
 *
 * Delta: subscribe/unsubscribe (`*`, or an empty first request for LDS/CDS, is wildcard), per-resource versions
 * (content hashes), `initial_resource_versions` skips what the client already has, `removed_resources` for
 * deleted resources the client holds. Subscription changes apply even with a stale nonce; a stream's first
 * request for a type is always answered.
 *
 * Types never set (by `setResources`, `upsertResource` or `loadFile`) are unknown: requests for them are recorded
 * but not answered.
 */
export class ControlPlaneServer {
  readonly host: string;
  readonly port: number;
  readonly address: string;
  /** Every request received, in order. Never trimmed. */
  readonly requests: readonly RecordedRequest[] = [];
  /** Every response sent, in order. Never trimmed. */
  readonly responses: readonly RecordedResponse[] = [];
  /** The `authorization` metadata of every stream opened, in order ('' when absent). */
  readonly authorizations: string[] = [];
  /** Like istiod: a SotW request whose nonce is not the latest sent for its type on its stream is recorded only. */
  ignoreStaleNonceRequests = true;

  private readonly schema = ProtoSchema.get();
  private readonly types = new Map<string, TypeState>();
  private readonly streams = new Set<SotwStream | DeltaStream>();
  private readonly silentTypes = new Set<string>();
  private readonly waiters = new Set<Waiter>();
  private readonly log: (line: string) => void;
  private versionCounter = 0;
  private nonceCounter = 0;
  private streamCounter = 0;
  private stopped = false;

  private constructor(private readonly server: grpc.Server, host: string, port: number, log: (line: string) => void) {
    this.host = host;
    this.port = port;
    this.address = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    this.log = log;
  }

  /** Binds and starts serving. Resolves once the port is bound. */
  static async start(options: ControlPlaneOptions = {}): Promise<ControlPlaneServer> {
    const host = options.host ?? '127.0.0.1';
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    let instance: ControlPlaneServer | undefined;
    server.addService(ProtoSchema.get().serviceDefinition(ADS_SERVICE), {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>) => {
        if (instance?.authorize(call, options.requiredToken) === true) instance.acceptSotw(call);
      },
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, DeltaDiscoveryResponse>) => {
        if (instance?.authorize(call, options.requiredToken) === true) instance.acceptDelta(call);
      },
    });
    const bindHost = host.includes(':') ? `[${host}]` : host;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${bindHost}:${options.port ?? 0}`, options.credentials ?? grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error !== null) reject(error);
        else resolve(bound);
      });
    });
    instance = new ControlPlaneServer(server, host, port, options.log ?? (() => {}));
    instance.log(`control plane listening on ${instance.address}`);
    return instance;
  }

  // ---------------------------------------------------------------- store

  /** Replaces every resource of a type (bumps that type's version; pushes to every subscribed stream). */
  setResources(typeUrl: string, resources: ResourceInput[]): void {
    const next = new Map<string, StoredResource>();
    for (const input of resources) {
      if (next.has(input.name)) throw new Error(`setResources(${shortType(typeUrl)}): duplicate resource name "${input.name}"`);
      next.set(input.name, this.store(typeUrl, input));
    }
    this.replaceType(typeUrl, next);
  }

  /** Adds or replaces one resource (bumps the type's version; pushes). */
  upsertResource(typeUrl: string, resource: ResourceInput): void {
    const next = new Map(this.types.get(typeUrl)?.resources);
    next.set(resource.name, this.store(typeUrl, resource));
    this.replaceType(typeUrl, next);
  }

  /** Removes one resource (bumps the type's version; pushes). No-op (no bump) when it does not exist. */
  removeResource(typeUrl: string, name: string): void {
    const current = this.types.get(typeUrl);
    if (current === undefined || !current.resources.has(name)) return;
    const next = new Map(current.resources);
    next.delete(name);
    this.replaceType(typeUrl, next);
  }

  /**
   * Loads a resources file (Envoy's DiscoveryResponse file format, YAML or JSON: `resources: [{"@type": ...}]`)
   * and replaces all four types at once. Only types whose content changed get a new version and a push, in the
   * order CDS, EDS, LDS, RDS. Throws `ResourceFileError` listing every problem; the store is then unchanged.
   */
  loadFile(path: string): void {
    let text: string;
    try {
      text = fs.readFileSync(path, 'utf8');
    } catch (error) {
      throw new ResourceFileError(path, [{ path: '', message: `cannot read: ${(error as Error).message}` }]);
    }
    const parsed = parseResourceFile(this.schema, text);
    if (!parsed.ok) throw new ResourceFileError(path, parsed.errors);
    for (const typeUrl of FILE_TYPE_URLS) {
      const next = new Map<string, StoredResource>();
      for (const input of parsed.value.get(typeUrl) ?? []) next.set(input.name, this.store(typeUrl, input));
      const current = this.types.get(typeUrl);
      if (current !== undefined && sameResources(current.resources, next)) continue;
      this.replaceType(typeUrl, next);
    }
  }

  /** The type's current version; '' when the type was never set. */
  version(typeUrl: string): string {
    return this.types.get(typeUrl)?.version ?? '';
  }

  /** Names of the type's resources, in store order. */
  resourceNames(typeUrl: string): string[] {
    return [...(this.types.get(typeUrl)?.resources.keys() ?? [])];
  }

  private store(typeUrl: string, input: ResourceInput): StoredResource {
    const any: AnyMessage = 'any' in input ? input.any : this.schema.packAny(typeNameOf(typeUrl), input.message);
    const version = crypto.createHash('sha256').update(any.type_url).update(any.value).digest('hex').slice(0, 16);
    return { name: input.name, any, version };
  }

  private replaceType(typeUrl: string, resources: Map<string, StoredResource>): void {
    const state: TypeState = { version: String(++this.versionCounter), resources };
    this.types.set(typeUrl, state);
    this.log(`set ${shortType(typeUrl)} version ${state.version}: [${[...resources.keys()].join(', ')}]`);
    this.pushType(typeUrl);
  }

  // ---------------------------------------------------------------- requests

  /**
   * Resolves with the first recorded request at index >= `fromIndex` (default 0: past requests count too) that
   * matches, waiting for future ones; rejects after `timeoutMs` (default 5000) or when the server stops.
   * To wait only for new requests: `waitForRequest(p, 2000, server.requests.length)`.
   */
  waitForRequest(predicate: (r: RecordedRequest) => boolean, timeoutMs = 5000, fromIndex = 0): Promise<RecordedRequest> {
    for (let i = fromIndex; i < this.requests.length; i += 1) {
      const request = this.requests[i];
      if (request !== undefined && predicate(request)) return Promise.resolve(request);
    }
    if (this.stopped) return Promise.reject(new Error('control plane stopped'));
    return new Promise<RecordedRequest>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        fromIndex,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const recent = this.requests.slice(-8).map(describeRequest).join('\n  ');
          reject(new Error(`no matching xDS request within ${timeoutMs} ms; last requests:\n  ${recent || '(none)'}`));
        }, timeoutMs),
      };
      waiter.timer.unref();
      this.waiters.add(waiter);
    });
  }

  private record(request: RecordedRequest): void {
    const index = this.requests.length;
    (this.requests as RecordedRequest[]).push(request);
    this.log(`<- ${describeRequest(request)}`);
    for (const waiter of this.waiters) {
      if (index >= waiter.fromIndex && waiter.predicate(request)) {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.resolve(request);
      }
    }
  }

  // ---------------------------------------------------------------- test hooks

  /** While enabled, requests of the type are recorded but never answered and changes are not pushed. Disabling pushes what is pending. */
  neverAnswer(typeUrl: string, enabled = true): void {
    if (enabled) {
      this.silentTypes.add(typeUrl);
      return;
    }
    if (!this.silentTypes.delete(typeUrl)) return;
    this.pushType(typeUrl);
  }

  /**
   * Sends the type's current response again, with the nonce sent just before the latest one, on every stream that
   * has such an older nonce for the type (SotW: the current response for its subscription; delta: every subscribed
   * resource). The stream's latest nonce is unchanged, so the client's reply to it is stale. Returns the number of
   * streams written to.
   */
  resendWithStaleNonce(typeUrl: string): number {
    const state = this.types.get(typeUrl);
    if (state === undefined) return 0;
    let count = 0;
    for (const stream of this.streams) {
      const sub = stream.types.get(typeUrl);
      const older = sub?.sent.at(-2);
      if (sub === undefined || older === undefined) continue;
      if (stream.mode === 'sotw') {
        const selected = selectSotw(state, sub as SotwSubscription);
        this.writeSotw(stream, { version_info: state.version, type_url: typeUrl, nonce: older.nonce, resources: selected.map((r) => r.any) }, selected.map((r) => r.name), 'stale-nonce');
      } else {
        const delta = sub as DeltaSubscription;
        const selected = [...state.resources.values()].filter((r) => delta.wildcard || delta.names.has(r.name));
        this.writeDelta(stream, typeUrl, state, selected, [], older.nonce, 'stale-nonce');
      }
      count += 1;
    }
    return count;
  }

  /**
   * Pushes an arbitrary DiscoveryResponse (proto-loader shape) to every open SotW stream, for malformed or
   * duplicate-name tests. `type_url` defaults to `typeUrl`; a missing nonce is filled with a fresh one per stream
   * and becomes that stream's latest nonce for the type. `version_info` is sent as given.
   */
  sendRaw(typeUrl: string, response: object): void {
    const given = response as DiscoveryResponse;
    for (const stream of this.streams) {
      if (stream.mode !== 'sotw') continue;
      const nonce = given.nonce !== undefined && given.nonce !== '' ? given.nonce : this.nextNonce();
      const message: DiscoveryResponse = { ...given, type_url: given.type_url ?? typeUrl, nonce };
      const sub = sotwSubscription(stream, message.type_url ?? typeUrl);
      pushNonce(sub.sent, { nonce, version: message.version_info ?? '' });
      this.writeSotw(stream, message, [], 'raw');
    }
  }

  /** Open ADS streams (SotW and delta). */
  activeStreams(): number {
    return this.streams.size;
  }

  /** Stops at once: every stream is cancelled, the port is released, pending `waitForRequest`s reject. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const stream of this.streams) stream.open = false;
    this.streams.clear();
    this.server.forceShutdown();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('control plane stopped'));
    }
    this.waiters.clear();
    // The listening socket closes on the next loop turn; after that the port can be bound again.
    await new Promise((resolve) => setImmediate(resolve));
    this.log(`control plane on ${this.address} stopped`);
  }

  // ---------------------------------------------------------------- streams

  /** Records the stream's `authorization`; without the required token, ends the call UNAUTHENTICATED. */
  private authorize(call: grpc.ServerDuplexStream<unknown, unknown>, requiredToken: (() => string) | undefined): boolean {
    const authorization = String(call.metadata.get('authorization')[0] ?? '');
    this.authorizations.push(authorization);
    if (requiredToken === undefined || authorization === `Bearer ${requiredToken()}`) return true;
    this.log(`stream rejected: ${authorization === '' ? 'no token' : 'wrong token'}`);
    call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: 'authentication failure: bearer token required' });
    return false;
  }

  private acceptSotw(call: grpc.ServerDuplexStream<DiscoveryRequest__Output, DiscoveryResponse>): void {
    const stream: SotwStream = { id: ++this.streamCounter, mode: 'sotw', call, open: true, types: new Map() };
    this.track(stream);
    call.on('data', (request: DiscoveryRequest__Output) => this.onSotwRequest(stream, request));
  }

  private acceptDelta(call: grpc.ServerDuplexStream<DeltaDiscoveryRequest__Output, DeltaDiscoveryResponse>): void {
    const stream: DeltaStream = { id: ++this.streamCounter, mode: 'delta', call, open: true, types: new Map() };
    this.track(stream);
    call.on('data', (request: DeltaDiscoveryRequest__Output) => this.onDeltaRequest(stream, request));
  }

  private track(stream: SotwStream | DeltaStream): void {
    if (this.stopped) {
      stream.open = false;
      stream.call.destroy();
      return;
    }
    this.streams.add(stream);
    this.log(`stream ${stream.id} (${stream.mode}) opened by ${stream.call.getPeer()}`);
    const close = (why: string): void => {
      if (!stream.open) return;
      stream.open = false;
      this.streams.delete(stream);
      this.log(`stream ${stream.id} (${stream.mode}) closed: ${why}`);
    };
    stream.call.on('end', () => {
      close('client half-closed');
      stream.call.end();
    });
    stream.call.on('cancelled', () => close('cancelled'));
    stream.call.on('error', (error: Error) => close(error.message));
    stream.call.on('close', () => close('closed'));
  }

  private onSotwRequest(stream: SotwStream, request: DiscoveryRequest__Output): void {
    if (!stream.open) return;
    const typeUrl = request.type_url;
    const sub = sotwSubscription(stream, typeUrl);
    const nonce = request.response_nonce;
    const answered = nonce === '' ? undefined : sub.sent.find((s) => s.nonce === nonce);
    const latest = sub.sent.at(-1)?.nonce;
    // Like istiod, a nonce on a stream that never sent this type (a reconnect replaying an old nonce) is not stale.
    const stale = nonce !== '' && latest !== undefined && nonce !== latest;
    const kind = request.error_detail !== null ? 'NACK' : nonce !== '' && nonce === latest ? 'ACK' : 'REQUEST';
    this.record({
      ...recordBase(stream, typeUrl, kind, stale, request.response_nonce, request.error_detail, request.node),
      versionInfo: request.version_info,
      resourceNames: [...request.resource_names],
      subscribe: [],
      unsubscribe: [],
      initialResourceVersions: {},
    });
    if (stale && this.ignoreStaleNonceRequests) {
      this.log(`   stream ${stream.id}: ignoring ${shortType(typeUrl)} request with stale nonce ${nonce} (latest ${latest ?? 'none'})`);
      return;
    }
    if (kind === 'NACK') sub.nackedVersion = answered?.version ?? sub.sentVersion;

    const names = request.resource_names;
    const explicitNames = new Set(names.filter((n) => n !== '*'));
    let wildcard: boolean;
    if (!sub.subscribed) wildcard = names.length === 0 || names.includes('*');
    else if (names.includes('*')) wildcard = true;
    else if (names.length === 0) wildcard = sub.explicit ? false : sub.wildcard;
    else wildcard = false;
    const changed = !sub.subscribed || wildcard !== sub.wildcard || !sameSet(explicitNames, sub.names);
    sub.subscribed = true;
    sub.wildcard = wildcard;
    sub.names = explicitNames;
    if (names.length > 0) sub.explicit = true;

    const state = this.types.get(typeUrl);
    if (state === undefined || this.silentTypes.has(typeUrl)) return;
    if (!sub.wildcard && sub.names.size === 0) return; // unsubscribed from everything: nothing to send
    let answer: boolean;
    if (kind === 'NACK') answer = changed;
    else if (nonce === '' || changed) answer = true;
    else answer = request.version_info !== state.version && sub.sentVersion !== state.version && sub.nackedVersion !== state.version;
    if (answer) this.sendSotw(stream, typeUrl, state, sub, 'request');
  }

  private onDeltaRequest(stream: DeltaStream, request: DeltaDiscoveryRequest__Output): void {
    if (!stream.open) return;
    const typeUrl = request.type_url;
    let sub = stream.types.get(typeUrl);
    if (sub === undefined) {
      sub = { started: false, answered: false, wildcard: false, names: new Set(), known: new Map(), sent: [] };
      stream.types.set(typeUrl, sub);
    }
    const nonce = request.response_nonce;
    const latest = sub.sent.at(-1)?.nonce;
    const stale = nonce !== '' && latest !== undefined && nonce !== latest;
    const kind = request.error_detail !== null ? 'NACK' : nonce !== '' && nonce === latest ? 'ACK' : 'REQUEST';
    this.record({
      ...recordBase(stream, typeUrl, kind, stale, nonce, request.error_detail, request.node),
      versionInfo: '',
      resourceNames: [],
      subscribe: [...request.resource_names_subscribe],
      unsubscribe: [...request.resource_names_unsubscribe],
      initialResourceVersions: { ...request.initial_resource_versions },
    });
    // Subscription changes apply even with a stale nonce (xDS spec, delta).
    const first = !sub.started;
    const initial = request.initial_resource_versions;
    if (first) {
      sub.started = true;
      for (const [name, version] of Object.entries(initial)) sub.known.set(name, version);
      if (request.resource_names_subscribe.length === 0 && request.resource_names_unsubscribe.length === 0 && WILDCARD_TYPES.has(typeUrl)) {
        sub.wildcard = true;
      }
    }
    for (const name of request.resource_names_subscribe) {
      if (name === '*') {
        sub.wildcard = true;
        continue;
      }
      sub.names.add(name);
      // A (re)subscribed name is sent again unless the client just told us which version it holds.
      if (!(first && Object.hasOwn(initial, name))) sub.known.delete(name);
    }
    for (const name of request.resource_names_unsubscribe) {
      if (name === '*') sub.wildcard = false;
      else {
        sub.names.delete(name);
        sub.known.delete(name);
      }
    }
    if (!sub.wildcard) for (const name of sub.known.keys()) if (!sub.names.has(name)) sub.known.delete(name);

    const state = this.types.get(typeUrl);
    if (state === undefined || this.silentTypes.has(typeUrl)) return;
    this.sendDeltaChanges(stream, typeUrl, state, sub, 'request', !sub.answered);
  }

  /** Sends the current store state to every stream subscribed to the type that lacks it. */
  private pushType(typeUrl: string): void {
    const state = this.types.get(typeUrl);
    if (state === undefined || this.silentTypes.has(typeUrl)) return;
    for (const stream of this.streams) {
      if (stream.mode === 'sotw') {
        const sub = stream.types.get(typeUrl);
        if (sub === undefined || !sub.subscribed || (!sub.wildcard && sub.names.size === 0)) continue;
        if (sub.wildcard && WILDCARD_TYPES.has(typeUrl)) {
          this.sendSotw(stream, typeUrl, state, sub, 'push');
          continue;
        }
        const selected = selectSotw(state, sub);
        const unchanged =
          sub.sentResources !== undefined &&
          selected.length === sub.sentResources.size &&
          selected.every((r) => sub.sentResources?.get(r.name) === r.version);
        if (!unchanged || sub.sentVersion === undefined) this.sendSotw(stream, typeUrl, state, sub, 'push');
      } else {
        const sub = stream.types.get(typeUrl);
        if (sub === undefined || !sub.started) continue;
        this.sendDeltaChanges(stream, typeUrl, state, sub, 'push', !sub.answered);
      }
    }
  }

  private sendSotw(stream: SotwStream, typeUrl: string, state: TypeState, sub: SotwSubscription, cause: RecordedResponse['cause']): void {
    const selected = selectSotw(state, sub);
    const nonce = this.nextNonce();
    pushNonce(sub.sent, { nonce, version: state.version });
    sub.sentVersion = state.version;
    sub.sentResources = new Map(selected.map((r) => [r.name, r.version]));
    this.writeSotw(stream, { version_info: state.version, type_url: typeUrl, nonce, resources: selected.map((r) => r.any) }, selected.map((r) => r.name), cause);
  }

  private writeSotw(stream: SotwStream, response: DiscoveryResponse, names: string[], cause: RecordedResponse['cause']): void {
    if (!stream.open) return;
    stream.call.write(response);
    this.recordResponse({
      streamId: stream.id,
      mode: 'sotw',
      typeUrl: response.type_url ?? '',
      versionInfo: response.version_info ?? '',
      nonce: response.nonce ?? '',
      resourceNames: names,
      removedResources: [],
      cause,
      at: Date.now(),
    });
  }

  /** Sends what the delta client lacks (changed or new resources, removals); `force` sends even when empty. */
  private sendDeltaChanges(stream: DeltaStream, typeUrl: string, state: TypeState, sub: DeltaSubscription, cause: RecordedResponse['cause'], force: boolean): void {
    const changed: StoredResource[] = [];
    for (const resource of state.resources.values()) {
      if ((sub.wildcard || sub.names.has(resource.name)) && sub.known.get(resource.name) !== resource.version) changed.push(resource);
    }
    const removed: string[] = [];
    for (const name of sub.known.keys()) if (!state.resources.has(name)) removed.push(name);
    if (changed.length === 0 && removed.length === 0 && !force) return;
    const nonce = this.nextNonce();
    pushNonce(sub.sent, { nonce, version: state.version });
    sub.answered = true;
    for (const resource of changed) sub.known.set(resource.name, resource.version);
    for (const name of removed) sub.known.delete(name);
    this.writeDelta(stream, typeUrl, state, changed, removed, nonce, cause);
  }

  private writeDelta(stream: DeltaStream, typeUrl: string, state: TypeState, resources: StoredResource[], removed: string[], nonce: string, cause: RecordedResponse['cause']): void {
    if (!stream.open) return;
    stream.call.write({
      system_version_info: state.version,
      type_url: typeUrl,
      nonce,
      resources: resources.map((r) => ({ name: r.name, version: r.version, resource: r.any })),
      removed_resources: removed,
    });
    this.recordResponse({
      streamId: stream.id,
      mode: 'delta',
      typeUrl,
      versionInfo: state.version,
      nonce,
      resourceNames: resources.map((r) => r.name),
      removedResources: removed,
      cause,
      at: Date.now(),
    });
  }

  private recordResponse(response: RecordedResponse): void {
    (this.responses as RecordedResponse[]).push(response);
    const removed = response.removedResources.length > 0 ? ` removed [${response.removedResources.join(', ')}]` : '';
    this.log(
      `-> stream ${response.streamId} ${response.mode} ${shortType(response.typeUrl)} version ${response.versionInfo || "''"} nonce ${response.nonce} ` +
        `[${response.resourceNames.join(', ')}]${removed}${response.cause === 'push' || response.cause === 'request' ? '' : ` (${response.cause})`}`,
    );
  }

  private nextNonce(): string {
    return String(++this.nonceCounter);
  }
}

function sotwSubscription(stream: SotwStream, typeUrl: string): SotwSubscription {
  let sub = stream.types.get(typeUrl);
  if (sub === undefined) {
    sub = { subscribed: false, wildcard: false, explicit: false, names: new Set(), sent: [], sentVersion: undefined, sentResources: undefined, nackedVersion: undefined };
    stream.types.set(typeUrl, sub);
  }
  return sub;
}

/** The resources a SotW response carries: all of them for a wildcard subscriber, else the requested names that exist. */
function selectSotw(state: TypeState, sub: SotwSubscription): StoredResource[] {
  if (sub.wildcard) return [...state.resources.values()];
  const selected: StoredResource[] = [];
  for (const resource of state.resources.values()) if (sub.names.has(resource.name)) selected.push(resource);
  return selected;
}

function pushNonce(history: SentNonce[], sent: SentNonce): void {
  history.push(sent);
  if (history.length > NONCE_HISTORY) history.shift();
}

function recordBase(
  stream: SotwStream | DeltaStream,
  typeUrl: string,
  kind: RecordedRequest['kind'],
  stale: boolean,
  responseNonce: string,
  errorDetail: { code: number; message: string } | null,
  node: object | null,
): Pick<RecordedRequest, 'streamId' | 'mode' | 'typeUrl' | 'kind' | 'stale' | 'responseNonce' | 'at' | 'errorDetail' | 'node'> {
  return {
    streamId: stream.id,
    mode: stream.mode,
    typeUrl,
    kind,
    stale,
    responseNonce,
    at: Date.now(),
    ...(errorDetail !== null ? { errorDetail: { code: errorDetail.code, message: errorDetail.message } } : {}),
    ...(node !== null ? { node } : {}),
  };
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

function sameResources(a: ReadonlyMap<string, StoredResource>, b: ReadonlyMap<string, StoredResource>): boolean {
  if (a.size !== b.size) return false;
  const left = [...a.values()];
  const right = [...b.values()];
  return left.every((r, i) => r.name === right[i]?.name && r.version === right[i]?.version);
}

/** `type.googleapis.com/envoy.config.cluster.v3.Cluster` -> `Cluster`. */
function shortType(typeUrl: string): string {
  const name = typeNameOf(typeUrl);
  return name.slice(name.lastIndexOf('.') + 1) || typeUrl;
}

function describeRequest(r: RecordedRequest): string {
  const what =
    r.mode === 'sotw'
      ? `version ${r.versionInfo || "''"} names [${r.resourceNames.join(', ')}]`
      : `+[${r.subscribe.join(', ')}] -[${r.unsubscribe.join(', ')}]${Object.keys(r.initialResourceVersions).length > 0 ? ` initial [${Object.keys(r.initialResourceVersions).join(', ')}]` : ''}`;
  const error = r.errorDetail !== undefined ? ` error ${r.errorDetail.code}: ${r.errorDetail.message.replace(/\n/g, ' | ')}` : '';
  return `stream ${r.streamId} ${r.mode} ${shortType(r.typeUrl)} ${r.kind}${r.stale ? ' (stale nonce)' : ''} nonce ${r.responseNonce || "''"} ${what}${error}`;
}
