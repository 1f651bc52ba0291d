// The gRPC health check (Envoy GrpcHealthCheckerImpl): grpc.health.v1.Health/Check over h2c, SERVING means healthy.

import type { HealthCheckerConfig } from '../../config/cluster-config';
import { H2Connection } from './h2-connection';
import { PROBE_NETWORK_FAILURE, PROBE_SUCCESS, type ProbeResult, type ProbeTarget, type SessionProbe } from './health-probe';

type GrpcCheckerConfig = Extract<HealthCheckerConfig, { kind: 'grpc' }>;

const ACTIVE_FAILURE: ProbeResult = Object.freeze({ kind: 'failure', type: 'active', retriable: false });
/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING */
const SERVING = 1;

/**
 * The length-prefixed gRPC message of `HealthCheckRequest { string service = 1; }`: flag 0, 4-byte big-endian
 * length, then field 1 (tag 0x0a, varint length, UTF-8) when `service` is not empty.
 */
export function healthCheckRequestFrame(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const field: number[] = [];
  if (name.length > 0) {
    field.push(0x0a);
    let n = name.length;
    while (n >= 0x80) {
      field.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    field.push(n);
  }
  const message = Buffer.concat([Buffer.from(field), name]);
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

/**
 * `HealthCheckResponse.status` from a received gRPC body (first message), or undefined when it cannot be read.
 * Field 1 is a varint; absent means UNKNOWN (0). Other fields are skipped.
 */
export function servingStatusOf(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined;
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) return undefined;
  let i = 5;
  const end = 5 + length;
  let status = 0;
  /** A base-128 varint at `i` (advancing it), or undefined when the body ends first. */
  const varint = (): number | undefined => {
    let value = 0;
    for (let shift = 0; ; shift += 7) {
      const b = body[i++];
      if (b === undefined) return undefined;
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
  };
  while (i < end) {
    const tag = body[i++]!;
    const wire = tag & 7;
    if (wire !== 0 && wire !== 2) return undefined;
    const value = varint();
    if (value === undefined) return undefined;
    if (wire === 2) i += value;
    else if (tag >>> 3 === 1) status = value;
  }
  return status;
}

/**
 * One host's gRPC check: `POST /grpc.health.v1.Health/Check` with `service_name`, :authority = `authority`, else
 * the endpoint hostname, else the cluster name. grpc-status OK with SERVING is a success; any other grpc-status or
 * serving status an ACTIVE (non-retriable) failure; a reset or connection error a NETWORK failure.
 */
export class GrpcProbe implements SessionProbe {
  private readonly h2: H2Connection;
  private readonly headers: Record<string, string>;
  private readonly body: Buffer;
  private abort: (() => void) | null = null;

  constructor(config: GrpcCheckerConfig, target: ProbeTarget, reuseConnection: boolean) {
    this.h2 = new H2Connection(target, reuseConnection);
    this.headers = {
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      ':scheme': 'http',
      ':authority': config.authority !== '' ? config.authority : target.defaultAuthority,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'Envoy/HC',
    };
    this.body = healthCheckRequestFrame(config.serviceName);
  }

  check(done: (result: ProbeResult) => void): void {
    let finished = false;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    const finish = (result: ProbeResult): void => {
      if (finished) return;
      finished = true;
      this.abort = null;
      if (result === PROBE_NETWORK_FAILURE) this.h2.close();
      else this.h2.release();
      done(result);
    };
    const stream = this.h2.stream(this.headers, this.body);
    this.abort = () => {
      finished = true;
      stream.destroy();
    };
    stream.on('response', (headers) => {
      if (Number(headers[':status']) !== 200) {
        finish(ACTIVE_FAILURE);
        return;
      }
      const s = headers['grpc-status'];
      if (typeof s === 'string') grpcStatus = s; // trailers-only response
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (trailers) => {
      const s = trailers['grpc-status'];
      if (typeof s === 'string') grpcStatus = s;
    });
    stream.on('end', () => {
      if (grpcStatus !== '0') {
        finish(grpcStatus === undefined ? PROBE_NETWORK_FAILURE : ACTIVE_FAILURE);
        return;
      }
      finish(servingStatusOf(Buffer.concat(chunks)) === SERVING ? PROBE_SUCCESS : ACTIVE_FAILURE);
    });
    stream.on('error', () => finish(PROBE_NETWORK_FAILURE));
    stream.on('close', () => finish(PROBE_NETWORK_FAILURE));
  }

  cancel(): void {
    const abort = this.abort;
    this.abort = null;
    if (abort === null) return;
    abort();
    this.h2.close();
  }

  close(): void {
    this.cancel();
    this.h2.close();
  }
}
