// Generic protoc-gen-validate (PGV) checker: walks a proto-loader-shaped object along its protobufjs Type and reports every violated `(validate.rules)`.

import * as net from 'node:net';
import type * as protobuf from 'protobufjs';
import { joinPath, type FieldError } from '../core/validation';

// Loaded on the first validation, which always follows a schema load: a static sidecar imports the resource
// decoders (and so this file) but never the proto schema (issue 3, peak RSS).
let protobufjs: typeof import('protobufjs') | undefined;
function reflection(): typeof import('protobufjs') {
  return (protobufjs ??= require('protobufjs') as typeof import('protobufjs'));
}

/*
 * Envoy runs PGV on every resource and on every unpacked typed_config (MessageUtil::validate); this does the same
 * from protobufjs reflection. Rules are read from `field.parsedOptions` (`[{"(validate.rules)": {...}}]`), oneof
 * requirements from `oneof.options["(validate.required)"]`. Semantics follow PGV's generated validators:
 * - scalar rules apply to the field's value even when it is the proto3 default (so `string.min_len: 1` rejects "");
 * - rules on a oneof member apply only when that member is set;
 * - message fields are validated recursively when set; `message.required` rejects an unset one;
 * - wrapper fields (UInt32Value...) carry the wrapped kind's rules and are checked only when set;
 * - Any is never recursed into (decoders validate unpacked Anys themselves).
 */

type Rules = Readonly<Record<string, unknown>>;

interface CompiledField {
  readonly field: protobuf.Field;
  readonly rules: Rules | undefined;
  /** Oneof (non-synthetic) this field belongs to: rules apply only when it is the set member. */
  readonly oneof: string | undefined;
  /** The nested message type to recurse into, if any (not Any, not well-known scalar-ish types). */
  readonly recurse: protobuf.Type | undefined;
  /** For wrapper types: the wrapped kind (`uint32`, `bool`...). */
  readonly wrapperKind: string | undefined;
  /** Full name of the field's message type (no leading dot), computed once: protobufjs's `fullName` getter walks the parents on every call. */
  readonly typeName: string | undefined;
}

interface CompiledType {
  readonly skip: boolean;
  readonly fields: readonly CompiledField[];
  readonly requiredOneofs: readonly protobuf.OneOf[];
}

/** google.protobuf wrapper message -> the scalar kind it wraps (its PGV rules use that kind's key). */
export const WRAPPER_KINDS: Readonly<Record<string, string>> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

/** Types whose content is never walked (they carry no PGV rules, or are opaque). */
const NO_RECURSE = new Set([
  'google.protobuf.Any',
  'google.protobuf.Duration',
  'google.protobuf.Timestamp',
  'google.protobuf.Struct',
  'google.protobuf.Value',
  'google.protobuf.ListValue',
  'google.protobuf.Empty',
  ...Object.keys(WRAPPER_KINDS),
]);

const NUMERIC_KINDS = new Set(['double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64']);

const compiledCache = new WeakMap<protobuf.Type, CompiledType>();

/** Maximum message nesting walked; deeper config is reported rather than overflowing the stack. */
const MAX_DEPTH = 100;

/**
 * Checks `message` (proto-loader `__Output` shape: snake_case, defaults filled, unset messages `null`, int64 as strings,
 * enums as names) against the PGV rules of `type` and of every set nested message. Returns every violation with a
 * path relative to the message (`outlier_detection.max_ejection_percent`). Never throws. Cost: one walk over the
 * set fields; the per-type rule tables are compiled once and cached.
 */
export function protoValidate(type: protobuf.Type, message: unknown): FieldError[] {
  const out: FieldError[] = [];
  try {
    walkMessage(type, message, '', out, 0);
  } catch (err) {
    out.push({ path: '', message: `internal error while validating ${type.fullName.replace(/^\./, '')}: ${(err as Error).message}` });
  }
  return out;
}

function fullName(t: protobuf.ReflectionObject): string {
  return t.fullName.startsWith('.') ? t.fullName.slice(1) : t.fullName;
}

