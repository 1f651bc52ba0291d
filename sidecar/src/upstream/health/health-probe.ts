// The contract between the health checker (scheduling, thresholds, flags) and one protocol's probe (HTTP, TCP, gRPC).

/**
 * How one check ended (Envoy `HealthCheckFailureType`): `active` = the host answered wrongly (a non-retriable one
 * makes a healthy host unhealthy at once), `network` = connect failure or reset, `network_timeout` = no answer
 * within `timeout` (both count toward `unhealthy_threshold`).
 */
export type ProbeResult =
  | { readonly kind: 'success'; readonly degraded: boolean }
  | { readonly kind: 'failure'; readonly type: 'active' | 'network' | 'network_timeout'; readonly retriable: boolean };

/** Where a probe connects and what it names itself as. */
export interface ProbeTarget {
  readonly address: string;
  readonly port: number;
  /** Host / :authority when the checker config leaves it empty: the endpoint hostname, else the cluster name. */
  readonly defaultAuthority: string;
}

/**
 * One host's probe, kept for the session's life (it may hold a reused connection). `check()` starts one check and
 * calls `done` exactly once unless `cancel()` comes first (the checker's timeout). `close()` releases connections.
 */
export interface SessionProbe {
  check(done: (result: ProbeResult) => void): void;
  cancel(): void;
  close(): void;
}

export const PROBE_SUCCESS: ProbeResult = Object.freeze({ kind: 'success', degraded: false });
export const PROBE_NETWORK_FAILURE: ProbeResult = Object.freeze({ kind: 'failure', type: 'network', retriable: false });
