// Request counters as an exchange observer: per cluster (upstream attempts) and per listener (downstream
// requests), Envoy-style names, fixed latency buckets; rendered at scrape time, never formatted per request.

import type { AttemptOutcome, AttemptView, ExchangeOutcome, ExchangeView } from './exchange-view';
import type { PrometheusText } from './prometheus-text';

/** Latency bucket upper bounds in ms (few and fixed, like Envoy's default histogram buckets trimmed). */
export const LATENCY_BOUNDS_MS: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** A fixed-bucket latency histogram (non-cumulative buckets; the last is +Inf). */
export class LatencyHistogram {
  readonly buckets: number[] = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  sum = 0;

  observe(ms: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS_MS.length && ms > (LATENCY_BOUNDS_MS[i] as number)) i++;
    this.buckets[i] = (this.buckets[i] ?? 0) + 1;
    this.sum += ms;
  }
}

/** Counters of one upstream cluster (Envoy `cluster.<name>.upstream_rq_*`). */
export class ClusterRequestStats {
  /** Attempts completed (Envoy `upstream_rq_total` counts requests sent upstream, retries included). */
  rqTotal = 0;
  /** By status class: index 1..5 = 1xx..5xx, 0 = no response (reset, connect failure, timeout). */
  readonly rqByClass: number[] = [0, 0, 0, 0, 0, 0];
  /** `upstream_rq_retry`: attempts after the first. */
  retries = 0;
  /** `upstream_rq_timeout` (route timeout) and `upstream_rq_per_try_timeout`. */
  timeouts = 0;
  perTryTimeouts = 0;
  /** `upstream_cx_connect_fail`. */
  connectFailures = 0;
  /** `upstream_rq_rx_reset` (resets and refused streams). */
  resets = 0;
  /** `upstream_rq_max_duration_reached`: attempts reset at the cluster's max_stream_duration. */
  maxDurationReached = 0;
  /** Attempts in flight (`upstream_rq_active`). */
  active = 0;
  readonly time = new LatencyHistogram();
}

/** Counters of one listener's HTTP traffic (Envoy `http.<stat_prefix>.downstream_rq_*`). */
export class ListenerRequestStats {
  rqTotal = 0;
  readonly rqByClass: number[] = [0, 0, 0, 0, 0, 0];
  active = 0;
  /** `downstream_rq_max_duration_reached`: streams ended by max_stream_duration (flag DT). */
  maxDurationReached = 0;
  /** `downstream_rq_header_timeout`: request heads not complete within request_headers_timeout (408). */
  rqHeaderTimeouts = 0;
  /** `downstream_cx_max_duration_reached`: connections drained by max_connection_duration. */
  cxMaxDurationReached = 0;
  /** Local replies and resets by Envoy response flag (UH, UF, UO, NR, ...). */
  readonly flags = new Map<string, number>();
  readonly time = new LatencyHistogram();
}

function statusClass(status: number): number {
  const c = Math.floor(status / 100);
  return c >= 1 && c <= 5 ? c : 0;
}



/**
 * The stats observer. Each exchange and attempt updates a few integer fields of a per-cluster / per-listener
 * object found by name (Map lookup; objects are created once per name and kept, so a scrape sees counters
 * that only grow, as Prometheus expects).
 */
export class ExchangeStats {
  readonly clusters = new Map<string, ClusterRequestStats>();
  readonly listeners = new Map<string, ListenerRequestStats>();

  cluster(name: string): ClusterRequestStats {
    let stats = this.clusters.get(name);
    if (stats === undefined) {
      stats = new ClusterRequestStats();
      this.clusters.set(name, stats);
    }
    return stats;
  }

  listener(name: string): ListenerRequestStats {
    let stats = this.listeners.get(name);
    if (stats === undefined) {
      stats = new ListenerRequestStats();
      this.listeners.set(name, stats);
    }
    return stats;
  }

  exchangeStarted(exchange: ExchangeView): void {
    this.listener(exchange.listenerName).active += 1;
  }

  attemptStarted(_exchange: ExchangeView, attempt: AttemptView): void {
    const stats = this.cluster(attempt.cluster.name);
    stats.active += 1;
    if (attempt.number > 1) stats.retries += 1;
  }

