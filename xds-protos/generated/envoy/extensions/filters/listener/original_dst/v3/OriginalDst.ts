// Original file: xds-protos/envoy-api/envoy/extensions/filters/listener/original_dst/v3/original_dst.proto


export interface OriginalDst {
}

export interface OriginalDst__Output {
}
