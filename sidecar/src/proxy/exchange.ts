// One HTTP request through the proxy: route -> cluster -> breaker -> pick -> attempt -> stream back, with
// retries, timeouts, header hygiene and local replies. The per-request state machine of the router filter.

import type * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Errors, type ErrorKind, type ResponseFlag } from '../core/errors';
import type { HttpConnectionManagerConfig } from '../config/listener-config';
import type { DownstreamConnectionInfo } from '../listener/connection-handlers';
import type { CompiledRoute } from '../router/compiled-route';
import { portStart } from '../router/domain-index';
import type { HeaderVars } from '../router/header-formatter';
import { ObjectHeaderMap, type HeaderObject } from '../router/header-map';
import type { RouteRequest } from '../router/route-request';
import { computeRequestHash } from '../router/hash-policy';
import type { Hash64 } from '../core/xxhash64';
import type { CircuitBreaker } from '../upstream/circuit-breaker';
import type { Host } from '../upstream/host';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import type { Downstream } from './downstream';
import type { AttemptInfo, AttemptResult, ExchangeInfo, ExchangeObserver } from './exchange-observer';
import { appendViaOrDetectLoop, applyForwardingHeaders, cleanResponseHeaders, stripHopByHop } from './header-hygiene';
import { H2Attempt } from './h2/h2-attempt';
import { CoarseDeadlineQueue } from './coarse-deadline-queue';
import { sendLocalReply } from './local-reply';
import { NO_STREAM_DURATION, streamDurationMs } from './stream-duration';
import type { ProxyRuntime } from './proxy-runtime';
import { compileRetryPolicy, RetryState, type AttemptOutcome } from './retry-state';
import { Http1Attempt, Http2Attempt, type AttemptCallbacks, type UpstreamAttempt, type UpstreamRequestHead } from './upstream-attempt';

/** What the exchange needs from the proxy that owns it (shared, long-lived). */
export interface ExchangeEnvironment {
  readonly clusters: { get(name: string): UpstreamCluster | undefined };
  /** [0, 1) for weighted clusters; injectable for tests. */
  readonly random: () => number;
  /** Bytes of request body kept for retries; beyond it a request is not retried (Envoy's buffer limit, 1 MiB default). */
  readonly retryBufferLimitBytes: number;
  /** Token this listener adds to `via` for loop detection. */
  viaToken(listenerName: string): string;
  /** Stats, outlier detection, tracing, access log... (empty array when none). */
  readonly observers: readonly ExchangeObserver[];
  /** Upstream HTTP/2 on meshlet's own codec (H2Attempt) rather than node:http2 (Http2Attempt). */
  readonly ownHttp2: boolean;
  onExchangeDone(exchange: Exchange): void;
}

const NO_TRAILERS = undefined;

/**
 * The exchange state machine. One object per request with a fixed shape; it is its own attempt callback target
 * (no per-event closures beyond node's listener registration). Timers: one timer per stream, armed for the
 * earliest of its deadlines (stream idle, request, route, per-try, retry back-off) and re-armed lazily when it
 * fires early (activity only moves the idle deadline later, so activity never touches the timer); a deadline
 * more than a second away waits in a shared coarse queue and gets its node timer only when it comes near.
 */
