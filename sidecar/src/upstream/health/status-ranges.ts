// Half-open HTTP status ranges ([start, end)) as health-check `expected_statuses` / `retriable_statuses` use them.

/** True when `status` lies in one of the `[start, end)` ranges (Envoy `HttpHealthCheckerImpl::HttpStatusChecker`). */
export function inStatusRanges(ranges: readonly (readonly [number, number])[], status: number): boolean {
  for (const [start, end] of ranges) if (status >= start && status < end) return true;
  return false;
}
