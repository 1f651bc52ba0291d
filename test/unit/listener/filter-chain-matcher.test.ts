// Filter-chain selection: every criterion, its precedence, Envoy's no-fallback rule, and the default chain.

import * as assert from 'node:assert/strict';
import type { FilterChainConfig, FilterChainMatchConfig } from '../../../sidecar/src/config/listener-config';
import { selectFilterChain, type FilterChainMatchInput } from '../../../sidecar/src/listener/filter-chain-matcher';
import { chain } from './listener-builders';

const conn: FilterChainMatchInput = {
  destinationHost: '10.1.2.3', destinationPort: 9080, serverName: '', transportProtocol: 'raw_buffer', applicationProtocols: [],
  directSourceHost: '10.9.0.1', sourceHost: '10.9.0.1', sourcePort: 40000,
};

type Case = [title: string, chains: Array<[string, Partial<FilterChainMatchConfig>]>, input: Partial<FilterChainMatchInput>, expected: string | null, defaultChain?: boolean];

const cidr = (addressPrefix: string, prefixLen: number) => ({ addressPrefix, prefixLen });

const cases: Case[] = [
  ['empty match matches anything', [['any', {}]], {}, 'any'],
  // destination_port
  ['exact destination port beats any port', [['any', {}], ['port', { destinationPort: 9080 }]], {}, 'port'],
  ['other port falls to any', [['any', {}], ['port', { destinationPort: 8080 }]], {}, 'any'],
  ['a port subtree that fails later does not fall back to any port (default instead)', [['any', {}], ['port', { destinationPort: 9080, serverNames: ['x.com'] }]], {}, 'default', true],
  ['a port subtree that fails later and no default: no match', [['any', {}], ['port', { destinationPort: 9080, serverNames: ['x.com'] }]], {}, null],
  // destination IP
  ['longest destination prefix wins', [['wide', { prefixRanges: [cidr('10.0.0.0', 8)] }], ['narrow', { prefixRanges: [cidr('10.1.0.0', 16)] }], ['any', {}]], {}, 'narrow'],
  ['a /32 beats a /16', [['narrow', { prefixRanges: [cidr('10.1.0.0', 16)] }], ['host', { prefixRanges: [cidr('10.1.2.3', 32)] }]], {}, 'host'],
  ['no prefix contains the destination: the catch-all', [['other', { prefixRanges: [cidr('192.168.0.0', 16)] }], ['any', {}]], {}, 'any'],
  ['no prefix and no catch-all: no match', [['other', { prefixRanges: [cidr('192.168.0.0', 16)] }]], {}, null],
  ['longest prefix chosen, later miss does not fall back to the shorter prefix', [['wide', { prefixRanges: [cidr('10.0.0.0', 8)] }], ['narrow', { prefixRanges: [cidr('10.1.0.0', 16)], transportProtocol: 'tls' }]], {}, null],
  ['IPv6 prefixes', [['v6', { prefixRanges: [cidr('2001:db8::', 32)] }], ['any', {}]], { destinationHost: '2001:db8::7' }, 'v6'],
  ['v4-mapped destination matches IPv4 prefixes', [['v4', { prefixRanges: [cidr('10.1.0.0', 16)] }], ['any', {}]], { destinationHost: '::ffff:10.1.2.3' }, 'v4'],
  ['IPv4 prefix does not match IPv6 destinations', [['v4', { prefixRanges: [cidr('0.0.0.0', 0)] }], ['any', {}]], { destinationHost: '2001:db8::7' }, 'any'],
  // server_names
  ['exact server name beats wildcard', [['wild', { serverNames: ['*.example.com'] }], ['exact', { serverNames: ['www.example.com'] }]], { serverName: 'www.example.com' }, 'exact'],
  ['longest wildcard wins', [['short', { serverNames: ['*.com'] }], ['long', { serverNames: ['*.example.com'] }]], { serverName: 'a.b.example.com' }, 'long'],
  ['wildcard beats no server names', [['none', {}], ['wild', { serverNames: ['*.example.com'] }]], { serverName: 'api.example.com' }, 'wild'],
  ['wildcard does not match the bare domain', [['wild', { serverNames: ['*.example.com'] }], ['none', {}]], { serverName: 'example.com' }, 'none'],
  ['server names compare case-insensitively', [['exact', { serverNames: ['WWW.Example.com'] }], ['none', {}]], { serverName: 'www.example.COM' }, 'exact'],
  ['no SNI only matches chains without server names', [['exact', { serverNames: ['a.com'] }]], {}, null],
  ['server name chosen, then transport miss: no fallback', [['sni', { serverNames: ['a.com'], transportProtocol: 'raw_buffer' }], ['none', { transportProtocol: 'tls' }]], { serverName: 'a.com', transportProtocol: 'tls' }, null],
  // transport_protocol
  ['tls chain for tls', [['raw', { transportProtocol: 'raw_buffer' }], ['tls', { transportProtocol: 'tls' }]], { transportProtocol: 'tls' }, 'tls'],
  ['raw_buffer chain for plaintext', [['raw', { transportProtocol: 'raw_buffer' }], ['tls', { transportProtocol: 'tls' }]], {}, 'raw'],
  ['exact transport beats any', [['any', {}], ['tls', { transportProtocol: 'tls' }]], { transportProtocol: 'tls' }, 'tls'],
  // application_protocols
  ['first offered protocol that any chain lists wins', [['h1', { applicationProtocols: ['http/1.1'] }], ['h2', { applicationProtocols: ['h2'] }]], { applicationProtocols: ['h2', 'http/1.1'] }, 'h2'],
  ['client order decides, not chain order', [['h2', { applicationProtocols: ['h2'] }], ['h1', { applicationProtocols: ['http/1.1'] }]], { applicationProtocols: ['http/1.1', 'h2'] }, 'h1'],
  ['unlisted protocol falls to chains without application protocols', [['istio', { applicationProtocols: ['istio-peer-exchange'] }], ['any', {}]], { applicationProtocols: ['h2'] }, 'any'],
  ['Istio inbound: mTLS by ALPN, plaintext by h2c', [
    ['mtls', { destinationPort: 9080, transportProtocol: 'tls', applicationProtocols: ['istio-peer-exchange', 'istio-http/1.1', 'istio-h2'] }],
    ['plain-http', { destinationPort: 9080, transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1', 'h2c'] }],
    ['plain-tcp', { destinationPort: 9080, transportProtocol: 'raw_buffer' }],
  ], { applicationProtocols: ['h2c'] }, 'plain-http'],
  ['Istio inbound: plain TCP (no HTTP sniffed)', [
    ['plain-http', { destinationPort: 9080, transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1', 'h2c'] }],
    ['plain-tcp', { destinationPort: 9080, transportProtocol: 'raw_buffer' }],
  ], {}, 'plain-tcp'],
  // direct source IP
  ['direct source prefix', [['any', {}], ['direct', { directSourcePrefixRanges: [cidr('10.9.0.0', 16)] }]], {}, 'direct'],
  ['direct source prefix that does not contain the peer', [['any', {}], ['direct', { directSourcePrefixRanges: [cidr('10.8.0.0', 16)] }]], {}, 'any'],
  // source type
  ['loopback source takes SAME_IP_OR_LOOPBACK', [['any', {}], ['local', { sourceType: 'SAME_IP_OR_LOOPBACK' }], ['ext', { sourceType: 'EXTERNAL' }]], { sourceHost: '127.0.0.1', directSourceHost: '127.0.0.1' }, 'local'],
  ['same IP as destination is local', [['local', { sourceType: 'SAME_IP_OR_LOOPBACK' }], ['ext', { sourceType: 'EXTERNAL' }]], { sourceHost: '10.1.2.3', directSourceHost: '10.1.2.3' }, 'local'],
  ['external source takes EXTERNAL', [['any', {}], ['local', { sourceType: 'SAME_IP_OR_LOOPBACK' }], ['ext', { sourceType: 'EXTERNAL' }]], {}, 'ext'],
  ['external with only local chains falls to ANY', [['any', {}], ['local', { sourceType: 'SAME_IP_OR_LOOPBACK' }]], {}, 'any'],
  ['local source type chosen, then source IP miss: no fallback to ANY', [['any', {}], ['local', { sourceType: 'SAME_IP_OR_LOOPBACK', sourcePrefixRanges: [cidr('192.168.0.0', 16)] }]], { sourceHost: '127.0.0.1', directSourceHost: '127.0.0.1' }, null],
  // source IP and ports
  ['longest source prefix', [['wide', { sourcePrefixRanges: [cidr('10.0.0.0', 8)] }], ['narrow', { sourcePrefixRanges: [cidr('10.9.0.0', 24)] }]], {}, 'narrow'],
  ['exact source port beats any', [['any', {}], ['port', { sourcePorts: [40000, 40001] }]], {}, 'port'],
  ['other source port', [['any', {}], ['port', { sourcePorts: [1] }]], {}, 'any'],
  ['only specific source ports and a miss: no match', [['port', { sourcePorts: [1] }]], {}, null],
  // precedence across criteria
  ['destination port is decided before server name', [['sni', { serverNames: ['a.com'] }], ['port', { destinationPort: 9080 }]], { serverName: 'a.com' }, 'port'],
  ['destination IP is decided before transport protocol', [['tls', { transportProtocol: 'tls' }], ['ip', { prefixRanges: [cidr('10.1.2.3', 32)] }]], { transportProtocol: 'tls' }, 'ip'],
  ['server name is decided before application protocol', [['alpn', { applicationProtocols: ['h2'] }], ['sni', { serverNames: ['a.com'] }]], { serverName: 'a.com', applicationProtocols: ['h2'] }, 'sni'],
  ['transport protocol is decided before source type', [['local', { sourceType: 'SAME_IP_OR_LOOPBACK' }], ['tls', { transportProtocol: 'tls' }]], { transportProtocol: 'tls', sourceHost: '127.0.0.1', directSourceHost: '127.0.0.1' }, 'tls'],
  ['source IP is decided before source port', [['port', { sourcePorts: [40000] }], ['ip', { sourcePrefixRanges: [cidr('10.9.0.1', 32)] }]], {}, 'ip'],
  // default chain
  ['nothing matches: the default chain', [['tls', { transportProtocol: 'tls' }]], {}, 'default', true],
  ['a match wins over the default chain', [['any', {}]], {}, 'any', true],
];

describe('listener/filter-chain-matcher', () => {
  for (const [title, specs, input, expected, withDefault] of cases) {
    it(title, () => {
      const chains: FilterChainConfig[] = specs.map(([name, m]) => chain(name, m));
      const got = selectFilterChain({ filterChains: chains, defaultFilterChain: withDefault === true ? chain('default') : null }, { ...conn, ...input });
      assert.equal(got?.name ?? null, expected);
    });
  }
});
