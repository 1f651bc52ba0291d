// Reads of an accepted plaintext socket straight into a reused buffer (node's `onread`), for the fast HTTP/1.1
// path: no Buffer allocation and no Readable push per read. Node 20's net.Server has no `onread` option, so the
// accepted socket is switched in place; every other socket keeps 'data' events.

import type * as net from 'node:net';

/** Gets `buffer[0..length)` during the call only: whatever must outlive it is copied. */
export type SocketBytesCallback = (buffer: Buffer, length: number) => void;

/**
 * One buffer for every downstream connection: a read lands in it and its callback runs before libuv reads any
 * other socket, and callers copy what they keep. 64 KiB is libuv's own per-read allocation.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

interface OnreadSymbols {
  readonly buffer: symbol;
  readonly callback: symbol;
  readonly generator: symbol;
}

type HandleWithUserBuffer = { useUserBuffer?: (buffer: Uint8Array) => void; _consumed?: boolean; reading?: boolean };
type SwitchableSocket = net.Socket & { _handle?: HandleWithUserBuffer | null; encrypted?: boolean } & Record<symbol, unknown>;

/** The net.Socket fields behind the `onread` option (node's stream_base_commons kBuffer, kBufferCb, kBufferGen). */
let symbols: OnreadSymbols | null | undefined;

function onreadSymbols(socket: SwitchableSocket): OnreadSymbols | null {
  if (symbols !== undefined) return symbols;
  const find = (name: string): symbol | undefined => Object.getOwnPropertySymbols(socket).find((s) => s.description === name);
  const buffer = find('kBuffer');
  const callback = find('kBufferCb');
  const generator = find('kBufferGen');
  symbols = buffer !== undefined && callback !== undefined && generator !== undefined ? { buffer, callback, generator } : null;
  return symbols;
}

/**
 * Switches `socket`'s reads to `onBytes` (bytes the socket already buffered, e.g. unshifted by the listener's
 * sniffing, are delivered first, synchronously). Returns false, changing nothing, when the socket cannot be
 * switched (TLS, no libuv stream handle, a node without the `onread` fields, already consumed): the caller then
 * reads 'data' events. 'end', 'close', pause() and resume() keep working (pause stops the handle reading); a
 * callback never returns false (that stops reading without marking the socket paused).
 */
export function readIntoSharedBuffer(socket: net.Socket, onBytes: SocketBytesCallback): boolean {
  const s = socket as SwitchableSocket;
  const handle = s._handle;
  if (s.encrypted === true || handle === undefined || handle === null || typeof handle.useUserBuffer !== 'function' || handle._consumed === true) return false;
  const fields = onreadSymbols(s);
  if (fields === null || s[fields.buffer] !== null || s[fields.generator] !== null) return false;
  const pending = s.readableLength > 0 ? (s.read() as Buffer | null) : null;
  s[fields.callback] = (length: number, buffer: Buffer): boolean => {
    onBytes(buffer, length);
    return true;
  };
  s[fields.buffer] = SHARED_READ_BUFFER;
  handle.useUserBuffer(SHARED_READ_BUFFER);
  if (pending !== null && pending.length > 0) onBytes(pending, pending.length);
  return true;
}

/**
 * Gives a switched socket back to stream reads (before node:http takes it): later reads are copied into Buffers
 * and pushed into the Readable as node would ('data' events, llhttp after it consumes the handle, backpressure
 * through push()). The handle keeps the user buffer: libuv offers no way to drop it.
 */
export function restoreStreamReads(socket: net.Socket): void {
  const s = socket as SwitchableSocket;
  const fields = symbols;
  if (fields === null || fields === undefined || s[fields.buffer] !== SHARED_READ_BUFFER) return;
  s[fields.callback] = (length: number, buffer: Buffer): boolean => s.push(Buffer.from(buffer.subarray(0, length)));
}