export class Exchange implements AttemptCallbacks, ExchangeInfo {
  private route: CompiledRoute | undefined;
  private cluster: UpstreamCluster | undefined;
  /** The cluster's breaker for the route's priority (DEFAULT or HIGH thresholds). */
  private breaker: CircuitBreaker | undefined;
  private selectedClusterName: string | undefined;
  private readonly request: RouteRequest;
  readonly isGrpc: boolean;
  private upstreamHead: UpstreamRequestHead | undefined;
  private attempt: UpstreamAttempt | undefined;
  private attemptCount = 0;
  private triedHosts: Set<Host> | undefined;
  /** The route hash policies' request hash (ring hash / maglev clusters), and a cookie they generated. */
  private requestHash: Hash64 | undefined;
  private hashCookie: string | undefined;
  private retry: RetryState | undefined;
  private bodyChunks: Buffer[] | undefined;
  private bufferedBytes = 0;
  private bodyReplayable = false;
  private requestComplete = false;
  private requestAcquired = false;
  /** The retry circuit-breaker slot: taken when a retry is scheduled, held by that retry's attempt until it ends. */
  private retrySlot: UpstreamAttempt | 'pending' | undefined;
  /**
   * The stream's one timer and the performance.now() time it fires at (0 = not armed). A far deadline waits in
   * streamDeadlines without a node timer until it comes near (deadlineNear).
   */
  private timer: NodeJS.Timeout | undefined;
  timerAt = 0;
  /** Position in streamDeadlines (-1: not queued); the queue owns it. */
  deadlineSlot = -1;
  /** Deadlines in performance.now() ms; 0 = not armed. */
  private routeDeadline = 0;
  private tryDeadline = 0;
  private backoffDeadline = 0;
  private requestDeadline = 0;
  /** Max stream duration (route / HCM max_stream_duration, grpc-timeout), from the stream's start. */
  private durationDeadline = 0;
  /** The cluster's max_stream_duration for the current attempt, from its start. */
  private attemptDurationDeadline = 0;
  /** Stream idle timeout: HCM stream_idle_timeout, replaced by the route's idle_timeout once routed; 0 = off. */
  private idleTimeoutMs: number;
  private lastActivityAt: number;
  private timeoutMs = 0;
  /** From finalTimeout: the retry policy's per_try_timeout or x-envoy-upstream-rq-per-try-timeout-ms; 0 = none. */
  private perTryTimeoutMs = 0;
  private finished = false;
  private responseForwarded = false;
  private lastFailure: { kind: ErrorKind } | undefined;
  /** Per-attempt facts for observers (the current attempt's). */
  private attemptInfo: AttemptInfo | undefined;
  private lastHost: Host | undefined;
  private responseStatus = 0;
  private responseFlag: ResponseFlag | undefined;
  readonly startedAtMs = Date.now();
  readonly startedAtPerfMs = performance.now();
  readonly listenerName: string;
  readonly protocol: 'http1' | 'http2';
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: string;
  readonly downstreamRemoteAddress: string;
  routeName: string | undefined;

  constructor(
    private readonly env: ExchangeEnvironment,
    private readonly runtime: ProxyRuntime,
    private readonly downstream: Downstream,
    private readonly info: DownstreamConnectionInfo,
    private readonly hcm: HttpConnectionManagerConfig,
  ) {
    const headers = downstream.headers;
    const contentType = headers['content-type'];
    this.isGrpc = contentType !== undefined && contentType.startsWith('application/grpc');
    this.listenerName = info.listenerName;
    this.protocol = downstream.protocol;
    this.method = downstream.method;
    this.path = downstream.path;
    this.authority = downstream.authority;
    this.scheme = downstream.scheme;
    this.downstreamRemoteAddress = info.remoteAddress;
    this.request = {
      authority: stripPort(downstream.authority, hcm.stripPortMode, info.localPort),
      path: downstream.path,
      method: downstream.method,
      headers: new ObjectHeaderMap(headers as HeaderObject),
      isGrpc: this.isGrpc,
      scheme: downstream.scheme,
    };
    this.idleTimeoutMs = hcm.streamIdleTimeoutMs;
    this.lastActivityAt = this.startedAtPerfMs;
  }

  get requestHeaders(): http.IncomingHttpHeaders {
    return this.downstream.headers;
  }

  get clusterName(): string | undefined {
    return this.selectedClusterName;
  }

