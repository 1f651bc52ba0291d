// Original file: xds-protos/envoy-api/envoy/config/core/v3/grpc_method_list.proto


export interface _envoy_config_core_v3_GrpcMethodList_Service {
  'name'?: (string);
  'method_names'?: (string)[];
}

export interface _envoy_config_core_v3_GrpcMethodList_Service__Output {
  'name': (string);
  'method_names': (string)[];
}

export interface GrpcMethodList {
  'services'?: (_envoy_config_core_v3_GrpcMethodList_Service)[];
}

export interface GrpcMethodList__Output {
  'services': (_envoy_config_core_v3_GrpcMethodList_Service__Output)[];
}
