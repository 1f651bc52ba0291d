// Original file: xds-protos/xds/xds/type/v3/typed_struct.proto

import type { Struct as _google_protobuf_Struct, Struct__Output as _google_protobuf_Struct__Output } from '../../../google/protobuf/Struct';

export interface TypedStruct {
  'type_url'?: (string);
  'value'?: (_google_protobuf_Struct | null);
}

export interface TypedStruct__Output {
  'type_url': (string);
  'value': (_google_protobuf_Struct__Output | null);
}
