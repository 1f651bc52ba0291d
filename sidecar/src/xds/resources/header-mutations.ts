// HeaderValueOption lists and header removals (route config, virtual host, route, weighted cluster levels).

import type { ErrorCollector } from '../../core/validation';
import type { HeaderAppendAction, HeaderMutationsConfig, HeaderValueOptionConfig } from '../../config/route-config';
import type { HeaderValueOption__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/HeaderValueOption';
import { decodeList } from './matchers';

/** Headers Envoy never lets config add or remove (pseudo-headers and Host). */
function isProtectedHeader(name: string): boolean {
  return name.startsWith(':') || name === 'host';
}

/**
 * One HeaderValueOption. The legacy `append` BoolValue wins when set (true: APPEND_IF_EXISTS_OR_ADD, false:
 * OVERWRITE_IF_EXISTS_OR_ADD), as in Envoy; `raw_value` bytes are taken as latin1.
 */
export function decodeHeaderValueOption(h: HeaderValueOption__Output, errors: ErrorCollector): HeaderValueOptionConfig | null {
  if (h.header === null) {
    errors.add('header is required', 'header');
    return null;
  }
  const key = h.header.key.toLowerCase();
  if (isProtectedHeader(key)) {
    errors.add(`${key} cannot be modified by header mutations`, 'header.key');
    return null;
  }
  if (h.append !== null && h.append_action !== 'APPEND_IF_EXISTS_OR_ADD') {
    errors.add('append and append_action are mutually exclusive', 'append');
    return null;
  }
  const appendAction: HeaderAppendAction = h.append !== null ? (h.append.value ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD') : (h.append_action as HeaderAppendAction);
  const raw = h.header.raw_value;
  const value = raw !== undefined && raw !== null && raw.length > 0 ? Buffer.from(raw).toString('latin1') : h.header.value;
  return { key, value, appendAction, keepEmptyValue: h.keep_empty_value };
}

function decodeRemovals(names: readonly string[], errors: ErrorCollector, field: string): string[] {
  const out: string[] = [];
  names.forEach((n, i) => {
    const name = n.toLowerCase();
    if (isProtectedHeader(name)) errors.at(field).add(`${name} cannot be removed`, i);
    else out.push(name);
  });
  return out;
}

/** The four header-mutation fields of a message, by their proto names. */
export interface HeaderMutationFields {
  readonly request_headers_to_add: readonly HeaderValueOption__Output[];
  readonly request_headers_to_remove: readonly string[];
  readonly response_headers_to_add: readonly HeaderValueOption__Output[];
  readonly response_headers_to_remove: readonly string[];
}

export function decodeHeaderMutations(m: HeaderMutationFields, errors: ErrorCollector): HeaderMutationsConfig {
  return {
    requestHeadersToAdd: decodeList(m.request_headers_to_add, errors, 'request_headers_to_add', decodeHeaderValueOption),
    requestHeadersToRemove: decodeRemovals(m.request_headers_to_remove, errors, 'request_headers_to_remove'),
    responseHeadersToAdd: decodeList(m.response_headers_to_add, errors, 'response_headers_to_add', decodeHeaderValueOption),
    responseHeadersToRemove: decodeRemovals(m.response_headers_to_remove, errors, 'response_headers_to_remove'),
  };
}
