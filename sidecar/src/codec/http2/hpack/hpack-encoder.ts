import { huffmanEncode, huffmanEncodedLength } from './hpack-huffman';
import { STATIC_TABLE_LENGTH, STATIC_TABLE_NAMES, STATIC_TABLE_VALUES } from './hpack-static-table';

/** RFC 7541 §4.1: an entry costs its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** We never let the peer's decoder keep more than this for us (nghttp2's default deflate limit too). */
const MAX_OWN_TABLE_SIZE = 4096;

/** How a literal field is represented (RFC 7541 §6.2). */
const enum IndexingPolicy {
  /** §6.2.1 literal with incremental indexing. */
  Index,
  /** §6.2.2 literal without indexing: unbounded or per-request values that would only churn the table. */
  WithoutIndexing,
  /** §6.2.3 never indexed: secrets an intermediary must not index either (§7.1.3). */
  NeverIndexed,
  /** cookie: never indexed when shorter than 20 octets (§7.1.3, as nghttp2), indexed otherwise. */
  Cookie,
  /** :path: indexed (nghttp2 does; gRPC method paths repeat) unless it has a query or is long. */
  Path,
}

interface NameInfo {
  /** Static table index of the name's first entry, 0 when the name is not in the static table. */
  readonly staticIndex: number;
  /** Static entries with this name: value -> index. */
  readonly staticValues: Map<string, number> | null;
  readonly policy: IndexingPolicy;
}

/** Longest :path we index. */
const MAX_INDEXED_PATH_LENGTH = 128;

const NOT_INDEXED_NAMES = [
  'content-length', 'content-range', 'range', 'date', 'age', 'expires', 'last-modified', 'etag',
  'if-modified-since', 'if-unmodified-since', 'if-none-match', 'if-match', 'set-cookie',
  'x-request-id', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid',
  'x-b3-flags', 'x-amzn-trace-id', 'x-cloud-trace-context', 'uber-trace-id', 'sentry-trace',
  'grpc-timeout', 'grpc-message', 'grpc-status-details-bin',
];
const NEVER_INDEXED_NAMES = ['authorization', 'proxy-authorization'];

/** One Map lookup per field gives the static indices and the indexing policy of a name. */
const NAME_INFO = buildNameInfo();

function buildNameInfo(): Map<string, NameInfo> {
  const policies = new Map<string, IndexingPolicy>();
  for (const name of NOT_INDEXED_NAMES) policies.set(name, IndexingPolicy.WithoutIndexing);
  for (const name of NEVER_INDEXED_NAMES) policies.set(name, IndexingPolicy.NeverIndexed);
  policies.set('cookie', IndexingPolicy.Cookie);
  policies.set(':path', IndexingPolicy.Path);
  const info = new Map<string, NameInfo>();
  for (let index = 1; index <= STATIC_TABLE_LENGTH; index++) {
    const name = STATIC_TABLE_NAMES[index]!;
    let entry = info.get(name);
    if (entry === undefined) {
      entry = { staticIndex: index, staticValues: new Map(), policy: policies.get(name) ?? IndexingPolicy.Index };
      info.set(name, entry);
    }
    entry.staticValues!.set(STATIC_TABLE_VALUES[index]!, index);
  }
  for (const [name, policy] of policies) {
    if (!info.has(name)) info.set(name, { staticIndex: 0, staticValues: null, policy });
  }
  return info;
}

/** Dynamic table entries sharing one name: value -> insertion sequence number. */
interface DynamicName {
  readonly values: Map<string, number>;
  /** Sequence number of the newest entry with this name (present whenever any is). */
  latestSeq: number;
}

/**
 * HPACK encoder (RFC 7541) for one HTTP/2 connection direction, with nghttp2's strategy: indexed
 * representation when name and value are in a table, otherwise a literal with incremental indexing (name by
 * index when known) except for unbounded or sensitive values, Huffman when it is shorter.
 *
 * Dynamic table entries are numbered by insertion (seq); the entry with seq s lives in ring slot s & mask
 * and has HPACK index 62 + (insertCount - 1 - s).
 */
