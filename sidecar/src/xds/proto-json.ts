// Envoy YAML/JSON (proto3 JSON mapping, with Envoy's lenient forms) -> the proto-loader object shape (`Foo__Output`).

import * as protobuf from 'protobufjs';
import { ErrorCollector, invalid, valid, type FieldError, type Validation } from '../core/validation';
import { TYPE_URL_PREFIX, typeNameOf, type ProtoSchema } from './proto-schema';
import { WRAPPER_KINDS } from './proto-validate';

/**
 * Converts JSON (as parsed from an Envoy YAML or JSON file) into the exact object shape an ADS response
 * decodes to: snake_case keys, enums as names, int64 as strings, defaults filled, Any as `{type_url, value}`
 * with the payload encoded, Struct/Value with protobufjs's camelCase `stringValue`/`numberValue`/...
 *
 * Accepted like Envoy does: field names in snake_case or lowerCamelCase, enums by name in any letter case
 * or by number, a single value where a list is expected, int64 as number or string, Duration/Timestamp
 * strings, bare wrapper values, plain JSON for Struct/Value/ListValue, `"@type"` on Any (converted
 * recursively when the type is vendored; kept as an empty payload with its type URL when not), base64 bytes,
 * maps, `null` as unset. Errors (unknown fields, wrong types, two members of a oneof, bad durations...)
 * are all collected, each with its field path (`static_resources.clusters[0].connect_timeout`).
 * Never throws. Cost: one walk plus one encode/decode of the message.
 */
export function messageFromJson<T>(schema: ProtoSchema, typeName: string, json: unknown): Validation<T> {
  const { value, errors } = messageFromJsonPartial<T>(schema, typeName, json);
  return errors.length > 0 || value === undefined ? invalid(errors) : valid(value);
}

/**
 * Like `messageFromJson`, but also returns the best-effort message when there are errors: the fields that did
 * not convert are left unset. Lets a caller keep checking the rest (and report every problem at once).
 * `value` is undefined only when the type is unknown or the message cannot be encoded.
 */
export function messageFromJsonPartial<T>(schema: ProtoSchema, typeName: string, json: unknown): { readonly value: T | undefined; readonly errors: readonly FieldError[] } {
  const ec = ErrorCollector.root();
  const type = schema.findType(typeName);
  if (type === undefined) {
    ec.add(`proto type ${typeName} is not available`);
    return { value: undefined, errors: ec.errors };
  }
  const object = new JsonConverter(schema).message(type, json, ec);
  try {
    return { value: schema.decode<T>(typeName, schema.encode(typeName, object)), errors: ec.errors };
  } catch (error) {
    ec.add(`cannot encode ${typeName}: ${error instanceof Error ? error.message : String(error)}`);
    return { value: undefined, errors: ec.errors };
  }
}

/** JSON type names for messages: `an object`, `a string`, ... used in "expected X, got Y" errors. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lowerCamel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}


const INT32_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  int32: [-2147483648, 2147483647],
  sint32: [-2147483648, 2147483647],
  sfixed32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  fixed32: [0, 4294967295],
};
const INT64_TYPES = new Set(['int64', 'sint64', 'sfixed64', 'uint64', 'fixed64']);
const UNSIGNED_64 = new Set(['uint64', 'fixed64']);
const MAX_DURATION_SECONDS = 315_576_000_000;
/** Well-known types whose JSON form is not an object of fields (inside an Any they sit under "value"). */
const SPECIAL_JSON_TYPES = new Set([
  ...Object.keys(WRAPPER_KINDS),
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.FieldMask',
]);

/** Walks a protobufjs Type alongside the JSON, building an object `Type.fromObject` accepts. */
class JsonConverter {
  /** Per type: JSON key (proto name, lowerCamel, json_name) -> field. */
  private readonly fieldIndex = new Map<protobuf.Type, Map<string, protobuf.Field>>();

  constructor(private readonly schema: ProtoSchema) {}

