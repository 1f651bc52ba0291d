// ConfigSource (RDS in an HTTP connection manager, EDS in a cluster): accepted only when it means "this ADS stream".

import type { ErrorCollector } from '../../core/validation';
import { DEFAULT_INITIAL_FETCH_TIMEOUT_MS } from '../../config/listener-config';
import { durationMsOr } from './duration-ms';
import type { DecodeContext } from './resource-type';
import type { ConfigSource__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/ConfigSource';

/** A config source over the ADS stream. `initialFetchTimeoutMs`: 0 = wait forever; default 15 000 (Envoy). */
export interface AdsConfigSource {
  readonly initialFetchTimeoutMs: number;
}

/**
 * `ads: {}`, `self: {}`, or an `api_config_source` of type GRPC/DELTA_GRPC/AGGREGATED_GRPC whose envoy_grpc cluster
 * is a bootstrap xDS cluster (go-control-plane's example server sends the latter) all mean the ADS stream. Anything
 * else (REST, filesystem paths, another gRPC server) is an error naming the field. `errors` is located at the
 * ConfigSource.
 */
export function decodeConfigSource(ctx: DecodeContext, source: ConfigSource__Output | null, errors: ErrorCollector): AdsConfigSource | null {
  if (source === null) {
    errors.add('config source is required');
    return null;
  }
  const result: AdsConfigSource = { initialFetchTimeoutMs: durationMsOr(source.initial_fetch_timeout, DEFAULT_INITIAL_FETCH_TIMEOUT_MS) };
  switch (source.config_source_specifier) {
    case 'ads':
    case 'self':
      return result;
    case 'api_config_source': {
      const api = source.api_config_source;
      if (api === null || api === undefined) break;
      if (api.api_type !== 'GRPC' && api.api_type !== 'DELTA_GRPC' && api.api_type !== 'AGGREGATED_GRPC' && api.api_type !== 'AGGREGATED_DELTA_GRPC') {
        errors.add(`api_type ${api.api_type} is not supported; only the ADS stream is (use ads: {})`, 'api_config_source.api_type');
        return null;
      }
      const clusters = [
        ...api.grpc_services.map((g) => g.envoy_grpc?.cluster_name ?? ''),
        ...api.cluster_names,
      ].filter((n) => n !== '');
      if (clusters.length > 0 && clusters.every((n) => ctx.adsClusterNames.has(n))) return result;
      const known = [...ctx.adsClusterNames].join(', ') || 'none';
      errors.add(
        `api_config_source must name the ADS server's cluster (bootstrap xDS clusters: ${known}); got ${clusters.length === 0 ? 'no envoy_grpc cluster' : clusters.join(', ')}. Only the ADS stream is supported`,
        'api_config_source',
      );
      return null;
    }
    case 'path':
      errors.add('filesystem config sources are not supported; only the ADS stream is (use ads: {})', 'path');
      return null;
    case 'path_config_source':
      errors.add('filesystem config sources are not supported; only the ADS stream is (use ads: {})', 'path_config_source');
      return null;
    default:
      break;
  }
  errors.add('config source must be ads: {}, self: {} or a gRPC api_config_source naming the ADS cluster');
  return null;
}