export class HpackEncoder {
  private scratch: Buffer = Buffer.allocUnsafe(1024);
  private offset = 0;
  /** The table size the peer's decoder believes we use (last size update we sent, initially the default 4096). */
  private tableLimit = MAX_OWN_TABLE_SIZE;
  private tableSize = 0;
  private pendingSizeUpdate = false;
  private pendingMinimumLimit = MAX_OWN_TABLE_SIZE;
  private pendingFinalLimit = MAX_OWN_TABLE_SIZE;
  private readonly names: string[];
  private readonly values: string[];
  private readonly ringMask: number;
  private insertCount = 0;
  private count = 0;
  private readonly dynamicNames = new Map<string, DynamicName>();

  constructor() {
    let capacity = 1;
    while (capacity < MAX_OWN_TABLE_SIZE / ENTRY_OVERHEAD + 1) capacity *= 2;
    this.names = new Array<string>(capacity).fill('');
    this.values = new Array<string>(capacity).fill('');
    this.ringMask = capacity - 1;
  }

  /** Current dynamic table size in octets. For tests and diagnostics. */
  get dynamicTableSize(): number {
    return this.tableSize;
  }

  /**
   * The peer's SETTINGS_HEADER_TABLE_SIZE. We use min(4096, size); a change is announced with Dynamic Table
   * Size Updates at the start of the next block, the smallest value first when it dipped (RFC 7541 §4.2).
   */
  setPeerMaxTableSize(size: number): void {
    const limit = Math.min(MAX_OWN_TABLE_SIZE, Math.max(0, Math.floor(size)));
    if (!this.pendingSizeUpdate) {
      if (limit === this.tableLimit) return;
      this.pendingSizeUpdate = true;
      this.pendingMinimumLimit = limit;
    } else if (limit < this.pendingMinimumLimit) {
      this.pendingMinimumLimit = limit;
    }
    this.pendingFinalLimit = limit;
  }

  /**
   * Encodes one header block from [name0, value0, name1, value1, ...] (`count` strings, names lower-case).
   * Returns a view of the internal scratch buffer, valid until the next encode() call.
   */
  encode(fields: readonly string[], count: number): Buffer {
    this.offset = 0;
    if (this.pendingSizeUpdate) this.writeSizeUpdates();
    for (let i = 0; i + 1 < count; i += 2) {
      const name = fields[i]!;
      const value = fields[i + 1]!;
      this.ensureRoom(name.length + value.length + 16);
      this.encodeField(name, value);
    }
    return this.scratch.subarray(0, this.offset);
  }

  private encodeField(name: string, value: string): void {
    const info = NAME_INFO.get(name);
    if (info !== undefined && info.staticValues !== null) {
      const staticIndex = info.staticValues.get(value);
      if (staticIndex !== undefined) {
        this.writeInteger(staticIndex, 7, 0x80);
        return;
      }
    }
    let policy = info === undefined ? IndexingPolicy.Index : info.policy;
    if (policy === IndexingPolicy.Cookie) {
      policy = value.length < 20 ? IndexingPolicy.NeverIndexed : IndexingPolicy.Index;
    } else if (policy === IndexingPolicy.Path) {
      policy = value.length <= MAX_INDEXED_PATH_LENGTH && value.indexOf('?') < 0
        ? IndexingPolicy.Index
        : IndexingPolicy.WithoutIndexing;
    }
    const dynamicName = this.dynamicNames.get(name);
    if (dynamicName !== undefined && policy === IndexingPolicy.Index) {
      const seq = dynamicName.values.get(value);
      if (seq !== undefined) {
        this.writeInteger(this.indexOfSeq(seq), 7, 0x80);
        return;
      }
    }
    let nameIndex = 0;
    if (info !== undefined && info.staticIndex !== 0) nameIndex = info.staticIndex;
    else if (dynamicName !== undefined) nameIndex = this.indexOfSeq(dynamicName.latestSeq);

    // nghttp2 does not index an entry bigger than 3/4 of the table: it would flush everything else.
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (policy === IndexingPolicy.Index && entrySize * 4 > this.tableLimit * 3) policy = IndexingPolicy.WithoutIndexing;

    if (policy === IndexingPolicy.Index) this.writeInteger(nameIndex, 6, 0x40);
    else this.writeInteger(nameIndex, 4, policy === IndexingPolicy.NeverIndexed ? 0x10 : 0x00);
    if (nameIndex === 0) this.writeString(name);
    this.writeString(value);
    if (policy === IndexingPolicy.Index) this.insert(name, value, entrySize);
  }

