// RetryPolicy (route or virtual host) -> RetryPolicyConfig with Envoy's defaults (1 retry, 25 ms base back-off, max 10x base).

import type { ErrorCollector } from '../../core/validation';
import { DEFAULT_NUM_RETRIES, DEFAULT_RETRY_BASE_INTERVAL_MS, type RetryHostPredicate, type RetryPolicyConfig } from '../../config/route-config';
import { durationMs } from './duration-ms';
import { decodeHeaderMatcher, decodeList } from './matchers';
import { canonicalTypeUrl } from './typed-config';
import type { RetryPolicy__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/RetryPolicy';

const T = 'type.googleapis.com/';
const HOST_PREDICATES_BY_TYPE: Readonly<Record<string, RetryHostPredicate>> = {
  [`${T}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate`]: 'previous_hosts',
  [`${T}envoy.extensions.retry.host.omit_canary_hosts.v3.OmitCanaryHostsPredicate`]: 'omit_canary_hosts',
};
const HOST_PREDICATES_BY_NAME: Readonly<Record<string, RetryHostPredicate>> = {
  'envoy.retry_host_predicates.previous_hosts': 'previous_hosts',
  'envoy.retry_host_predicates.omit_canary_hosts': 'omit_canary_hosts',
};

/** Decodes a RetryPolicy; `errors` is at the policy. Returns null when it is unset or invalid. */
export function decodeRetryPolicy(p: RetryPolicy__Output | null, errors: ErrorCollector): RetryPolicyConfig | null {
  if (p === null) return null;
  const start = errors.errors.length;
  const baseIntervalMs = durationMs(p.retry_back_off?.base_interval) ?? DEFAULT_RETRY_BASE_INTERVAL_MS;
  const maxIntervalMs = durationMs(p.retry_back_off?.max_interval) ?? 10 * baseIntervalMs;
  if (maxIntervalMs < baseIntervalMs) errors.add('max_interval must be greater than or equal to base_interval', 'retry_back_off.max_interval');

  const retryHostPredicates: RetryHostPredicate[] = [];
  p.retry_host_predicate.forEach((pred, i) => {
    const kind = pred.typed_config ? HOST_PREDICATES_BY_TYPE[canonicalTypeUrl(pred.typed_config.type_url)] : HOST_PREDICATES_BY_NAME[pred.name];
    if (kind === undefined) errors.at('retry_host_predicate').add(`unsupported retry host predicate ${pred.typed_config?.type_url ?? pred.name}`, i);
    else retryHostPredicates.push(kind);
  });
  if (p.retry_priority !== null) errors.warn('retry_priority is not implemented; retries use the normal priority selection', 'retry_priority');
  if (p.retry_options_predicates.length > 0) errors.add('retry_options_predicates are not supported', 'retry_options_predicates');
  if (p.rate_limited_retry_back_off !== null) errors.warn('rate_limited_retry_back_off is not implemented; the regular back-off applies', 'rate_limited_retry_back_off');

  const attempts = Number(p.host_selection_retry_max_attempts);
  const config: RetryPolicyConfig = {
    retryOn: p.retry_on.split(',').map((s) => s.trim()).filter((s) => s !== ''),
    numRetries: p.num_retries?.value ?? DEFAULT_NUM_RETRIES,
    perTryTimeoutMs: durationMs(p.per_try_timeout),
    perTryIdleTimeoutMs: durationMs(p.per_try_idle_timeout),
    retryBackOff: { baseIntervalMs, maxIntervalMs },
    retriableStatusCodes: p.retriable_status_codes,
    retriableHeaders: decodeList(p.retriable_headers, errors, 'retriable_headers', decodeHeaderMatcher),
    retriableRequestHeaders: decodeList(p.retriable_request_headers, errors, 'retriable_request_headers', decodeHeaderMatcher),
    retryHostPredicates,
    // Proto: "If unspecified, this will default to retrying once."
    hostSelectionRetryMaxAttempts: attempts > 0 ? attempts : 1,
  };
  return errors.errors.length > start ? null : config;
}
