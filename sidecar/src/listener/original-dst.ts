// SO_ORIGINAL_DST for an accepted socket: loads the native addon (build/Release/original_dst.node) once, wraps its fd access.

import * as net from 'node:net';
import * as path from 'node:path';

/** The destination of a connection before iptables REDIRECT, or the socket's own local address when it was not redirected. */
export interface OriginalDestination {
  readonly host: string;
  readonly port: number;
}

/** `(socket) => destination | undefined`: undefined when the kernel has none (no conntrack entry) or the addon is missing. */
export type OriginalDstReader = (socket: net.Socket) => OriginalDestination | undefined;

interface Addon {
  originalDst(fd: number): { address: string; port: number; family: 'IPv4' | 'IPv6' };
}

/** Where `npm install` (node-gyp, binding.gyp at the repo root) puts the addon; from dist/sidecar/src/listener or sidecar/src/listener. */
const ADDON_CANDIDATES = [
  path.resolve(__dirname, '..', '..', '..', '..', 'build', 'Release', 'original_dst.node'),
  path.resolve(__dirname, '..', '..', '..', 'build', 'Release', 'original_dst.node'),
];

let addon: Addon | null | undefined;
let loadError: string | undefined;

/** Loads the addon once; on failure remembers why (see `originalDstUnavailableReason`). */
function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  const problems: string[] = [];
  for (const candidate of ADDON_CANDIDATES) {
    try {
      addon = require(candidate) as Addon;
      return addon;
    } catch (error) {
      problems.push(`${candidate}: ${(error as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  addon = null;
  loadError = `the SO_ORIGINAL_DST addon is not built (run \`npm install\` or \`npx node-gyp rebuild\`; needs python3, make and a C compiler); transparent interception (use_original_dst, original_dst) is off. Tried ${problems.join('; ')}`;
  return addon;
}

/** Why original destinations cannot be read (the addon did not load), or undefined when they can. */
export function originalDstUnavailableReason(): string | undefined {
  loadAddon();
  return loadError;
}

/**
 * Throws what the addon throws (`code` ENOENT: no conntrack entry; EBADF, ENOTSOCK...), and a TypeError when the
 * socket has no fd. The fd comes from `socket._handle.fd`: undocumented but present on Unix TCP handles; the
 * network-namespace test covers it so a Node upgrade that breaks it is caught.
 */
export function readOriginalDst(socket: net.Socket): OriginalDestination {
  const native = loadAddon();
  if (native === null) throw new Error(loadError);
  const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new TypeError('socket has no fd (not a TCP socket, or closed)');
  const result = native.originalDst(fd);
  return { host: result.address, port: result.port };
}

/** The default reader of ListenerManager: undefined instead of throwing (no conntrack entry, addon missing). */
export const originalDst: OriginalDstReader = (socket) => {
  try {
    return readOriginalDst(socket);
  } catch {
    return undefined;
  }
};