function mergedRules(parsed: ReadonlyArray<Record<string, unknown>> | undefined, key: string): Rules | undefined {
  if (parsed === undefined || parsed === null) return undefined;
  let merged: Record<string, unknown> | undefined;
  for (const entry of parsed) {
    const value = entry[key];
    if (value === undefined || typeof value !== 'object' || value === null) continue;
    merged = merged === undefined ? { ...(value as Record<string, unknown>) } : deepMerge(merged, value as Record<string, unknown>);
  }
  return merged;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function messageOption(type: protobuf.Type, name: string): boolean {
  if (type.options?.[name] === true) return true;
  const parsed = (type as unknown as { parsedOptions?: ReadonlyArray<Record<string, unknown>> }).parsedOptions;
  return parsed?.some((o) => o[name] === true) ?? false;
}

function compile(type: protobuf.Type): CompiledType {
  const cached = compiledCache.get(type);
  if (cached !== undefined) return cached;
  const skip = messageOption(type, '(validate.disabled)') || messageOption(type, '(validate.ignored)');
  const fields: CompiledField[] = [];
  for (const field of type.fieldsArray) {
    field.resolve();
    const parsed = (field as unknown as { parsedOptions?: ReadonlyArray<Record<string, unknown>> }).parsedOptions;
    const rules = mergedRules(parsed, '(validate.rules)');
    const resolved = field.resolvedType;
    let recurse: protobuf.Type | undefined;
    let wrapperKind: string | undefined;
    let typeName: string | undefined;
    if (resolved instanceof reflection().Type) {
      const name = fullName(resolved);
      typeName = name;
      wrapperKind = WRAPPER_KINDS[name];
      if (!NO_RECURSE.has(name)) recurse = resolved;
    }
    const partOf = field.partOf;
    // proto3 `optional` fields live in synthetic oneofs named `_<field>`: they are not real oneofs.
    const oneof = partOf !== null && partOf !== undefined && !(partOf.oneof.length === 1 && partOf.name === `_${field.name}`) ? partOf.name : undefined;
    if (rules === undefined && recurse === undefined) continue;
    fields.push({ field, rules, oneof, recurse, wrapperKind, typeName });
  }
  const requiredOneofs = type.oneofsArray.filter((o) => {
    if (o.options?.['(validate.required)'] === true) return true;
    const parsed = (o as unknown as { parsedOptions?: ReadonlyArray<Record<string, unknown>> }).parsedOptions;
    return parsed?.some((p) => p['(validate.required)'] === true) ?? false;
  });
  const compiled: CompiledType = { skip, fields, requiredOneofs };
  compiledCache.set(type, compiled);
  return compiled;
}

function walkMessage(type: protobuf.Type, message: unknown, path: string, out: FieldError[], depth: number): void {
  if (message === null || message === undefined || typeof message !== 'object') return;
  if (depth > MAX_DEPTH) {
    out.push({ path, message: `message nesting deeper than ${MAX_DEPTH}` });
    return;
  }
  const compiled = compile(type);
  if (compiled.skip) return;
  const msg = message as Record<string, unknown>;
  for (const oneof of compiled.requiredOneofs) {
    if (!isOneofSet(msg, oneof)) {
      out.push({ path: joinPath(path, oneof.name), message: `exactly one of ${oneof.oneof.join(', ')} must be set` });
    }
  }
  for (const cf of compiled.fields) {
    const { field } = cf;
    const value = msg[field.name];
    if (cf.oneof !== undefined) {
      const selected = msg[cf.oneof];
      if (selected !== undefined ? selected !== field.name : value === undefined || value === null) continue;
    }
    const fieldPath = joinPath(path, field.name);
    if (field.map) {
      checkMap(cf, value, fieldPath, out, depth);
    } else if (field.repeated) {
      checkRepeated(cf, value, fieldPath, out, depth);
    } else {
      checkSingle(cf, cf.rules, value, fieldPath, out, depth);
    }
  }
}

function isOneofSet(msg: Record<string, unknown>, oneof: protobuf.OneOf): boolean {
  const selected = msg[oneof.name];
  if (typeof selected === 'string' && selected !== '') return msg[selected] !== undefined && msg[selected] !== null;
  return oneof.oneof.some((name) => msg[name] !== undefined && msg[name] !== null);
}

function checkSingle(cf: CompiledField, rules: Rules | undefined, value: unknown, path: string, out: FieldError[], depth: number): void {
  const { field } = cf;
  const resolved = field.resolvedType;
  if (resolved instanceof reflection().Type) {
    const messageRules = rules?.['message'] as Rules | undefined;
    const unset = value === null || value === undefined;
    const typeName = cf.typeName ?? fullName(resolved);
    if (unset) {
      if (messageRules?.['required'] === true) out.push({ path, message: 'value is required' });
      else if ((rules?.['duration'] as Rules | undefined)?.['required'] === true) out.push({ path, message: 'value is required' });
      else if ((rules?.['any'] as Rules | undefined)?.['required'] === true) out.push({ path, message: 'value is required' });
      else if ((rules?.['timestamp'] as Rules | undefined)?.['required'] === true) out.push({ path, message: 'value is required' });
      return;
    }
    if (typeName === 'google.protobuf.Duration') {
      const dr = rules?.['duration'] as Rules | undefined;
      if (dr !== undefined) checkDuration(dr, value as Record<string, unknown>, path, out);
      return;
    }
    if (typeName === 'google.protobuf.Any') {
      const ar = rules?.['any'] as Rules | undefined;
      if (ar !== undefined) checkAny(ar, value as Record<string, unknown>, path, out);
      return;
    }
    if (cf.wrapperKind !== undefined) {
      const kindRules = rules?.[cf.wrapperKind] as Rules | undefined;
      if (kindRules !== undefined) checkScalar(cf.wrapperKind, kindRules, (value as Record<string, unknown>)['value'], path, out, undefined);
      return;
    }
    if (messageRules?.['skip'] === true) return;
    if (cf.recurse !== undefined) walkMessage(cf.recurse, value, path, out, depth + 1);
    return;
  }
  if (rules === undefined) return;
  if (resolved instanceof reflection().Enum) {
    const er = rules['enum'] as Rules | undefined;
    if (er !== undefined) checkEnum(resolved, er, value, path, out);
    return;
  }
  const kindRules = rules[field.type] as Rules | undefined;
  if (kindRules !== undefined) checkScalar(field.type, kindRules, value, path, out, undefined);
}

function checkRepeated(cf: CompiledField, value: unknown, path: string, out: FieldError[], depth: number): void {
  const items = Array.isArray(value) ? value : [];
  const rr = cf.rules?.['repeated'] as Rules | undefined;
  if (rr !== undefined && !(rr['ignore_empty'] === true && items.length === 0)) {
    const min = num(rr['min_items']);
    const max = num(rr['max_items']);
    if (min !== undefined && items.length < min) out.push({ path, message: `must contain at least ${min} item(s)` });
    if (max !== undefined && items.length > max) out.push({ path, message: `must contain at most ${max} item(s)` });
    if (rr['unique'] === true) {
      const seen = new Set<string>();
      for (let i = 0; i < items.length; i++) {
        const key = stableKey(items[i]);
        if (seen.has(key)) out.push({ path: joinPath(path, i), message: 'repeated value must contain unique items' });
        seen.add(key);
      }
    }
  }
  const itemRules = rr?.['items'] as Rules | undefined;
  for (let i = 0; i < items.length; i++) {
    checkSingle(cf, itemRules, items[i], joinPath(path, i), out, depth);
  }
}

function checkMap(cf: CompiledField, value: unknown, path: string, out: FieldError[], depth: number): void {
  const entries = isPlainObject(value) ? Object.entries(value) : [];
  const mr = cf.rules?.['map'] as Rules | undefined;
  if (mr !== undefined && !(mr['ignore_empty'] === true && entries.length === 0)) {
    const min = num(mr['min_pairs']);
    const max = num(mr['max_pairs']);
    if (min !== undefined && entries.length < min) out.push({ path, message: `must contain at least ${min} pair(s)` });
    if (max !== undefined && entries.length > max) out.push({ path, message: `must contain at most ${max} pair(s)` });
  }
  const keyRules = mr?.['keys'] as Rules | undefined;
  const valueRules = mr?.['values'] as Rules | undefined;
  const keyType = (cf.field as unknown as protobuf.MapField).keyType;
  for (const [k, v] of entries) {
    const entryPath = `${path}[${JSON.stringify(k)}]`;
    if (keyRules !== undefined) {
      const kr = keyRules[keyType] as Rules | undefined;
      if (kr !== undefined) checkScalar(keyType, kr, k, entryPath, out, 'key');
    }
    if (mr?.['no_sparse'] === true && (v === null || v === undefined)) out.push({ path: entryPath, message: 'map values must not be unset' });
    checkSingle(cf, valueRules, v, entryPath, out, depth);
  }
}

// ---- durations ----

function durationNanos(d: unknown): bigint | undefined {
  if (d === null || d === undefined || typeof d !== 'object') return undefined;
  const o = d as Record<string, unknown>;
  try {
    const seconds = BigInt(String(o['seconds'] ?? 0).split('.')[0] ?? '0');
    const nanos = BigInt(Math.trunc(Number(o['nanos'] ?? 0)));
    return seconds * 1_000_000_000n + nanos;
  } catch {
    return undefined;
  }
}

function formatDuration(n: bigint): string {
  const neg = n < 0n;
  const abs = neg ? -n : n;
  const s = abs / 1_000_000_000n;
  const frac = abs % 1_000_000_000n;
  const fracStr = frac === 0n ? '' : `.${frac.toString().padStart(9, '0').replace(/0+$/, '')}`;
  return `${neg ? '-' : ''}${s}${fracStr}s`;
}

function checkDuration(rules: Rules, value: Record<string, unknown>, path: string, out: FieldError[]): void {
  const v = durationNanos(value);
  if (v === undefined) {
    out.push({ path, message: 'invalid duration' });
    return;
  }
  const nanos = Number(value['nanos'] ?? 0);
  if (!Number.isFinite(nanos) || Math.abs(nanos) >= 1_000_000_000) {
    out.push({ path, message: 'duration nanos out of range' });
    return;
  }
  const bound = (key: string): bigint | undefined => (rules[key] === undefined ? undefined : durationNanos(rules[key] ?? {}));
  const list = (key: string): bigint[] => (Array.isArray(rules[key]) ? (rules[key] as unknown[]).map((x) => durationNanos(x) ?? 0n) : []);
  compareRange(v, { c: bound('const'), lt: bound('lt'), lte: bound('lte'), gt: bound('gt'), gte: bound('gte'), in: list('in'), notIn: list('not_in') }, formatDuration, path, out, 'value');
}

function checkAny(rules: Rules, value: Record<string, unknown>, path: string, out: FieldError[]): void {
  const typeUrl = String(value['type_url'] ?? '');
  const inList = rules['in'];
  if (Array.isArray(inList) && inList.length > 0 && !inList.includes(typeUrl)) out.push({ path, message: `type URL must be in list [${inList.join(', ')}]` });
  const notIn = rules['not_in'];
  if (Array.isArray(notIn) && notIn.includes(typeUrl)) out.push({ path, message: `type URL must not be in list [${notIn.join(', ')}]` });
}

// ---- ranges (shared by numbers and durations) ----

interface RangeRules<N> {
  readonly c: N | undefined;
  readonly lt: N | undefined;
  readonly lte: N | undefined;
  readonly gt: N | undefined;
  readonly gte: N | undefined;
  readonly in: readonly N[];
  readonly notIn: readonly N[];
}

/** PGV range semantics, including "exclusive ranges" where the lower bound is above the upper bound. */
function compareRange<N extends number | bigint>(v: N, r: RangeRules<N>, fmt: (n: N) => string, path: string, out: FieldError[], what: string): void {
  if (r.c !== undefined && v !== r.c) out.push({ path, message: `${what} must equal ${fmt(r.c)}` });
  const upper = r.lt ?? r.lte;
  const lower = r.gt ?? r.gte;
  const upperOk = r.lt !== undefined ? v < r.lt : r.lte !== undefined ? v <= r.lte : true;
  const lowerOk = r.gt !== undefined ? v > r.gt : r.gte !== undefined ? v >= r.gte : true;
  const lowerText = r.gt !== undefined ? `greater than ${fmt(r.gt)}` : r.gte !== undefined ? `greater than or equal to ${fmt(r.gte)}` : '';
  const upperText = r.lt !== undefined ? `less than ${fmt(r.lt)}` : r.lte !== undefined ? `less than or equal to ${fmt(r.lte)}` : '';
  if (upper !== undefined && lower !== undefined && lower > upper) {
    // Exclusive range: valid outside (upper, lower).
    if (!upperOk && !lowerOk) out.push({ path, message: `${what} must be ${upperText} or ${lowerText}` });
  } else if (upper !== undefined && lower !== undefined) {
    if (!upperOk || !lowerOk) out.push({ path, message: `${what} must be ${lowerText} and ${upperText}` });
  } else if (!upperOk) {
    out.push({ path, message: `${what} must be ${upperText}` });
  } else if (!lowerOk) {
    out.push({ path, message: `${what} must be ${lowerText}` });
  }
  if (r.in.length > 0 && !r.in.includes(v)) out.push({ path, message: `${what} must be in list [${r.in.map(fmt).join(', ')}]` });
  if (r.notIn.includes(v)) out.push({ path, message: `${what} must not be in list [${r.notIn.map(fmt).join(', ')}]` });
}

// ---- scalars ----

function num(x: unknown): number | undefined {
  if (x === undefined || x === null) return undefined;
  const n = typeof x === 'number' ? x : Number(x);
  return Number.isNaN(n) ? undefined : n;
}

function checkScalar(kind: string, rules: Rules, value: unknown, path: string, out: FieldError[], what: string | undefined): void {
  const label = what ?? 'value';
  if (NUMERIC_KINDS.has(kind)) {
    const v = num(value ?? 0) ?? 0;
    if (rules['ignore_empty'] === true && v === 0) return;
    const list = (key: string): number[] => (Array.isArray(rules[key]) ? (rules[key] as unknown[]).map((x) => num(x) ?? 0) : []);
    compareRange(v, { c: num(rules['const']), lt: num(rules['lt']), lte: num(rules['lte']), gt: num(rules['gt']), gte: num(rules['gte']), in: list('in'), notIn: list('not_in') }, String, path, out, label);
    if ((kind === 'float' || kind === 'double') && rules['finite'] === true && !Number.isFinite(v)) out.push({ path, message: `${label} must be finite` });
    return;
  }
  if (kind === 'bool') {
    if (rules['const'] !== undefined && Boolean(value) !== rules['const']) out.push({ path, message: `${label} must equal ${String(rules['const'])}` });
    return;
  }
  if (kind === 'string') {
    checkString(rules, typeof value === 'string' ? value : '', path, out, label);
    return;
  }
  if (kind === 'bytes') {
    const bytes = value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    checkBytes(rules, bytes, path, out, label);
  }
}

/** Envoy's PGV header regexes (validate.proto WellKnownRegex; `strict: false` relaxes both to "no NUL, CR or LF"). */
const HEADER_NAME_STRICT = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE_STRICT = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;
const HEADER_LOOSE = /^[^\u0000\u000A\u000D]*$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function isHostname(s: string): boolean {
  const host = s.endsWith('.') ? s.slice(0, -1) : s;
  if (host.length === 0 || host.length > 253) return false;
  return host.split('.').every((label) => /^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

function checkString(rules: Rules, s: string, path: string, out: FieldError[], label: string): void {
  if (rules['ignore_empty'] === true && s === '') return;
  const chars = [...s].length;
  const bytes = Buffer.byteLength(s, 'utf8');
  const fail = (message: string): void => {
    out.push({ path, message: `${label} ${message}` });
  };
  if (rules['const'] !== undefined && s !== rules['const']) fail(`must equal ${JSON.stringify(rules['const'])}`);
  const len = num(rules['len']);
  if (len !== undefined && chars !== len) fail(`length must be ${len} characters`);
  const minLen = num(rules['min_len']);
  if (minLen !== undefined && chars < minLen) fail(minLen === 1 ? 'must not be empty' : `length must be at least ${minLen} characters`);
  const maxLen = num(rules['max_len']);
  if (maxLen !== undefined && chars > maxLen) fail(`length must be at most ${maxLen} characters`);
  const lenBytes = num(rules['len_bytes']);
  if (lenBytes !== undefined && bytes !== lenBytes) fail(`length must be ${lenBytes} bytes`);
  const minBytes = num(rules['min_bytes']);
  if (minBytes !== undefined && bytes < minBytes) fail(`length must be at least ${minBytes} bytes`);
  const maxBytes = num(rules['max_bytes']);
  if (maxBytes !== undefined && bytes > maxBytes) fail(`length must be at most ${maxBytes} bytes`);
  if (typeof rules['pattern'] === 'string') {
    try {
      if (!new RegExp(rules['pattern'], 'u').test(s)) fail(`does not match pattern ${JSON.stringify(rules['pattern'])}`);
    } catch {
      // RE2 syntax JS cannot compile: leave it to the decoder.
    }
  }
  if (typeof rules['prefix'] === 'string' && !s.startsWith(rules['prefix'])) fail(`must start with ${JSON.stringify(rules['prefix'])}`);
  if (typeof rules['suffix'] === 'string' && !s.endsWith(rules['suffix'])) fail(`must end with ${JSON.stringify(rules['suffix'])}`);
  if (typeof rules['contains'] === 'string' && !s.includes(rules['contains'])) fail(`must contain ${JSON.stringify(rules['contains'])}`);
  if (typeof rules['not_contains'] === 'string' && s.includes(rules['not_contains'])) fail(`must not contain ${JSON.stringify(rules['not_contains'])}`);
  if (Array.isArray(rules['in']) && rules['in'].length > 0 && !rules['in'].includes(s)) fail(`must be in list [${rules['in'].join(', ')}]`);
  if (Array.isArray(rules['not_in']) && rules['not_in'].includes(s)) fail(`must not be in list [${rules['not_in'].join(', ')}]`);
  if (rules['email'] === true && !/^[^@\s]+@[^@\s]+$/.test(s)) fail('must be a valid email address');
  if (rules['hostname'] === true && !isHostname(s)) fail('must be a valid hostname');
  if (rules['ip'] === true && net.isIP(s) === 0) fail('must be a valid IP address');
  if (rules['ipv4'] === true && !net.isIPv4(s)) fail('must be a valid IPv4 address');
  if (rules['ipv6'] === true && !net.isIPv6(s)) fail('must be a valid IPv6 address');
  if (rules['address'] === true && net.isIP(s) === 0 && !isHostname(s)) fail('must be a valid hostname or IP address');
  if (rules['uuid'] === true && !UUID.test(s)) fail('must be a valid UUID');
  if (rules['uri'] === true && !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) fail('must be a valid absolute URI');
  const wkr = rules['well_known_regex'];
  if (wkr === 'HTTP_HEADER_NAME' || wkr === 'HTTP_HEADER_VALUE') {
    const strict = rules['strict'] !== false;
    const re = !strict ? HEADER_LOOSE : wkr === 'HTTP_HEADER_NAME' ? HEADER_NAME_STRICT : HEADER_VALUE_STRICT;
    // An empty name fails the strict name regex only when something is there to check; min_len covers emptiness.
    if (!(s === '' && wkr === 'HTTP_HEADER_NAME') && !re.test(s)) fail(wkr === 'HTTP_HEADER_NAME' ? 'must be a valid HTTP header name' : 'must be a valid HTTP header value');
  }
}

function ruleBytes(x: unknown): Buffer | undefined {
  if (typeof x === 'string') return Buffer.from(x, 'latin1');
  if (x instanceof Uint8Array) return Buffer.from(x);
  return undefined;
}

function checkBytes(rules: Rules, b: Buffer, path: string, out: FieldError[], label: string): void {
  if (rules['ignore_empty'] === true && b.length === 0) return;
  const fail = (message: string): void => {
    out.push({ path, message: `${label} ${message}` });
  };
  const c = ruleBytes(rules['const']);
  if (c !== undefined && !c.equals(b)) fail('must equal the constant bytes');
  const len = num(rules['len']);
  if (len !== undefined && b.length !== len) fail(`length must be ${len} bytes`);
  const minLen = num(rules['min_len']);
  if (minLen !== undefined && b.length < minLen) fail(`length must be at least ${minLen} bytes`);
  const maxLen = num(rules['max_len']);
  if (maxLen !== undefined && b.length > maxLen) fail(`length must be at most ${maxLen} bytes`);
  const prefix = ruleBytes(rules['prefix']);
  if (prefix !== undefined && !b.subarray(0, prefix.length).equals(prefix)) fail('does not have the required prefix');
  const suffix = ruleBytes(rules['suffix']);
  if (suffix !== undefined && (b.length < suffix.length || !b.subarray(b.length - suffix.length).equals(suffix))) fail('does not have the required suffix');
  const contains = ruleBytes(rules['contains']);
  if (contains !== undefined && b.indexOf(contains) < 0) fail('does not contain the required bytes');
  if (Array.isArray(rules['in']) && rules['in'].length > 0 && !rules['in'].some((x) => ruleBytes(x)?.equals(b) === true)) fail('must be in the allowed list');
  if (Array.isArray(rules['not_in']) && rules['not_in'].some((x) => ruleBytes(x)?.equals(b) === true)) fail('must not be in the disallowed list');
  if (rules['ipv4'] === true && b.length !== 4) fail('must be an IPv4 address (4 bytes)');
  if (rules['ipv6'] === true && b.length !== 16) fail('must be an IPv6 address (16 bytes)');
  if (rules['ip'] === true && b.length !== 4 && b.length !== 16) fail('must be an IP address (4 or 16 bytes)');
}

function checkEnum(e: protobuf.Enum, rules: Rules, value: unknown, path: string, out: FieldError[]): void {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? e.values[value] : 0;
  if (rules['defined_only'] === true && (n === undefined || e.valuesById[n] === undefined)) {
    out.push({ path, message: `value must be one of the defined enum values (${Object.keys(e.values).join(', ')})` });
    return;
  }
  if (n === undefined) return;
  const name = (x: number): string => e.valuesById[x] ?? String(x);
  if (rules['const'] !== undefined && n !== num(rules['const'])) out.push({ path, message: `value must equal ${name(num(rules['const']) ?? 0)}` });
  if (Array.isArray(rules['in']) && rules['in'].length > 0 && !rules['in'].map(num).includes(n)) out.push({ path, message: `value must be in list [${rules['in'].map((x) => name(num(x) ?? 0)).join(', ')}]` });
  if (Array.isArray(rules['not_in']) && rules['not_in'].map(num).includes(n)) out.push({ path, message: `value must not be in list [${rules['not_in'].map((x) => name(num(x) ?? 0)).join(', ')}]` });
}

function stableKey(v: unknown): string {
  if (v instanceof Uint8Array) return `b:${Buffer.from(v).toString('base64')}`;
  if (Array.isArray(v)) return `[${v.map(stableKey).join(',')}]`;
  if (isPlainObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableKey(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}
