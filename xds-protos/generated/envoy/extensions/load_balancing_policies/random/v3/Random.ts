// Original file: xds-protos/envoy-api/envoy/extensions/load_balancing_policies/random/v3/random.proto

import type { LocalityLbConfig as _envoy_extensions_load_balancing_policies_common_v3_LocalityLbConfig, LocalityLbConfig__Output as _envoy_extensions_load_balancing_policies_common_v3_LocalityLbConfig__Output } from '../../../../../envoy/extensions/load_balancing_policies/common/v3/LocalityLbConfig';

export interface Random {
  'locality_lb_config'?: (_envoy_extensions_load_balancing_policies_common_v3_LocalityLbConfig | null);
}

export interface Random__Output {
  'locality_lb_config': (_envoy_extensions_load_balancing_policies_common_v3_LocalityLbConfig__Output | null);
}