  /** Routes the request and starts the first attempt (or answers locally). */
  start(): void {
    this.downstream.onAbort(() => this.onDownstreamAbort());
    for (const observer of this.env.observers) observer.exchangeStarted?.(this);
    // HCM request_timeout runs from the request headers until the request is complete (Envoy: request_timer_).
    if (this.hcm.requestTimeoutMs > 0 && this.downstream.hasBody) this.requestDeadline = this.startedAtPerfMs + this.hcm.requestTimeoutMs;
    const table = this.runtime.routeTable(this.hcm);
    const match = table?.match(this.request);
    if (match === undefined) {
      this.localReply(Errors.noRoute);
      return;
    }
    const route = match.route;
    this.route = route;
    this.routeName = route.name;
    // Route idle_timeout overrides the HCM stream_idle_timeout for this stream (0 disables it).
    if (route.idleTimeoutMs !== null) this.idleTimeoutMs = route.idleTimeoutMs;
    // Envoy's refreshDurationTimeout, once the route is known; measured from the stream's start.
    const durationMs = streamDurationMs(route, this.hcm, this.request);
    if (durationMs !== NO_STREAM_DURATION) this.durationDeadline = this.startedAtPerfMs + durationMs;
    if (route.action.kind === 'direct_response') {
      const { status, body } = route.directResponse();
      this.respondDirect(status, body, undefined);
      return;
    }
    if (route.action.kind === 'redirect') {
      const { status, location } = route.redirect(this.request);
      this.respondDirect(status, '', location);
      return;
    }
    const headers = this.downstream.headers;
    if (!appendViaOrDetectLoop(headers, this.env.viaToken(this.info.listenerName))) {
      this.localReply(Errors.loopDetected);
      return;
    }
    const clusterName = route.selectCluster(this.request, this.env.random());
    this.selectedClusterName = clusterName;
    const cluster = clusterName === undefined ? undefined : this.env.clusters.get(clusterName);
    if (cluster === undefined) {
      this.localReply(Errors.noCluster);
      return;
    }
    this.cluster = cluster;
    const lbKind = cluster.config.lbPolicy.kind;
    if (route.hashPolicies.length > 0 && (lbKind === 'ring_hash' || lbKind === 'maglev')) {
      const hashed = computeRequestHash(route.hashPolicies, this.request, this.info);
      this.requestHash = hashed.hash;
      this.hashCookie = hashed.setCookie;
    }
    const breaker = cluster.breakerFor(route.config.action.kind === 'route' ? route.config.action.priority : 'DEFAULT');
    this.breaker = breaker;
    if (!breaker.tryAcquireRequest()) {
      this.localReply(Errors.overflow);
      return;
    }
    this.requestAcquired = true;

    // Upstream request head: hygiene, forwarding headers, route header mutations, rewrites.
    const upgrade = headers['upgrade'] !== undefined;
    stripHopByHop(headers, upgrade);
    applyForwardingHeaders(headers, this.hcm, { remoteAddress: this.info.remoteAddress, scheme: this.downstream.scheme });
    const timeout = route.finalTimeout(this.request);
    this.timeoutMs = timeout.globalMs;
    this.perTryTimeoutMs = timeout.perTryMs;
    route.setTimeoutHeaders(this.request.headers, timeout, this.isGrpc, true);
    if (route.mutatesRequestHeaders) route.applyRequestHeaders(this.request.headers, this.headerVars(null), clusterName);
    const policy = route.retryPolicy;
    if (policy !== null) {
      this.retry = new RetryState(compileRetryPolicy(policy), {
        retryOn: firstValue(headers['x-envoy-retry-on']),
        grpcRetryOn: firstValue(headers['x-envoy-retry-grpc-on']),
        maxRetries: firstValue(headers['x-envoy-max-retries']),
        retriableStatusCodes: firstValue(headers['x-envoy-retriable-status-codes']),
      });
      if (this.retry.remaining > 0 && this.downstream.hasBody) {
        this.bodyChunks = [];
        this.bodyReplayable = true;
      }
    }
    const authority = route.hostRewrite(this.request, clusterName) ?? this.downstream.authority;
    this.upstreamHead = {
      method: this.downstream.method,
      path: route.rewritePath(this.downstream.path),
      authority,
      scheme: this.downstream.scheme,
      headers: headers as http.OutgoingHttpHeaders,
      hasBody: this.downstream.hasBody,
    };

    if (this.downstream.hasBody) {
      const body = this.downstream.body;
      body.on('data', (chunk: Buffer) => this.onRequestData(chunk));
      body.on('end', () => this.onRequestEnd());
    } else {
      this.requestComplete = true;
      this.armRouteTimer(this.startedAtPerfMs);
    }
    this.startAttempt();
    // Still the same synchronous call as startedAtPerfMs: no clock read needed (it only sizes the timer).
    this.armTimer(this.startedAtPerfMs);
  }

  // === downstream request body ===

  private onRequestData(chunk: Buffer): void {
    if (this.finished) return;
    this.lastActivityAt = performance.now();
    if (this.bodyChunks !== undefined) {
      this.bufferedBytes += chunk.length;
      if (this.bufferedBytes > this.env.retryBufferLimitBytes) {
        // Over the buffer limit: the body can no longer be replayed, so no further retries (Envoy:
        // retry_or_shadow_abandoned).
        this.bodyChunks = undefined;
        this.bodyReplayable = false;
      } else {
        this.bodyChunks.push(chunk);
      }
    }
    const attempt = this.attempt;
    if (attempt === undefined) {
      // Between attempts (back-off): hold the body until the next attempt takes it.
      this.downstream.body.pause();
      return;
    }
    if (!attempt.write(chunk)) {
      this.downstream.body.pause();
      attempt.onDrain(() => this.downstream.body.resume());
    }
  }