  message(type: protobuf.Type, json: unknown, ec: ErrorCollector): Record<string, unknown> {
    const special = this.wellKnown(type, json, ec);
    if (special !== undefined) return special;
    if (!isPlainObject(json)) {
      ec.add(`expected an object (${type.name}), got ${describe(json)}`);
      return {};
    }
    const index = this.indexOf(type);
    const out: Record<string, unknown> = {};
    const oneofSeen = new Map<string, string>();
    for (const [key, value] of Object.entries(json)) {
      const field = index.get(key);
      if (field === undefined) {
        ec.add(`unknown field "${key}" (not in ${type.fullName.replace(/^\./, '')})`, key);
        continue;
      }
      if (value === null && field.resolvedType?.fullName !== '.google.protobuf.Value') continue;
      const fieldEc = ec.at(field.name);
      if (Object.prototype.hasOwnProperty.call(out, field.name)) {
        fieldEc.add('field given twice (snake_case and lowerCamelCase)');
        continue;
      }
      const oneof = field.partOf;
      if (oneof !== null && !oneof.name.startsWith('_')) {
        const other = oneofSeen.get(oneof.name);
        if (other !== undefined) {
          fieldEc.add(`only one of ${other} and ${field.name} may be set (oneof ${oneof.name})`);
          continue;
        }
        oneofSeen.set(oneof.name, field.name);
      }
      const converted = this.field(field, value, fieldEc);
      if (converted !== undefined) out[field.name] = converted;
    }
    return out;
  }

  private indexOf(type: protobuf.Type): Map<string, protobuf.Field> {
    let index = this.fieldIndex.get(type);
    if (index === undefined) {
      index = new Map();
      for (const field of type.fieldsArray) {
        field.resolve();
        index.set(field.name, field);
        index.set(lowerCamel(field.name), field);
        const jsonName = (field.options as Record<string, unknown> | undefined)?.['json_name'];
        if (typeof jsonName === 'string') index.set(jsonName, field);
      }
      this.fieldIndex.set(type, index);
    }
    return index;
  }

