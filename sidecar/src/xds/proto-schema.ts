// The loaded Envoy/xDS proto schema (protobufjs reflection over xds-protos/): decode, encode, Any unpacking,
// and the ADS gRPC service definitions. Loaded once per process.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
// descriptor.proto is imported by the validate/udpa annotations; protobufjs ships it as JSON.
import descriptorJson = require('protobufjs/google/protobuf/descriptor.json');
import { TYPE_URL_PREFIX, typeNameOf, type AnyMessage } from './type-url';

/** Include roots under xds-protos/, in search order (specs/xds.md §2.2: all four are needed). */
const INCLUDE_DIRS = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'] as const;

/** Options matching proto-loader's (and so the generated `__Output` types): keepCase, longs/enums as strings. */
export const TO_OBJECT_OPTIONS: protobuf.IConversionOptions = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

export { TYPE_URL_PREFIX, typeNameOf, type AnyMessage } from './type-url';

let commonRegistered = false;

function findProtosRoot(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'xds-protos');
    if (fs.existsSync(path.join(candidate, 'roots.txt'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`xds-protos/ not found above ${__dirname}`);
    dir = parent;
  }
}

/**
 * Reflection over the vendored protos. Cost: ~100-300 ms to load (once, at start); decode and
 * encode are protobufjs's generated code paths.
 */
export class ProtoSchema {
  private static instance: ProtoSchema | undefined;
  private readonly typeCache = new Map<string, protobuf.Type | null>();

  private constructor(readonly root: protobuf.Root, readonly protosDir: string) {}

  /** The process-wide schema, loaded on first use from xds-protos/roots.txt. */
  static get(): ProtoSchema {
    if (ProtoSchema.instance === undefined) ProtoSchema.instance = ProtoSchema.load(findProtosRoot());
    return ProtoSchema.instance;
  }

  /**
   * Forgets the process-wide schema so the garbage collector can return it (~6 MB of reflection objects plus the
   * generated codecs). A static bootstrap needs it only to decode the file at start; a later `get()` loads it again.
   */
  static release(): void {
    ProtoSchema.instance = undefined;
  }

  static load(protosDir: string): ProtoSchema {
    if (!commonRegistered) {
      protobuf.common('descriptor', (descriptorJson as { nested: { google: { nested: { protobuf: { nested: protobuf.INamespace['nested'] } } } } }).nested.google.nested.protobuf.nested as protobuf.INamespace['nested'] & object);
      commonRegistered = true;
    }
    const roots = fs
      .readFileSync(path.join(protosDir, 'roots.txt'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => {
      if (target.startsWith('google/protobuf/')) return target;
      for (const dir of INCLUDE_DIRS) {
        const candidate = path.join(protosDir, dir, target);
        if (fs.existsSync(candidate)) return candidate;
      }
      return target;
    };
    root.loadSync(roots, { keepCase: true });
    root.resolveAll();
    return new ProtoSchema(root, protosDir);
  }

  /** The message type with this full name (`envoy.config.cluster.v3.Cluster`), or undefined if not vendored. */
  findType(fullName: string): protobuf.Type | undefined {
    let cached = this.typeCache.get(fullName);
    if (cached === undefined) {
      const found = this.root.lookup(fullName);
      cached = found instanceof protobuf.Type ? found : null;
      this.typeCache.set(fullName, cached);
    }
    return cached ?? undefined;
  }

  type(fullName: string): protobuf.Type {
    const found = this.findType(fullName);
    if (found === undefined) throw new Error(`proto type ${fullName} is not in xds-protos`);
    return found;
  }

  /** Decodes bytes into the proto-loader object shape (`Foo__Output`). Throws on malformed bytes. */
  decode<T>(fullName: string, bytes: Uint8Array): T {
    const type = this.type(fullName);
    return type.toObject(type.decode(bytes), TO_OBJECT_OPTIONS) as T;
  }

  /** Encodes a proto-loader-shaped object (snake_case fields, enums as names) into bytes. */
  encode(fullName: string, object: object): Buffer {
    const type = this.type(fullName);
    return Buffer.from(type.encode(type.fromObject(object)).finish());
  }

  /** The message type an Any carries, or undefined when its type is not vendored. */
  anyType(any: AnyMessage): protobuf.Type | undefined {
    return this.findType(typeNameOf(any.type_url));
  }

  /** Unpacks an Any into the proto-loader object shape; undefined when the type is not vendored. Throws on bad bytes. */
  unpackAny<T>(any: AnyMessage): T | undefined {
    const type = this.anyType(any);
    if (type === undefined) return undefined;
    return type.toObject(type.decode(any.value), TO_OBJECT_OPTIONS) as T;
  }

  /** Packs a proto-loader-shaped object into an Any. */
  packAny(fullName: string, object: object): AnyMessage {
    return { type_url: TYPE_URL_PREFIX + fullName, value: this.encode(fullName, object) };
  }

  /** A grpc-js service definition for a service in the schema (both client and server use it). */
  serviceDefinition(fullName: string): grpc.ServiceDefinition {
    const service = this.root.lookupService(fullName);
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const method of service.methodsArray) {
      method.resolve();
      const requestType = method.resolvedRequestType as protobuf.Type;
      const responseType = method.resolvedResponseType as protobuf.Type;
      definition[method.name] = {
        path: `/${fullName}/${method.name}`,
        requestStream: method.requestStream === true,
        responseStream: method.responseStream === true,
        requestSerialize: (value: unknown) => Buffer.from(requestType.encode(requestType.fromObject(value as object)).finish()),
        requestDeserialize: (bytes: Buffer) => requestType.toObject(requestType.decode(bytes), TO_OBJECT_OPTIONS),
        responseSerialize: (value: unknown) => Buffer.from(responseType.encode(responseType.fromObject(value as object)).finish()),
        responseDeserialize: (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), TO_OBJECT_OPTIONS),
        originalName: method.name.charAt(0).toLowerCase() + method.name.slice(1),
      };
    }
    return definition as grpc.ServiceDefinition;
  }
}
