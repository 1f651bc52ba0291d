// The success-rate outlier statistic: mean, population stdev and ejection threshold over the valid hosts' rates.

/** Envoy `DetectorImpl::EjectionPair`: what `/clusters` shows as `success_rate_average` / `success_rate_ejection_threshold`. */
export interface SuccessRateThreshold {
  readonly mean: number;
  readonly stdev: number;
  /** `mean − factor · stdev`; a host with a rate strictly below it is an outlier. */
  readonly threshold: number;
}

/**
 * Envoy `DetectorImpl::successRateEjectionThreshold` (outlier_detection_impl.cc): mean of the rates, population
 * standard deviation (divided by n, not n−1), threshold `mean − stdevFactor · stdev` where `stdevFactor` is
 * `success_rate_stdev_factor / 1000`. Rates are percentages (0..100). `rates` must not be empty.
 */
export function successRateThreshold(rates: readonly number[], stdevFactor: number): SuccessRateThreshold {
  let sum = 0;
  for (const r of rates) sum += r;
  const mean = sum / rates.length;
  let variance = 0;
  for (const r of rates) variance += (r - mean) * (r - mean);
  variance /= rates.length;
  const stdev = Math.sqrt(variance);
  return { mean, stdev, threshold: mean - stdevFactor * stdev };
}