  private field(field: protobuf.Field, value: unknown, ec: ErrorCollector): unknown {
    if (field instanceof protobuf.MapField) {
      if (!isPlainObject(value)) {
        ec.add(`expected an object (map), got ${describe(value)}`);
        return undefined;
      }
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(value)) {
        const entryEc = ec.at(key);
        if (!this.validMapKey(field.keyType, key, entryEc)) continue;
        if (entry === null) continue;
        const converted = this.single(field, entry, entryEc);
        if (converted !== undefined) out[key] = converted;
      }
      return out;
    }
    if (field.repeated) {
      // Envoy accepts a single value where a list is expected.
      const items = Array.isArray(value) ? value : [value];
      const out: unknown[] = [];
      items.forEach((item, i) => {
        const itemEc = ec.at(i);
        if (item === null) {
          itemEc.add('null is not allowed in a list');
          return;
        }
        const converted = this.single(field, item, itemEc);
        if (converted !== undefined) out.push(converted);
      });
      return out;
    }
    return this.single(field, value, ec);
  }

  private validMapKey(keyType: string, key: string, ec: ErrorCollector): boolean {
    if (keyType === 'string') return true;
    if (keyType === 'bool') {
      if (key === 'true' || key === 'false') return true;
      ec.add(`invalid bool map key "${key}"`);
      return false;
    }
    if (!/^-?\d+$/.test(key)) {
      ec.add(`invalid ${keyType} map key "${key}"`);
      return false;
    }
    return true;
  }

  private single(field: protobuf.Field, value: unknown, ec: ErrorCollector): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.message(resolved, value, ec);
    if (resolved instanceof protobuf.Enum) return this.enumValue(resolved, value, ec);
    return this.scalar(field.type, value, ec);
  }

  private enumValue(type: protobuf.Enum, value: unknown, ec: ErrorCollector): string | number | undefined {
    if (type.fullName === '.google.protobuf.NullValue') return 'NULL_VALUE';
    if (typeof value === 'number' || (typeof value === 'string' && /^-?\d+$/.test(value))) {
      const n = Number(value);
      if (Object.values(type.values).includes(n)) return n;
      ec.add(`invalid value ${JSON.stringify(value)} for enum ${type.name}`);
      return undefined;
    }
    if (typeof value === 'string') {
      if (Object.prototype.hasOwnProperty.call(type.values, value)) return value;
      const upper = value.toUpperCase();
      const match = Object.keys(type.values).find((name) => name.toUpperCase() === upper);
      if (match !== undefined) return match;
      ec.add(`invalid value "${value}" for enum ${type.name} (expected one of ${Object.keys(type.values).join(', ')})`);
      return undefined;
    }
    ec.add(`expected an enum ${type.name} name, got ${describe(value)}`);
    return undefined;
  }

  private scalar(scalarType: string, value: unknown, ec: ErrorCollector): unknown {
    switch (scalarType) {
      case 'string':
        // YAML turns unquoted `8080` or `true` into non-strings; a string field means the text.
        if (typeof value === 'string') return value;
        if (typeof value === 'number' || typeof value === 'boolean') return String(value);
        ec.add(`expected a string, got ${describe(value)}`);
        return undefined;
      case 'bool':
        if (typeof value === 'boolean') return value;
        if (value === 'true' || value === 'false') return value === 'true';
        ec.add(`expected a bool, got ${describe(value)}`);
        return undefined;
      case 'double':
      case 'float':
        return this.float(value, ec);
      case 'bytes':
        return this.bytes(value, ec);
      default: {
        const range = INT32_RANGE[scalarType];
        if (range !== undefined) return this.int32(value, range, scalarType, ec);
        if (INT64_TYPES.has(scalarType)) return this.int64(value, UNSIGNED_64.has(scalarType), scalarType, ec);
        ec.add(`unsupported scalar type ${scalarType}`);
        return undefined;
      }
    }
  }

  private float(value: unknown, ec: ErrorCollector): number | undefined {
    if (typeof value === 'number') return value;
    if (typeof value === 'string') {
      if (value === 'NaN') return NaN;
      if (value === 'Infinity') return Infinity;
      if (value === '-Infinity') return -Infinity;
      if (value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
    }
    ec.add(`expected a number, got ${describe(value)}`);
    return undefined;
  }

  private int32(value: unknown, [min, max]: readonly [number, number], name: string, ec: ErrorCollector): number | undefined {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+(\.0*)?([eE]\+?\d+)?\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isInteger(n)) {
      ec.add(`expected an integer (${name}), got ${describe(value)}`);
      return undefined;
    }
    if (n < min || n > max) {
      ec.add(`${n} is out of range for ${name}`);
      return undefined;
    }
    return n;
  }

  private int64(value: unknown, unsigned: boolean, name: string, ec: ErrorCollector): string | undefined {
    let text: string | undefined;
    if (typeof value === 'number' && Number.isInteger(value)) text = BigInt(value).toString();
    else if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) text = BigInt(value.trim()).toString();
    if (text === undefined) {
      ec.add(`expected an integer (${name}), got ${describe(value)}`);
      return undefined;
    }
    const big = BigInt(text);
    const [min, max] = unsigned ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
    if (big < min || big > max) {
      ec.add(`${text} is out of range for ${name}`);
      return undefined;
    }
    return text;
  }

  private bytes(value: unknown, ec: ErrorCollector): Buffer | undefined {
    if (typeof value === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(value.replace(/\s+/g, ''))) {
      return Buffer.from(value.replace(/\s+/g, '').replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    }
    ec.add(`expected base64 bytes, got ${describe(value)}`);
    return undefined;
  }

  /** The special proto3 JSON forms of the well-known types; undefined when `type` is an ordinary message. */
  private wellKnown(type: protobuf.Type, json: unknown, ec: ErrorCollector): Record<string, unknown> | undefined {
    const name = type.fullName.replace(/^\./, '');
    if (!name.startsWith('google.protobuf.')) return undefined;
    const wrapped = WRAPPER_KINDS[name];
    if (wrapped !== undefined) {
      const converted = this.scalar(wrapped, json, ec);
      return converted === undefined ? {} : { value: converted };
    }
    switch (name) {
      case 'google.protobuf.Duration':
        return parseDuration(json, ec) ?? {};
      case 'google.protobuf.Timestamp':
        return parseTimestamp(json, ec) ?? {};
      case 'google.protobuf.Struct':
        return this.struct(json, ec);
      case 'google.protobuf.Value':
        return this.value(json, ec);
      case 'google.protobuf.ListValue':
        return this.listValue(json, ec);
      case 'google.protobuf.Any':
        return this.any(json, ec);
      case 'google.protobuf.FieldMask':
        if (typeof json === 'string') {
          return { paths: json === '' ? [] : json.split(',').map((p) => p.trim().replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) };
        }
        ec.add(`expected a field mask string, got ${describe(json)}`);
        return {};
      default:
        return undefined;
    }
  }

  private struct(json: unknown, ec: ErrorCollector): Record<string, unknown> {
    if (!isPlainObject(json)) {
      ec.add(`expected an object (Struct), got ${describe(json)}`);
      return {};
    }
    const fields: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(json)) fields[key] = this.value(value, ec.at(key));
    return { fields };
  }

  private listValue(json: unknown, ec: ErrorCollector): Record<string, unknown> {
    if (!Array.isArray(json)) {
      ec.add(`expected a list (ListValue), got ${describe(json)}`);
      return {};
    }
    return { values: json.map((item, i) => this.value(item, ec.at(i))) };
  }

  private value(json: unknown, ec: ErrorCollector): Record<string, unknown> {
    if (json === null || json === undefined) return { nullValue: 'NULL_VALUE' };
    if (typeof json === 'string') return { stringValue: json };
    if (typeof json === 'number') return { numberValue: json };
    if (typeof json === 'boolean') return { boolValue: json };
    if (Array.isArray(json)) return { listValue: this.listValue(json, ec) };
    if (isPlainObject(json)) return { structValue: this.struct(json, ec) };
    ec.add(`unsupported JSON value ${describe(json)}`);
    return {};
  }

  private any(json: unknown, ec: ErrorCollector): Record<string, unknown> {
    if (!isPlainObject(json)) {
      ec.add(`expected an object with "@type" (Any), got ${describe(json)}`);
      return {};
    }
    const typeUrl = json['@type'];
    if (typeUrl === undefined) {
      if (Object.keys(json).length === 0) return {};
      ec.add('"@type" is required in an Any (typed_config)');
      return {};
    }
    if (typeof typeUrl !== 'string' || typeUrl === '') {
      ec.add(`"@type" must be a type URL string, got ${describe(typeUrl)}`, '@type');
      return {};
    }
    const fullName = typeNameOf(typeUrl);
    const inner = this.schema.findType(fullName);
    // Not vendored: keep the type URL with an empty payload; the decoders classify filters by type URL.
    if (inner === undefined) return { type_url: typeUrl, value: Buffer.alloc(0) };
    const { '@type': _type, ...rest } = json;
    // Well-known types with a special JSON form carry it under "value" (proto3 JSON mapping for Any).
    const specialForm = SPECIAL_JSON_TYPES.has(fullName);
    let payload: unknown = rest;
    if (specialForm) {
      const extra = Object.keys(rest).filter((k) => k !== 'value');
      for (const key of extra) ec.add(`unknown field "${key}" (an Any of ${fullName} holds only "value")`, key);
      payload = rest['value'];
    }
    const innerEc = ErrorCollector.root();
    const object = this.message(inner, payload, specialForm ? innerEc.at('value') : innerEc);
    if (innerEc.hasErrors) {
      ec.addAll(innerEc.errors);
      return {};
    }
    try {
      return { type_url: typeUrl.includes('/') ? typeUrl : TYPE_URL_PREFIX + typeUrl, value: this.schema.encode(fullName, object) };
    } catch (error) {
      ec.add(`cannot encode ${fullName}: ${error instanceof Error ? error.message : String(error)}`);
      return {};
    }
  }
}

