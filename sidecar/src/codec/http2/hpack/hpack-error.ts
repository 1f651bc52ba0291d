/**
 * A malformed HPACK header block (RFC 7541 §2.3 / RFC 9113 §4.3): the decoding context is now unusable,
 * so the connection must answer with a connection error of type COMPRESSION_ERROR, as nghttp2 and Envoy do.
 */
export class HpackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HpackError';
  }
}
