// Original file: xds-protos/envoy-api/envoy/config/trace/v3/zipkin.proto

import type { BoolValue as _google_protobuf_BoolValue, BoolValue__Output as _google_protobuf_BoolValue__Output } from '../../../../google/protobuf/BoolValue';

// Original file: xds-protos/envoy-api/envoy/config/trace/v3/zipkin.proto

export const _envoy_config_trace_v3_ZipkinConfig_CollectorEndpointVersion = {
  DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE: 'DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE',
  HTTP_JSON: 'HTTP_JSON',
  HTTP_PROTO: 'HTTP_PROTO',
  GRPC: 'GRPC',
} as const;

export type _envoy_config_trace_v3_ZipkinConfig_CollectorEndpointVersion =
  | 'DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE'
  | 0
  | 'HTTP_JSON'
  | 1
  | 'HTTP_PROTO'
  | 2
  | 'GRPC'
  | 3

export type _envoy_config_trace_v3_ZipkinConfig_CollectorEndpointVersion__Output = typeof _envoy_config_trace_v3_ZipkinConfig_CollectorEndpointVersion[keyof typeof _envoy_config_trace_v3_ZipkinConfig_CollectorEndpointVersion]

export interface ZipkinConfig {
  'collector_cluster'?: (string);
  'collector_endpoint'?: (string);
  'trace_id_128bit'?: (boolean);
  'shared_span_context'?: (_google_protobuf_BoolValue | null);
  'collector_endpoint_version'?: (_envoy_config_trace_v3_ZipkinConfig_CollectorEndpointVersion);
  'collector_hostname'?: (string);
  'split_spans_for_request'?: (boolean);
}

export interface ZipkinConfig__Output {
  'collector_cluster': (string);
  'collector_endpoint': (string);
  'trace_id_128bit': (boolean);
  'shared_span_context': (_google_protobuf_BoolValue__Output | null);
  'collector_endpoint_version': (_envoy_config_trace_v3_ZipkinConfig_CollectorEndpointVersion__Output);
  'collector_hostname': (string);
  'split_spans_for_request': (boolean);
}
