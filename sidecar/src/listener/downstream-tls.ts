// TLS termination for a filter chain's DownstreamTlsContext: one never-listening tls.Server per chain, fed accepted sockets.

import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { FilterChainConfig } from '../config/listener-config';
import type { DownstreamTlsConfig } from '../config/tls-config';
import { matchesSan, readDataSource, subjectAltNames, tlsVersion } from '../config/tls-material';

/** The connection waiting for its handshake (implemented by the listener's per-connection state). */
export interface TlsPeer {
  /** Handshake done and every check of the chain's context passed. */
  tlsEstablished(socket: tls.TLSSocket): void;
  /** Handshake failed or a check failed; the socket is already destroyed. */
  tlsFailed(reason: string): void;
}

const kTerminator = Symbol('meshlet.downstreamTls');

/**
 * A chain's `DownstreamTlsContext`, loaded once per chain object (certificates read at `prepare`, off the accept
 * path). Invariant: `unavailable` non-null means the chain must close its connections: TLS was configured and meshlet
 * cannot provide it (SDS secrets, unreadable files), so it never serves plaintext instead.
 */
export class DownstreamTls {
  readonly unavailable: string | null;
  private readonly server: tls.Server | null;
  private readonly config: DownstreamTlsConfig | null;
  /** Connections in their handshake, by 4-tuple (the TLSSocket a tls.Server creates exposes no link to its raw socket). */
  private readonly pending = new Map<string, TlsPeer>();

  private constructor(unavailable: string | null, server: tls.Server | null, config: DownstreamTlsConfig | null) {
    this.unavailable = unavailable;
    this.server = server;
    this.config = config;
    if (server !== null) {
      (server as unknown as Record<symbol, DownstreamTls>)[kTerminator] = this;
      server.on('secureConnection', onSecureConnection);
      server.on('tlsClientError', onTlsClientError);
    }
  }

  /** Builds (never throws) the terminator of a TLS chain. */
  static prepare(chain: FilterChainConfig): DownstreamTls {
    const unavailable = (reason: string): DownstreamTls => new DownstreamTls(reason, null, null);
    const config = chain.transportSocket;
    if (config === null || config.kind !== 'tls') return unavailable('the chain has no DownstreamTlsContext');
    const common = config.common;
    try {
      const sds = common.certificates.find((c) => c.kind === 'sds');
      if (sds !== undefined && sds.kind === 'sds') return unavailable(`certificate comes from SDS secret ${JSON.stringify(sds.name)}, which is not available`);
      const validation = common.validation;
      if (validation?.trustedCaSdsName) return unavailable(`validation context comes from SDS secret ${JSON.stringify(validation.trustedCaSdsName)}, which is not available`);
      if (common.certificates.length === 0) return unavailable('no tls_certificates configured');
      if (validation !== null && (validation.verifyCertificateHash.length > 0 || validation.verifyCertificateSpki.length > 0)) {
        return unavailable('verify_certificate_hash / verify_certificate_spki are not implemented');
      }
      if (config.requireClientCertificate && !validation?.trustedCa) return unavailable('require_client_certificate without a trusted CA');
      const certs: string[] = [];
      const keys: string[] = [];
      for (const c of common.certificates) {
        if (c.kind !== 'files') continue;
        certs.push(readDataSource(c.certificateChain));
        keys.push(readDataSource(c.privateKey));
      }
      const options: tls.TlsOptions = {
        cert: certs,
        key: keys,
        minVersion: tlsVersion(common.minVersion, 'TLSv1.2'),
        maxVersion: tlsVersion(common.maxVersion, 'TLSv1.3'),
      };
      // Envoy negotiates ALPN only when alpn_protocols is set.
      if (common.alpnProtocols.length > 0) options.ALPNProtocols = [...common.alpnProtocols];
      if (common.cipherSuites.length > 0) options.ciphers = common.cipherSuites.map((s) => s.replace(/[[\]]/g, '').replace(/\|/g, ':')).join(':');
      if (validation?.trustedCa) {
        // A validation context makes Envoy ask for a client certificate and verify one that is sent;
        // require_client_certificate also rejects a connection without one.
        options.ca = readDataSource(validation.trustedCa);
        options.requestCert = true;
        options.rejectUnauthorized = config.requireClientCertificate && !validation.acceptUntrusted;
      }
      if (chain.transportSocketConnectTimeoutMs !== null && chain.transportSocketConnectTimeoutMs > 0) options.handshakeTimeout = chain.transportSocketConnectTimeoutMs;
      // node:tls loads with the first TLS filter chain, not at start (issue 3, RSS).
      return new DownstreamTls(null, (require('node:tls') as typeof tls).createServer(options), config);
    } catch (error) {
      return unavailable(`cannot load TLS material: ${(error as Error).message}`);
    }
  }

  /** Starts the handshake on an accepted (paused, bytes unshifted) socket; the peer hears back exactly once. */
  terminate(raw: net.Socket, peer: TlsPeer): void {
    if (this.server === null) {
      raw.destroy();
      peer.tlsFailed(this.unavailable ?? 'TLS unavailable');
      return;
    }
    this.pending.set(tupleKey(raw), peer);
    this.server.emit('connection', raw);
  }

  /** Forgets a connection that closed before its handshake finished. */
  abandon(raw: net.Socket): void {
    if (this.pending.size > 0) this.pending.delete(tupleKey(raw));
  }

  /** Called from the server's 'secureConnection' / 'tlsClientError' (module-level handlers). */
  settle(socket: tls.TLSSocket, error: Error | null): void {
    const key = tupleKey(socket);
    const peer = this.pending.get(key);
    if (peer === undefined) {
      socket.destroy();
      return;
    }
    this.pending.delete(key);
    const reason = error !== null ? error.message : this.check(socket);
    if (reason === null) {
      peer.tlsEstablished(socket);
      return;
    }
    socket.destroy();
    peer.tlsFailed(reason);
  }

  /** Checks Node's tls.Server does not make: a presented but untrusted optional client cert, require_sni, SAN matchers. */
  private check(socket: tls.TLSSocket): string | null {
    const config = this.config!;
    if (config.requireSni && !socket.servername) return 'require_sni: the client sent no SNI';
    const validation = config.common.validation;
    if (validation === null || !validation.trustedCa) return null;
    const cert = socket.getPeerCertificate();
    const presented = cert !== null && Object.keys(cert).length > 0;
    if (!presented) return null; // absent: tls.Server already rejected it when the certificate is required
    if (!socket.authorized && !validation.acceptUntrusted) return `client certificate rejected: ${String(socket.authorizationError)}`;
    const matchers = validation.matchSubjectAltNames;
    if (matchers.length > 0) {
      const sans = subjectAltNames(cert);
      if (!sans.some((san) => matchers.some((m) => matchesSan(m, san)))) return `client certificate SANs ${JSON.stringify(sans)} match no match_subject_alt_names`;
    }
    return null;
  }
}

function onSecureConnection(this: tls.Server, socket: tls.TLSSocket): void {
  (this as unknown as Record<symbol, DownstreamTls>)[kTerminator]!.settle(socket, null);
}

function onTlsClientError(this: tls.Server, error: Error, socket: tls.TLSSocket): void {
  socket.destroy();
  (this as unknown as Record<symbol, DownstreamTls>)[kTerminator]!.settle(socket, error);
}

function tupleKey(socket: net.Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}|${socket.localAddress}|${socket.localPort}`;
}