  private onRequestEnd(): void {
    if (this.finished) return;
    this.lastActivityAt = performance.now();
    this.requestComplete = true;
    this.requestDeadline = 0;
    this.attempt?.end();
    this.armRouteTimer(this.lastActivityAt);
    this.armTimer();
  }

  /** Envoy's route timeout runs from the end of the downstream request to the end of the upstream response. */
  private armRouteTimer(now: number): void {
    if (this.timeoutMs <= 0 || this.routeDeadline !== 0 || this.finished) return;
    this.routeDeadline = now + this.timeoutMs;
  }

  // === the stream's timer ===

  /** (Re)arms the one timer for the earliest deadline, unless it already fires at or before it. */
  private armTimer(knownNow?: number): void {
    if (this.finished) return;
    let next = Infinity;
    if (this.idleTimeoutMs > 0) next = this.lastActivityAt + this.idleTimeoutMs;
    if (this.requestDeadline !== 0 && this.requestDeadline < next) next = this.requestDeadline;
    if (this.durationDeadline !== 0 && this.durationDeadline < next) next = this.durationDeadline;
    if (this.attemptDurationDeadline !== 0 && this.attemptDurationDeadline < next) next = this.attemptDurationDeadline;
    if (this.routeDeadline !== 0 && this.routeDeadline < next) next = this.routeDeadline;
    if (this.tryDeadline !== 0 && this.tryDeadline < next) next = this.tryDeadline;
    if (this.backoffDeadline !== 0 && this.backoffDeadline < next) next = this.backoffDeadline;
    if (next === Infinity) return;
    if (this.timerAt !== 0) {
      if (this.timerAt <= next) return; // fires first; re-armed then (lazy)
      this.cancelTimer();
    }
    this.timerAt = next;
    const now = knownNow ?? performance.now();
    if (!streamDeadlines.add(this, now)) this.deadlineNear(now);
  }

