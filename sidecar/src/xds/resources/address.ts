// core.v3.Address / SocketAddress / CidrRange -> AddressConfig and CidrRangeConfig.

import * as net from 'node:net';
import type { ErrorCollector } from '../../core/validation';
import type { AddressConfig } from '../../config/endpoint-config';
import type { CidrRangeConfig } from '../../config/listener-config';
import type { Address__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/Address';
import type { SocketAddress__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/SocketAddress';
import type { CidrRange__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/CidrRange';

/** A socket address; `named_port` and custom resolvers are rejected (Envoy only supports them for DNS-less cases). */
export function decodeSocketAddress(s: SocketAddress__Output, errors: ErrorCollector): { host: string; port: number; protocol: 'TCP' | 'UDP' } | null {
  if (s.port_specifier === 'named_port') {
    errors.add('named_port is not supported', 'named_port');
    return null;
  }
  if (s.resolver_name !== '') {
    errors.add(`custom resolver ${JSON.stringify(s.resolver_name)} is not supported`, 'resolver_name');
    return null;
  }
  return { host: s.address, port: s.port_value ?? 0, protocol: s.protocol === 'UDP' ? 'UDP' : 'TCP' };
}

/** `core.v3.Address`: socket or pipe; Envoy internal addresses are rejected. */
export function decodeAddress(a: Address__Output | null, errors: ErrorCollector): AddressConfig | null {
  if (a === null) {
    errors.add('address is required');
    return null;
  }
  switch (a.address) {
    case 'socket_address': {
      const s = a.socket_address;
      if (s === null || s === undefined) break;
      const decoded = decodeSocketAddress(s, errors.at('socket_address'));
      return decoded === null ? null : { kind: 'socket', ...decoded };
    }
    case 'pipe':
      if (a.pipe === null || a.pipe === undefined) break;
      return { kind: 'pipe', path: a.pipe.path, mode: a.pipe.mode };
    case 'envoy_internal_address':
      errors.add('Envoy internal addresses are not supported', 'envoy_internal_address');
      return null;
    default:
      break;
  }
  errors.add('address must be a socket_address or a pipe');
  return null;
}

/** `CidrRange`; the prefix must be an IP literal and `prefix_len` within its family's width. */
export function decodeCidrRange(c: CidrRange__Output, errors: ErrorCollector): CidrRangeConfig | null {
  const family = net.isIP(c.address_prefix);
  if (family === 0) {
    errors.add(`${JSON.stringify(c.address_prefix)} is not an IP address`, 'address_prefix');
    return null;
  }
  const max = family === 4 ? 32 : 128;
  const prefixLen = c.prefix_len === null ? max : c.prefix_len.value;
  if (prefixLen > max) {
    errors.add(`prefix_len ${prefixLen} exceeds ${max} for an IPv${family} prefix`, 'prefix_len');
    return null;
  }
  return { addressPrefix: c.address_prefix, prefixLen };
}