/** `"1.5s"`, `"-1s"`, `"0.000000001s"` -> `{seconds, nanos}` (proto3 JSON Duration). */
function parseDuration(json: unknown, ec: ErrorCollector): Record<string, unknown> | undefined {
  const match = typeof json === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json) : null;
  if (match === null) {
    ec.add(`invalid duration "${typeof json === 'string' ? json : JSON.stringify(json)}" (expected a string like "5s" or "0.25s")`);
    return undefined;
  }
  const sign = match[1] === '-' ? -1 : 1;
  const seconds = Number(match[2]);
  if (seconds > MAX_DURATION_SECONDS) {
    ec.add(`duration "${String(json)}" is out of range`);
    return undefined;
  }
  const nanos = Number((match[3] ?? '').padEnd(9, '0'));
  return { seconds: String(sign * seconds === 0 ? 0 : sign * seconds), nanos: nanos === 0 ? 0 : sign * nanos };
}

/** RFC 3339 (`2024-01-01T00:00:00Z`, `...00.5+01:00`) -> `{seconds, nanos}`. */
function parseTimestamp(json: unknown, ec: ErrorCollector): Record<string, unknown> | undefined {
  const match = typeof json === 'string'
    ? /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(json)
    : null;
  const millis = match === null ? NaN : Date.parse(`${match[1]}${match[3]}`);
  if (match === null || Number.isNaN(millis)) {
    ec.add(`invalid timestamp ${JSON.stringify(json)} (expected RFC 3339, e.g. "2024-01-01T00:00:00Z")`);
    return undefined;
  }
  return { seconds: String(Math.floor(millis / 1000)), nanos: Number((match[2] ?? '').padEnd(9, '0')) };
}