  /** @internal The deadline is near (or was near when armed): a precise node timer from here on. */
  deadlineNear(now: number): void {
    if (this.finished || this.timerAt === 0) return;
    this.timer = setTimeout(onStreamTimer, Math.max(1, Math.ceil(this.timerAt - now)), this);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    } else {
      streamDeadlines.remove(this);
    }
    this.timerAt = 0;
  }

  /** The timer fired: handle every deadline that passed, then re-arm for the next one. */
  timerFired(): void {
    this.timer = undefined;
    this.timerAt = 0;
    if (this.finished) return;
    // Node timers run on whole milliseconds of loop time: allow 1 ms of skew against performance.now().
    const now = performance.now() + 1;
    if (this.routeDeadline !== 0 && this.routeDeadline <= now) {
      this.routeTimedOut();
      return;
    }
    if (this.requestDeadline !== 0 && this.requestDeadline <= now) {
      this.streamTimedOut(Errors.requestTimeout);
      return;
    }
    if (this.durationDeadline !== 0 && this.durationDeadline <= now) {
      // Envoy onStreamMaxDurationReached: maybeRequestTimeoutCode (504 once the request was fully received, else 408).
      this.streamTimedOut(this.requestComplete ? Errors.maxDurationTimeout : Errors.maxDurationTimeoutIncompleteRequest);
      return;
    }
    if (this.idleTimeoutMs > 0 && this.lastActivityAt + this.idleTimeoutMs <= now) {
      this.streamTimedOut(Errors.streamIdleTimeout);
      return;
    }
    if (this.tryDeadline !== 0 && this.tryDeadline <= now) this.perTryTimedOut();
    if (this.attemptDurationDeadline !== 0 && this.attemptDurationDeadline <= now) this.attemptDurationReached();
    if (this.backoffDeadline !== 0 && this.backoffDeadline <= now) this.retryNow();
    this.armTimer();
  }

  // === attempts ===

  private startAttempt(): void {
    const cluster = this.cluster;
    const head = this.upstreamHead;
    if (cluster === undefined || head === undefined || this.finished) return;
    const policy = this.retry?.policy;
    const host = cluster.pick({
      exclude: policy?.avoidPreviousHosts === true ? this.triedHosts : undefined,
      maxSelectionAttempts: policy?.hostSelectionRetryMaxAttempts ?? 1,
      originalDst: this.info.originalDst,
      hash: this.requestHash,
    });
    if (host === undefined) {
      this.finishWithError(Errors.noHealthyHost);
      return;
    }
    this.attemptCount += 1;
    if (policy?.avoidPreviousHosts === true) (this.triedHosts ??= new Set()).add(host);
    host.activeRequests += 1;
    const protocol = cluster.upstreamProtocol(this.downstream.protocol);
    const attemptHead: UpstreamRequestHead = this.attemptCount === 1 ? head : { ...head, headers: { ...head.headers } };
    this.lastHost = host;
    const observers = this.env.observers;
    if (observers.length > 0) {
      // The first attempt starts within start(), in the same synchronous call as startedAtPerfMs.
      const startedAtPerfMs = this.attemptCount === 1 ? this.startedAtPerfMs : performance.now();
      const info: AttemptInfo = { cluster, host, protocol, number: this.attemptCount, startedAtPerfMs };
      this.attemptInfo = info;
      for (const observer of observers) observer.attemptStarted?.(this, info, attemptHead.headers);
    }
    let attempt: UpstreamAttempt;
    try {
      attempt = protocol === 'http2' ? (this.env.ownHttp2 ? new H2Attempt(host, this, attemptHead) : new Http2Attempt(host, this, attemptHead)) : (this.downstream.openHttp1Attempt?.(host, this, attemptHead) ?? new Http1Attempt(host, this, attemptHead));
    } catch (error) {
      host.activeRequests -= 1;
      this.reportAttempt(CONNECT_FAILURE_RESULT);
      this.onAttemptSetupError(error as Error);
      return;
    }
    this.attempt = attempt;
    if (this.retrySlot === 'pending') this.retrySlot = attempt;
    if (this.downstream.hasBody) {
      if (this.attemptCount > 1 && this.bodyChunks !== undefined) {
        for (const chunk of this.bodyChunks) attempt.write(chunk);
      }
      if (this.requestComplete) attempt.end();
      else this.downstream.body.resume();
    }
    // finalTimeout already dropped a per-try timeout at or above the route timeout.
    if (this.perTryTimeoutMs > 0) {
      this.tryDeadline = performance.now() + this.perTryTimeoutMs;
      this.armTimer();
    }
    // Cluster common_http_protocol_options.max_stream_duration: per attempt, from the upstream request's start.
    const attemptMax = cluster.config.upstreamHttp.maxStreamDurationMs;
    if (attemptMax !== null && attemptMax > 0) {
      this.attemptDurationDeadline = performance.now() + attemptMax;
      this.armTimer();
    }
  }

  private onAttemptSetupError(error: Error): void {
    this.lastFailure = { kind: Errors.connectFailure };
    if (!this.maybeRetry({ kind: 'connect_failure' })) this.finishWithError(Errors.connectFailure, error);
  }

  /** Tells observers how the current attempt ended (once per attempt). */
  private reportAttempt(result: AttemptResult): void {
    const info = this.attemptInfo;
    if (info === undefined) return;
    this.attemptInfo = undefined;
    for (const observer of this.env.observers) observer.attemptEnded?.(this, info, result);
  }

  private endAttempt(attempt: UpstreamAttempt, result?: AttemptResult): void {
    if (result !== undefined) this.reportAttempt(result);
    if (this.attempt === attempt) this.attempt = undefined;
    attempt.host.activeRequests -= 1;
    this.tryDeadline = 0;
    this.attemptDurationDeadline = 0;
    if (this.retrySlot === attempt) this.releaseRetrySlot();
  }

  private releaseRetrySlot(): void {
    if (this.retrySlot === undefined) return;
    this.retrySlot = undefined;
    this.breaker?.releaseRetry();
  }

  /** True when a retry was scheduled for this outcome. */
  private maybeRetry(outcome: AttemptOutcome): boolean {
    return this.maybeRetryKeepingSlot(outcome, false);
  }

  /** `haveSlot`: the caller already holds a retry breaker slot and hands it to the next attempt. */
  private maybeRetryKeepingSlot(outcome: AttemptOutcome, haveSlot: boolean): boolean {
    const retry = this.retry;
    if (retry === undefined || this.responseForwarded || this.downstream.headersSent) return false;
    if (this.downstream.hasBody && !this.bodyReplayable) return false;
    if (!retry.takeRetry(outcome)) return false;
    const cluster = this.cluster;
    if (cluster === undefined) return false;
    // Retry overflow (max_retries / retry budget): no retry, the last outcome goes downstream (Envoy: upstream_rq_retry_overflow).
    if (!haveSlot && !(this.breaker ?? cluster.breaker).tryAcquireRetry()) return false;
    this.retrySlot = 'pending';
    this.backoffDeadline = performance.now() + retry.nextBackoffMs();
    this.armTimer();
    return true;
  }

  /** The back-off deadline passed. */
  private retryNow(): void {
    this.backoffDeadline = 0;
    if (this.finished) return;
    this.startAttempt();
  }

  onUpstreamHeaders(attempt: UpstreamAttempt, status: number, headers: http.IncomingHttpHeaders, endStream: boolean): void {
    if (attempt !== this.attempt || this.finished) return;
    this.lastActivityAt = performance.now();
    const grpcStatusHeader = headers['grpc-status'];
    const grpcStatus = typeof grpcStatusHeader === 'string' ? Number(grpcStatusHeader) : undefined;
    // Envoy reports the upstream status to outlier detection when the response headers arrive.
    this.reportAttempt({ kind: 'response', status, grpcStatus });
    if (this.retry !== undefined && (status >= 400 || (grpcStatus !== undefined && grpcStatus !== 0))) {
      const outcome: AttemptOutcome = { kind: 'response', status, grpcStatus };
      if (this.retry.wouldRetry(outcome)) {
        // Envoy discards a retriable response and tries again while retries remain; the last one goes downstream.
        const holder = this.retrySlot === attempt;
        const exhausted = this.retry.remaining === 0;
        if (holder) this.retrySlot = undefined; // hand the slot over instead of releasing and re-taking it
        if (this.maybeRetryKeepingSlot(outcome, holder)) {
          attempt.abort();
          this.endAttempt(attempt);
          return;
        }
        if (holder) this.retrySlot = attempt;
        // Retries used up: Envoy forwards this response flagged URX (RetryStatus::NoRetryLimitExceeded).
        if (exhausted) this.responseFlag = 'URX';
      }
    }
    this.responseForwarded = true;
    const route = this.route;
    const out = headers as http.OutgoingHttpHeaders;
    cleanResponseHeaders(out, status === 101);
    if (route !== undefined && route.mutatesResponseHeaders) route.applyResponseHeaders(new ObjectHeaderMap(out as HeaderObject), this.headerVars(attempt.host), this.selectedClusterName);
    // HTTP/2 responses may end with trailers without announcing them; HTTP/1.1 ones announce them (Trailer).
    const trailersExpected = attempt.protocol === 'http2' || out['trailer'] !== undefined;
    this.responseStatus = status;
    if (this.hashCookie !== undefined) {
      const cookies = out['set-cookie'];
      out['set-cookie'] = cookies === undefined ? [this.hashCookie] : [...(Array.isArray(cookies) ? cookies : [String(cookies)]), this.hashCookie];
    }
    this.downstream.respond(status, out, endStream, trailersExpected);
    if (endStream) this.completeResponse(attempt);
  }

  onUpstreamData(attempt: UpstreamAttempt, chunk: Buffer): void {
    if (attempt !== this.attempt || this.finished) return;
    this.lastActivityAt = performance.now();
    if (!this.downstream.write(chunk)) {
      attempt.pause();
      this.downstream.onDrain(() => attempt.resume());
    }
  }

  onUpstreamEnd(attempt: UpstreamAttempt, trailers: http.IncomingHttpHeaders | undefined): void {
    if (attempt !== this.attempt || this.finished) return;
    this.downstream.end(trailers === undefined ? NO_TRAILERS : (trailers as http.OutgoingHttpHeaders));
    this.completeResponse(attempt);
  }

  onUpstreamFailure(attempt: UpstreamAttempt, outcome: AttemptOutcome, error: Error): void {
    if (attempt !== this.attempt || this.finished) return;
    this.endAttempt(attempt, outcome.kind === 'connect_failure' || outcome.kind === 'refused_stream' ? { kind: outcome.kind } : RESET_RESULT);
    if (this.responseForwarded) {
      // Mid-response failure: nothing can be retried; the client sees a reset, as with Envoy.
      this.responseFlag = 'UR';
      this.downstream.reset();
      this.finish();
      return;
    }
    // A reused keep-alive connection the server had already closed: the request never reached it. Retry once on a
    // fresh connection when that is safe (idempotent, no body), as HTTP clients do for this race.
    if (outcome.kind === 'reset' && attempt.reusedConnection && !this.downstream.hasBody && IDEMPOTENT.has(this.downstream.method) && this.attemptCount < 8) {
      this.startAttempt();
      return;
    }
    const kind = errorKindFor(outcome);
    this.lastFailure = { kind };
    if (!this.maybeRetry(outcome)) this.finishWithError(kind, error);
  }

  /** The per-try deadline of the current attempt passed. */
  private perTryTimedOut(): void {
    this.tryDeadline = 0;
    const attempt = this.attempt;
    if (attempt === undefined || this.finished) return;
    attempt.abort();
    this.endAttempt(attempt, PER_TRY_TIMEOUT_RESULT);
    if (this.responseForwarded) {
      this.downstream.reset();
      this.finish();
      return;
    }
    this.lastFailure = { kind: Errors.perTryTimeout };
    if (!this.maybeRetry({ kind: 'per_try_timeout' })) this.finishWithError(Errors.perTryTimeout);
  }

  /**
   * The attempt's max stream duration passed (Envoy UpstreamRequest/Filter::onStreamMaxDurationReached): the
   * upstream stream is reset, retried when the policy retries resets, else a local reply flagged UMSDR (504 once the
   * request was fully received, else 408; a reset if the response already started).
   */
  private attemptDurationReached(): void {
    this.attemptDurationDeadline = 0;
    const attempt = this.attempt;
    if (attempt === undefined || this.finished) return;
    attempt.abort();
    this.endAttempt(attempt, MAX_STREAM_DURATION_RESULT);
    const kind = this.requestComplete ? Errors.upstreamMaxStreamDuration : Errors.upstreamMaxStreamDurationIncompleteRequest;
    this.lastFailure = { kind };
    // maybeRetry declines once the response started; finishWithError then resets the stream.
    if (!this.maybeRetry({ kind: 'reset', beforeRequestSent: !attempt.requestSent })) this.finishWithError(kind);
  }

  /** The route deadline passed: 504 UT before the response started, a reset after. */
  private routeTimedOut(): void {
    this.routeDeadline = 0;
    if (this.finished) return;
    const attempt = this.attempt;
    if (attempt !== undefined) {
      attempt.abort();
      this.endAttempt(attempt, TIMEOUT_RESULT);
    }
    this.finishWithError(Errors.upstreamTimeout);
  }

  /**
   * HCM stream_idle_timeout / route idle_timeout (408 "stream timeout", SI) and request_timeout (408 "request
   * timeout"): a local reply before the response started, a stream reset after (Envoy onIdleTimeout /
   * onRequestTimeout). The upstream request is cancelled.
   */
  private streamTimedOut(kind: ErrorKind): void {
    const attempt = this.attempt;
    if (attempt !== undefined) {
      attempt.abort();
      this.endAttempt(attempt, CANCELLED_RESULT);
    }
    this.finishWithError(kind);
  }

  private onDownstreamAbort(): void {
    if (this.finished) return;
    const attempt = this.attempt;
    if (attempt !== undefined) {
      attempt.abort();
      this.endAttempt(attempt, CANCELLED_RESULT);
    }
    this.responseFlag ??= 'DC';
    this.finish();
  }

  private completeResponse(attempt: UpstreamAttempt): void {
    this.endAttempt(attempt);
    this.finish();
  }

  // === local answers ===

  private respondDirect(status: number, body: string, location: string | undefined): void {
    this.responseStatus = status;
    const headers: http.OutgoingHttpHeaders = {};
    if (location !== undefined) headers['location'] = location;
    if (body !== '') headers['content-type'] = 'text/plain';
    headers['content-length'] = Buffer.byteLength(body);
    const route = this.route;
    if (route !== undefined) route.applyResponseHeaders(new ObjectHeaderMap(headers as HeaderObject), this.headerVars(null));
    if (body === '') {
      this.downstream.respond(status, headers, true, false);
    } else {
      this.downstream.respond(status, headers, false, false);
      this.downstream.write(Buffer.from(body));
      this.downstream.end(undefined);
    }
    this.finish();
    this.drainRequestBody();
  }

  private localReply(kind: ErrorKind): void {
    this.noteLocalReply(kind);
    sendLocalReply(this.downstream, kind, this.isGrpc);
    this.finish();
    this.drainRequestBody();
  }

  private noteLocalReply(kind: ErrorKind): void {
    this.responseFlag = kind.flag;
    if (!this.downstream.headersSent) this.responseStatus = this.isGrpc ? 200 : kind.httpStatus;
  }

  private finishWithError(kind: ErrorKind, _cause?: Error): void {
    if (this.finished) return;
    this.noteLocalReply(kind);
    sendLocalReply(this.downstream, kind, this.isGrpc);
    this.finish();
    this.drainRequestBody();
  }

  /** Reads and discards a request body nobody will take (the HTTP/1.1 connection closes after the response). */
  private drainRequestBody(): void {
    if (this.downstream.hasBody && !this.requestComplete) this.downstream.body.resume();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timerAt !== 0) this.cancelTimer();
    if (this.requestAcquired) {
      this.breaker?.releaseRequest();
      this.requestAcquired = false;
    }
    this.releaseRetrySlot();
    this.bodyChunks = undefined;
    const observers = this.env.observers;
    if (observers.length > 0) {
      const summary = { status: this.responseStatus, flag: this.responseFlag, attempts: this.attemptCount, host: this.lastHost, durationMs: performance.now() - this.startedAtPerfMs };
      for (const observer of observers) observer.exchangeEnded?.(this, summary);
    }
    this.env.onExchangeDone(this);
  }

  private headerVars(upstreamHost: Host | null): HeaderVars {
    return {
      request: this.request,
      downstreamRemoteIp: this.info.remoteAddress,
      downstreamRemotePort: this.info.remotePort,
      downstreamLocalIp: this.info.localAddress,
      downstreamLocalPort: this.info.localPort,
      upstreamHost: upstreamHost === null ? null : upstreamHost.key,
      protocol: this.downstream.protocol === 'http2' ? 'HTTP/2' : 'HTTP/1.1',
      startTimeMs: this.startedAtMs,
    };
  }

  /** For the access log and tests: the last failure kind seen, if any. */
  get failure(): ErrorKind | undefined {
    return this.lastFailure?.kind;
  }
}

