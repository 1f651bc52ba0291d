// Host eligibility as a bitmask of independent reasons, each owned by one subsystem (Envoy `Host::HealthFlag`).

/**
 * One bit per reason a host is unhealthy, degraded or excluded. Each bit has exactly one owner that sets and
 * clears it; nobody else writes it (ARCHITECTURE principle 5). Envoy: `upstream_impl.h` `coarseHealth()`,
 * `excludeBasedOnHealthFlag()`; specs/load-balancing.md §3.4.
 */
export const HostHealthFlags = {
  /** EDS `UNHEALTHY` or `TIMEOUT` (Envoy FAILED_EDS_HEALTH). Owner: the cluster's endpoint update. */
  EDS_UNHEALTHY: 1 << 0,
  /** EDS `DRAINING` (Envoy EDS_STATUS_DRAINING): unhealthy and excluded. Owner: endpoint update. */
  EDS_DRAINING: 1 << 1,
  /** EDS `DEGRADED` (Envoy DEGRADED_EDS_HEALTH). Owner: endpoint update. */
  EDS_DEGRADED: 1 << 2,
  /** Failed active health checking (Envoy FAILED_ACTIVE_HC). Owner: health/ (issue 4). */
  FAILED_ACTIVE_HC: 1 << 3,
  /** Active health check says degraded (Envoy DEGRADED_ACTIVE_HC). Owner: health/. */
  DEGRADED_ACTIVE_HC: 1 << 4,
  /** Not checked yet with `ignore_new_hosts_until_first_hc` (Envoy PENDING_ACTIVE_HC): excluded. Owner: health/. */
  PENDING_ACTIVE_HC: 1 << 5,
  /** `x-envoy-immediate-health-check-fail` (Envoy EXCLUDED_VIA_IMMEDIATE_HC_FAIL): excluded. Owner: health/. */
  EXCLUDED_VIA_IMMEDIATE_HC_FAIL: 1 << 6,
  /** Ejected by outlier detection (Envoy FAILED_OUTLIER_CHECK). Owner: outlier/ (issue 4). */
  OUTLIER_EJECTED: 1 << 7,
  /** Removed from the cluster, kept only until its connections finish. Owner: the cluster. */
  DRAINING: 1 << 8,
} as const;

export type HostHealthFlag = (typeof HostHealthFlags)[keyof typeof HostHealthFlags];

const F = HostHealthFlags;

/** Any of these makes a host unhealthy (Envoy coarseHealth Unhealthy; DRAINING is ours: a removed host). */
export const UNHEALTHY_MASK = F.EDS_UNHEALTHY | F.EDS_DRAINING | F.FAILED_ACTIVE_HC | F.OUTLIER_EJECTED | F.DRAINING;
/** Degraded when none of UNHEALTHY_MASK is set but one of these is. */
export const DEGRADED_MASK = F.EDS_DEGRADED | F.DEGRADED_ACTIVE_HC;
/** Left out of every host count used in priority and panic maths. */
export const EXCLUDED_MASK = F.PENDING_ACTIVE_HC | F.EXCLUDED_VIA_IMMEDIATE_HC_FAIL | F.EDS_DRAINING | F.DRAINING;
/** The bits the EDS health status owns. */
export const EDS_MASK = F.EDS_UNHEALTHY | F.EDS_DRAINING | F.EDS_DEGRADED;

export type CoarseHealth = 'healthy' | 'degraded' | 'unhealthy';

/** Envoy `coarseHealth()`. */
export function coarseHealth(flags: number): CoarseHealth {
  if ((flags & UNHEALTHY_MASK) !== 0) return 'unhealthy';
  if ((flags & DEGRADED_MASK) !== 0) return 'degraded';
  return 'healthy';
}

/** Envoy `excludeBasedOnHealthFlag()` (plus our DRAINING). */
export function isExcluded(flags: number): boolean {
  return (flags & EXCLUDED_MASK) !== 0;
}

/** The EDS bits for an EDS `health_status` (Envoy `setEdsHealthFlag`): UNKNOWN and HEALTHY set none. */
export function edsHealthFlags(status: 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED'): number {
  switch (status) {
    case 'UNHEALTHY':
    case 'TIMEOUT':
      return F.EDS_UNHEALTHY;
    case 'DRAINING':
      return F.EDS_DRAINING;
    case 'DEGRADED':
      return F.EDS_DEGRADED;
    default:
      return 0;
  }
}

/** Envoy admin `/clusters` style names of the set flags, e.g. `/failed_outlier_check/eds_health`. */
export function describeHealthFlags(flags: number): string {
  const names: string[] = [];
  if (flags & F.FAILED_ACTIVE_HC) names.push('failed_active_hc');
  if (flags & F.OUTLIER_EJECTED) names.push('failed_outlier_check');
  if (flags & F.EDS_UNHEALTHY) names.push('failed_eds_health');
  if (flags & F.DEGRADED_ACTIVE_HC) names.push('degraded_active_hc');
  if (flags & F.EDS_DEGRADED) names.push('degraded_eds_health');
  if (flags & F.PENDING_ACTIVE_HC) names.push('pending_active_hc');
  if (flags & F.EXCLUDED_VIA_IMMEDIATE_HC_FAIL) names.push('excluded_via_immediate_hc_fail');
  if (flags & F.EDS_DRAINING) names.push('eds_status_draining');
  if (flags & F.DRAINING) names.push('pending_dynamic_removal');
  return names.length === 0 ? 'healthy' : `/${names.join('/')}`;
}