  attemptEnded(_exchange: ExchangeView, attempt: AttemptView, result: AttemptOutcome): void {
    const stats = this.cluster(attempt.cluster.name);
    stats.active -= 1;
    stats.rqTotal += 1;
    if (result.kind === 'response') {
      stats.rqByClass[statusClass(result.status)] = (stats.rqByClass[statusClass(result.status)] ?? 0) + 1;
      stats.time.observe(performance.now() - attempt.startedAtPerfMs);
      return;
    }
    stats.rqByClass[0] = (stats.rqByClass[0] ?? 0) + 1;
    switch (result.kind) {
      case 'connect_failure': stats.connectFailures += 1; break;
      case 'reset': case 'refused_stream': stats.resets += 1; break;
      case 'per_try_timeout': stats.perTryTimeouts += 1; break;
      case 'timeout': stats.timeouts += 1; break;
      case 'max_stream_duration': stats.maxDurationReached += 1; break;
      default: break;
    }
  }

  exchangeEnded(exchange: ExchangeView, outcome: ExchangeOutcome): void {
    const stats = this.listener(exchange.listenerName);
    stats.active -= 1;
    stats.rqTotal += 1;
    const c = statusClass(outcome.status);
    stats.rqByClass[c] = (stats.rqByClass[c] ?? 0) + 1;
    stats.time.observe(outcome.durationMs);
    if (outcome.flag === 'DT') stats.maxDurationReached += 1;
    if (outcome.flag !== undefined) stats.flags.set(outcome.flag, (stats.flags.get(outcome.flag) ?? 0) + 1);
  }

  requestHeadersTimedOut(listenerName: string): void {
    this.listener(listenerName).rqHeaderTimeouts += 1;
  }

  connectionDurationReached(listenerName: string): void {
    this.listener(listenerName).cxMaxDurationReached += 1;
  }

  /** Writes the request families (cluster ones under `envoy_cluster_*`, listener ones under `envoy_http_*`). */
  render(out: PrometheusText): void {
    for (const [name, s] of this.clusters) {
      const l = { envoy_cluster_name: name };
      out.counter('envoy_cluster_upstream_rq_total', 'Requests sent upstream (attempts, retries included)', l, s.rqTotal);
      for (let c = 1; c <= 5; c++) out.counter('envoy_cluster_upstream_rq_xx', 'Upstream responses by status class', { ...l, envoy_response_code_class: String(c) }, s.rqByClass[c] ?? 0);
      out.counter('envoy_cluster_upstream_rq_retry', 'Retried requests', l, s.retries);
      out.counter('envoy_cluster_upstream_rq_timeout', 'Requests that hit the route timeout', l, s.timeouts);
      out.counter('envoy_cluster_upstream_rq_per_try_timeout', 'Attempts that hit the per-try timeout', l, s.perTryTimeouts);
      out.counter('envoy_cluster_upstream_cx_connect_fail', 'Connection failures', l, s.connectFailures);
      out.counter('envoy_cluster_upstream_rq_rx_reset', 'Attempts reset before a response', l, s.resets);
      out.counter('envoy_cluster_upstream_rq_max_duration_reached', 'Attempts reset at the cluster max_stream_duration', l, s.maxDurationReached);
      out.gauge('envoy_cluster_upstream_rq_active', 'Attempts in flight', l, s.active);
      out.histogram('envoy_cluster_upstream_rq_time', 'Upstream response time in ms (to response headers)', l, LATENCY_BOUNDS_MS, s.time.buckets, s.time.sum);
    }
    for (const [name, s] of this.listeners) {
      const l = { envoy_http_conn_manager_prefix: name };
      out.counter('envoy_http_downstream_rq_total', 'Downstream requests', l, s.rqTotal);
      for (let c = 1; c <= 5; c++) out.counter('envoy_http_downstream_rq_xx', 'Downstream responses by status class', { ...l, envoy_response_code_class: String(c) }, s.rqByClass[c] ?? 0);
      out.gauge('envoy_http_downstream_rq_active', 'Downstream requests in flight', l, s.active);
      out.counter('envoy_http_downstream_rq_max_duration_reached', 'Streams ended by max_stream_duration', l, s.maxDurationReached);
      out.counter('envoy_http_downstream_rq_header_timeout', 'Requests closed because their headers did not arrive within request_headers_timeout', l, s.rqHeaderTimeouts);
      out.counter('envoy_http_downstream_cx_max_duration_reached', 'Connections drained by max_connection_duration', l, s.cxMaxDurationReached);
      out.histogram('envoy_http_downstream_rq_time', 'Downstream request duration in ms', l, LATENCY_BOUNDS_MS, s.time.buckets, s.time.sum);
      for (const [flag, count] of s.flags) out.counter('meshlet_http_downstream_rq_response_flag', 'Requests by Envoy response flag', { ...l, response_flag: flag }, count);
    }

  }
}