const CONNECT_FAILURE_RESULT: AttemptResult = Object.freeze({ kind: 'connect_failure' });
const RESET_RESULT: AttemptResult = Object.freeze({ kind: 'reset' });
const PER_TRY_TIMEOUT_RESULT: AttemptResult = Object.freeze({ kind: 'per_try_timeout' });
const TIMEOUT_RESULT: AttemptResult = Object.freeze({ kind: 'timeout' });
const CANCELLED_RESULT: AttemptResult = Object.freeze({ kind: 'cancelled' });
const MAX_STREAM_DURATION_RESULT: AttemptResult = Object.freeze({ kind: 'max_stream_duration' });

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/**
 * HCM `strip_matching_host_port` / `strip_any_host_port`: the port is removed from the authority before routing
 * (Envoy matches `host:port` as received otherwise).
 */
export function stripPort(authority: string, mode: HttpConnectionManagerConfig['stripPortMode'], listenerPort: number): string {
  if (mode === 'none') return authority;
  const colon = portStart(authority);
  if (colon < 0) return authority;
  if (mode === 'matching' && authority.slice(colon + 1) !== String(listenerPort)) return authority;
  return authority.slice(0, colon);
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function errorKindFor(outcome: AttemptOutcome): ErrorKind {
  switch (outcome.kind) {
    case 'connect_failure':
      return Errors.connectFailure;
    case 'per_try_timeout':
      return Errors.perTryTimeout;
    case 'overflow':
      return Errors.overflow;
    case 'refused_stream':
    case 'reset':
    case 'response':
      return Errors.upstreamReset;
  }
}

/** Far stream deadlines of every exchange (route and idle timeouts): one sweep timer instead of one timer each. */
const streamDeadlines = new CoarseDeadlineQueue<Exchange>();

// Module-level timer handler (hot-path habit: no per-request closures for timers).
function onStreamTimer(exchange: Exchange): void {
  exchange.timerFired();
}
