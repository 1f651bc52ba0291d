// Original file: xds-protos/envoy-api/envoy/extensions/load_balancing_policies/cluster_provided/v3/cluster_provided.proto


export interface ClusterProvided {
}

export interface ClusterProvided__Output {
}
