// Original file: xds-protos/envoy-api/envoy/extensions/load_balancing_policies/client_side_weighted_round_robin/v3/client_side_weighted_round_robin.proto

import type { BoolValue as _google_protobuf_BoolValue, BoolValue__Output as _google_protobuf_BoolValue__Output } from '../../../../../google/protobuf/BoolValue';
import type { Duration as _google_protobuf_Duration, Duration__Output as _google_protobuf_Duration__Output } from '../../../../../google/protobuf/Duration';
import type { FloatValue as _google_protobuf_FloatValue, FloatValue__Output as _google_protobuf_FloatValue__Output } from '../../../../../google/protobuf/FloatValue';

export interface ClientSideWeightedRoundRobin {
  'enable_oob_load_report'?: (_google_protobuf_BoolValue | null);
  'oob_reporting_period'?: (_google_protobuf_Duration | null);
  'blackout_period'?: (_google_protobuf_Duration | null);
  'weight_expiration_period'?: (_google_protobuf_Duration | null);
  'weight_update_period'?: (_google_protobuf_Duration | null);
  'error_utilization_penalty'?: (_google_protobuf_FloatValue | null);
}

export interface ClientSideWeightedRoundRobin__Output {
  'enable_oob_load_report': (_google_protobuf_BoolValue__Output | null);
  'oob_reporting_period': (_google_protobuf_Duration__Output | null);
  'blackout_period': (_google_protobuf_Duration__Output | null);
  'weight_expiration_period': (_google_protobuf_Duration__Output | null);
  'weight_update_period': (_google_protobuf_Duration__Output | null);
  'error_utilization_penalty': (_google_protobuf_FloatValue__Output | null);
}