  private indexOfSeq(seq: number): number {
    return STATIC_TABLE_LENGTH + this.insertCount - seq;
  }

  private writeSizeUpdates(): void {
    this.ensureRoom(16);
    if (this.pendingMinimumLimit < this.pendingFinalLimit) {
      this.writeInteger(this.pendingMinimumLimit, 5, 0x20);
      this.evictTo(this.pendingMinimumLimit);
    }
    this.writeInteger(this.pendingFinalLimit, 5, 0x20);
    this.tableLimit = this.pendingFinalLimit;
    this.evictTo(this.tableLimit);
    this.pendingSizeUpdate = false;
  }

  /** §5.1 integer with an N-bit prefix; `flags` are the representation bits above the prefix. */
  private writeInteger(value: number, prefixBits: number, flags: number): void {
    const out = this.scratch;
    let o = this.offset;
    const prefixMax = (1 << prefixBits) - 1;
    if (value < prefixMax) {
      out[o++] = flags | value;
    } else {
      out[o++] = flags | prefixMax;
      let rest = value - prefixMax;
      while (rest >= 128) {
        out[o++] = (rest & 0x7f) | 0x80;
        rest = Math.floor(rest / 128);
      }
      out[o++] = rest;
    }
    this.offset = o;
  }

  /** §5.2 string literal, Huffman-coded when that is shorter. */
  private writeString(s: string): void {
    const length = s.length;
    const huffmanLength = huffmanEncodedLength(s);
    if (huffmanLength < length) {
      this.writeInteger(huffmanLength, 7, 0x80);
      this.offset = huffmanEncode(s, this.scratch, this.offset);
      return;
    }
    this.writeInteger(length, 7, 0x00);
    if (length < 32) {
      const out = this.scratch;
      let o = this.offset;
      for (let i = 0; i < length; i++) out[o++] = s.charCodeAt(i);
      this.offset = o;
    } else {
      this.offset += this.scratch.write(s, this.offset, length, 'latin1');
    }
  }

  private ensureRoom(bytes: number): void {
    const needed = this.offset + bytes;
    if (needed <= this.scratch.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.scratch.length * 2));
    this.scratch.copy(grown, 0, 0, this.offset);
    this.scratch = grown;
  }

  /** §4.4 insertion: evict the oldest entries until the new one fits. */
  private insert(name: string, value: string, entrySize: number): void {
    if (entrySize > this.tableLimit) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.tableLimit - entrySize);
    const seq = this.insertCount;
    const slot = seq & this.ringMask;
    this.names[slot] = name;
    this.values[slot] = value;
    this.insertCount = seq + 1;
    this.count += 1;
    this.tableSize += entrySize;
    const dynamicName = this.dynamicNames.get(name);
    if (dynamicName === undefined) {
      this.dynamicNames.set(name, { values: new Map([[value, seq]]), latestSeq: seq });
    } else {
      dynamicName.values.set(value, seq);
      dynamicName.latestSeq = seq;
    }
  }

  private evictTo(limit: number): void {
    while (this.tableSize > limit) {
      const seq = this.insertCount - this.count;
      const slot = seq & this.ringMask;
      const name = this.names[slot]!;
      const value = this.values[slot]!;
      this.tableSize -= name.length + value.length + ENTRY_OVERHEAD;
      this.names[slot] = '';
      this.values[slot] = '';
      this.count -= 1;
      const dynamicName = this.dynamicNames.get(name);
      if (dynamicName !== undefined && dynamicName.values.get(value) === seq) {
        dynamicName.values.delete(value);
        if (dynamicName.values.size === 0) this.dynamicNames.delete(name);
      }
    }
  }
}
