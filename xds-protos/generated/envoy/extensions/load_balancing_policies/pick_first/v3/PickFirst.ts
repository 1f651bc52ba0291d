// Original file: xds-protos/envoy-api/envoy/extensions/load_balancing_policies/pick_first/v3/pick_first.proto


export interface PickFirst {
  'shuffle_address_list'?: (boolean);
}

export interface PickFirst__Output {
  'shuffle_address_list': (boolean);
}
