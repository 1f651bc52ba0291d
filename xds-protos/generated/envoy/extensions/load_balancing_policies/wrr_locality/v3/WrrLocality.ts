// Original file: xds-protos/envoy-api/envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto

import type { LoadBalancingPolicy as _envoy_config_cluster_v3_LoadBalancingPolicy, LoadBalancingPolicy__Output as _envoy_config_cluster_v3_LoadBalancingPolicy__Output } from '../../../../../envoy/config/cluster/v3/LoadBalancingPolicy';

export interface WrrLocality {
  'endpoint_picking_policy'?: (_envoy_config_cluster_v3_LoadBalancingPolicy | null);
}

export interface WrrLocality__Output {
  'endpoint_picking_policy': (_envoy_config_cluster_v3_LoadBalancingPolicy__Output | null);
}
