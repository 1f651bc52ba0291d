// OutlierDetection -> OutlierDetectionConfig with every Envoy default (DetectorConfig DEFAULT_* constants).

import type { ErrorCollector } from '../../core/validation';
import { DEFAULT_OUTLIER_DETECTION as D, type OutlierDetectionConfig } from '../../config/cluster-config';
import { durationMs, durationMsOr } from './duration-ms';
import { wrapperValue } from './wrapper-value';
import type { OutlierDetection__Output } from '../../../../xds-protos/generated/envoy/config/cluster/v3/OutlierDetection';

/** null when unset (no outlier detection). `errors` is at the OutlierDetection. */
export function decodeOutlierDetection(o: OutlierDetection__Output | null, errors: ErrorCollector): OutlierDetectionConfig | null {
  if (o === null) return null;
  if (o.monitors.length > 0) errors.add('outlier detection monitors are not supported', 'monitors');
  const baseEjectionTimeMs = durationMsOr(o.base_ejection_time, D.baseEjectionTimeMs);
  const maxEjectionTimeMs = durationMs(o.max_ejection_time);
  // Envoy: max_ejection_time defaults to max(300 s, base_ejection_time); an explicit one below base is a config error.
  if (maxEjectionTimeMs !== null && maxEjectionTimeMs < baseEjectionTimeMs) {
    errors.add('max_ejection_time must be greater than or equal to base_ejection_time', 'max_ejection_time');
  }
  return {
    consecutive5xx: wrapperValue(o.consecutive_5xx, D.consecutive5xx),
    intervalMs: durationMsOr(o.interval, D.intervalMs),
    baseEjectionTimeMs,
    maxEjectionPercent: Math.min(100, wrapperValue(o.max_ejection_percent, D.maxEjectionPercent)),
    enforcingConsecutive5xx: wrapperValue(o.enforcing_consecutive_5xx, D.enforcingConsecutive5xx),
    enforcingSuccessRate: wrapperValue(o.enforcing_success_rate, D.enforcingSuccessRate),
    successRateMinimumHosts: wrapperValue(o.success_rate_minimum_hosts, D.successRateMinimumHosts),
    successRateRequestVolume: wrapperValue(o.success_rate_request_volume, D.successRateRequestVolume),
    successRateStdevFactor: wrapperValue(o.success_rate_stdev_factor, D.successRateStdevFactor),
    consecutiveGatewayFailure: wrapperValue(o.consecutive_gateway_failure, D.consecutiveGatewayFailure),
    enforcingConsecutiveGatewayFailure: wrapperValue(o.enforcing_consecutive_gateway_failure, D.enforcingConsecutiveGatewayFailure),
    splitExternalLocalOriginErrors: o.split_external_local_origin_errors,
    consecutiveLocalOriginFailure: wrapperValue(o.consecutive_local_origin_failure, D.consecutiveLocalOriginFailure),
    enforcingConsecutiveLocalOriginFailure: wrapperValue(o.enforcing_consecutive_local_origin_failure, D.enforcingConsecutiveLocalOriginFailure),
    enforcingLocalOriginSuccessRate: wrapperValue(o.enforcing_local_origin_success_rate, D.enforcingLocalOriginSuccessRate),
    failurePercentageThreshold: wrapperValue(o.failure_percentage_threshold, D.failurePercentageThreshold),
    enforcingFailurePercentage: wrapperValue(o.enforcing_failure_percentage, D.enforcingFailurePercentage),
    enforcingFailurePercentageLocalOrigin: wrapperValue(o.enforcing_failure_percentage_local_origin, D.enforcingFailurePercentageLocalOrigin),
    failurePercentageMinimumHosts: wrapperValue(o.failure_percentage_minimum_hosts, D.failurePercentageMinimumHosts),
    failurePercentageRequestVolume: wrapperValue(o.failure_percentage_request_volume, D.failurePercentageRequestVolume),
    maxEjectionTimeMs: maxEjectionTimeMs ?? Math.max(D.maxEjectionTimeMs, baseEjectionTimeMs),
    maxEjectionTimeJitterMs: durationMsOr(o.max_ejection_time_jitter, D.maxEjectionTimeJitterMs),
    successfulActiveHealthCheckUnejectHost: wrapperValue(o.successful_active_health_check_uneject_host, D.successfulActiveHealthCheckUnejectHost),
    alwaysEjectOneHost: wrapperValue(o.always_eject_one_host, D.alwaysEjectOneHost),
  };
}
