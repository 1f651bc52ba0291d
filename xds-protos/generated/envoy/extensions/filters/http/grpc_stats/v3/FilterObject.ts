// Original file: xds-protos/envoy-api/envoy/extensions/filters/http/grpc_stats/v3/config.proto

import type { Long } from '@grpc/proto-loader';

export interface FilterObject {
  'request_message_count'?: (number | string | Long);
  'response_message_count'?: (number | string | Long);
}

export interface FilterObject__Output {
  'request_message_count': (string);
  'response_message_count': (string);
}
