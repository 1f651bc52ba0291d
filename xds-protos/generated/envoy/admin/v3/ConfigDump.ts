// Original file: xds-protos/envoy-api/envoy/admin/v3/config_dump.proto

import type { Any as _google_protobuf_Any, Any__Output as _google_protobuf_Any__Output } from '../../../google/protobuf/Any';

export interface ConfigDump {
  'configs'?: (_google_protobuf_Any)[];
}

export interface ConfigDump__Output {
  'configs': (_google_protobuf_Any__Output)[];
}
