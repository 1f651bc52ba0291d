// TLS channel credentials and the per-stream bearer token for the ADS connection (istiod on 15012, specs/xds.md §4.4).

import * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import type { XdsTlsConfig, XdsTokenConfig } from '../config/bootstrap-config';
import type { DataSourceConfig } from '../config/tls-config';

/** What the XdsClient takes for a secured connection (see XdsClientOptions). */
export interface XdsConnectionSecurity {
  readonly credentials: grpc.ChannelCredentials;
  /** Re-reads the token file on every call: a new stream after a reconnect carries the rotated token. */
  readonly callMetadata?: () => grpc.Metadata;
  /** `grpc.ssl_target_name_override` / `grpc.default_authority` when a server name is set. */
  readonly channelOptions: grpc.ChannelOptions;
}

/** Where token problems are reported (a warning per distinct problem, not per stream). */
export interface XdsCredentialsLogger {
  warn(obj: object, msg?: string): void;
}

/**
 * Channel credentials verifying the server against `tls.ca` (and its name, default the address host, e.g.
 * `istiod.istio-system.svc`), with the client certificate when given; plus the `authorization: Bearer` metadata
 * when a token is configured. Reads the CA and certificate files once; throws with the file name when unreadable.
 */
export function xdsConnectionSecurity(tls: XdsTlsConfig, token: XdsTokenConfig | undefined, logger: XdsCredentialsLogger): XdsConnectionSecurity {
  const ca = readSource(tls.ca, 'xDS CA');
  const cert = tls.clientCertificate === undefined ? null : readSource(tls.clientCertificate.certificateChain, 'xDS client certificate');
  const key = tls.clientCertificate === undefined ? null : readSource(tls.clientCertificate.privateKey, 'xDS client key');
  const credentials = grpc.credentials.createSsl(ca, key, cert);
  const channelOptions: grpc.ChannelOptions = tls.serverName === undefined
    ? {}
    : { 'grpc.ssl_target_name_override': tls.serverName, 'grpc.default_authority': tls.serverName };
  return { credentials, channelOptions, ...(token === undefined ? {} : { callMetadata: tokenMetadata(token, logger) }) };
}

/** `authorization: Bearer <file content>`, read per call; an unreadable or wrong-audience token is logged once. */
export function tokenMetadata(token: XdsTokenConfig, logger: XdsCredentialsLogger): () => grpc.Metadata {
  let lastProblem = '';
  const report = (problem: string, fields: object): void => {
    if (problem === lastProblem) return;
    lastProblem = problem;
    logger.warn({ tokenFile: token.file, ...fields }, problem);
  };
  return () => {
    const metadata = new grpc.Metadata();
    let value: string;
    try {
      value = fs.readFileSync(token.file, 'utf8').trim();
    } catch (error) {
      report('cannot read the xDS token file; connecting without a token', { error: (error as Error).message });
      return metadata;
    }
    if (token.audience !== undefined) {
      const audiences = jwtAudiences(value);
      if (audiences !== undefined && !audiences.includes(token.audience)) {
        report(`the xDS token's audience is not "${token.audience}"; the server will likely reject it`, { audiences });
      }
    }
    metadata.set('authorization', `Bearer ${value}`);
    return metadata;
  };
}

/** The `aud` claim of a JWT (unverified: only to warn early); undefined when the token is not a readable JWT. */
export function jwtAudiences(jwt: string): string[] | undefined {
  const payload = jwt.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { aud?: unknown };
    if (typeof claims.aud === 'string') return [claims.aud];
    if (Array.isArray(claims.aud)) return claims.aud.filter((a): a is string => typeof a === 'string');
    return [];
  } catch {
    return undefined;
  }
}

function readSource(source: DataSourceConfig, what: string): Buffer {
  switch (source.kind) {
    case 'inline':
      return Buffer.from(source.value);
    case 'env': {
      const value = process.env[source.name];
      if (value === undefined) throw new Error(`${what}: env var ${source.name} is not set`);
      return Buffer.from(value);
    }
    case 'filename':
      try {
        return fs.readFileSync(source.path);
      } catch (error) {
        throw new Error(`${what}: cannot read ${source.path}: ${(error as Error).message}`);
      }
  }
}
