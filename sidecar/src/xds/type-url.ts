// Type URLs and the Any shape: what code that only routes resources by type needs, without loading protobufjs
// (a static sidecar never loads the proto schema; issue 3, peak RSS).

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** A `google.protobuf.Any` as proto-loader decodes it. */
export interface AnyMessage {
  readonly type_url: string;
  readonly value: Buffer | Uint8Array;
}

/** `type.googleapis.com/envoy.config.cluster.v3.Cluster` -> `envoy.config.cluster.v3.Cluster`. */
export function typeNameOf(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf('/');
  return slash >= 0 ? typeUrl.slice(slash + 1) : typeUrl;
}
