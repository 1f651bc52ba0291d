import { HpackError } from './hpack-error';
import { huffmanDecode, huffmanMaxDecodedLength } from './hpack-huffman';
import { STATIC_TABLE_LENGTH, STATIC_TABLE_NAMES, STATIC_TABLE_VALUES } from './hpack-static-table';

/** Receives the decoded fields of one header block, in order. */
export interface HeaderSink {
  header(name: string, value: string): void;
}

/** Node's Buffer has the fast latin1Slice binding (what toString('latin1') ends in); @types/node omits it. */
interface Latin1SliceBuffer {
  latin1Slice(start: number, end: number): string;
}

/** RFC 7541 §4.1: an entry costs its name and value octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** Largest integer we accept (nghttp2 and Envoy cap HPACK integers the same way). */
const MAX_INTEGER = 0x7fffffff;

/**
 * HPACK decoder (RFC 7541) for one HTTP/2 connection direction. The dynamic table is a ring buffer of
 * names/values (newest first); its state persists across header blocks.
 */
export class HpackDecoder {
  private readonly maxTableSize: number;
  /** Size limit the peer last chose with a Dynamic Table Size Update (<= maxTableSize). */
  private tableLimit: number;
  private tableSize = 0;
  private readonly names: string[];
  private readonly values: string[];
  private readonly ringMask: number;
  /** Ring slot of the newest entry. */
  private newest = 0;
  private count = 0;
  /** Read cursor inside decode() (a field rather than a returned pair, so integers allocate nothing). */
  private pos = 0;
  private scratch: Buffer = Buffer.allocUnsafe(256);

  /** maxTableSize = our SETTINGS_HEADER_TABLE_SIZE (default 4096): the peer may not exceed it via size updates. */
  constructor(maxTableSize = 4096) {
    if (!Number.isInteger(maxTableSize) || maxTableSize < 0 || maxTableSize > MAX_INTEGER) {
      throw new RangeError(`invalid HPACK table size ${maxTableSize}`);
    }
    this.maxTableSize = maxTableSize;
    this.tableLimit = maxTableSize;
    let capacity = 1;
    while (capacity < Math.floor(maxTableSize / ENTRY_OVERHEAD) + 1) capacity *= 2;
    this.names = new Array<string>(capacity).fill('');
    this.values = new Array<string>(capacity).fill('');
    this.ringMask = capacity - 1;
  }

  /** Current dynamic table size in octets (RFC 7541 §4.1). For tests and diagnostics. */
  get dynamicTableSize(): number {
    return this.tableSize;
  }

  /** Dynamic table entries, newest first, as [name, value] (index 62 first). For tests and diagnostics. */
  dynamicTableEntries(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (let i = 0; i < this.count; i++) {
      const slot = (this.newest + i) & this.ringMask;
      out.push([this.names[slot]!, this.values[slot]!]);
    }
    return out;
  }

  /**
   * Decodes one complete header block block[start, end), calling sink.header(name, value) per field in
   * order. Throws HpackError on anything malformed. Header names are not validated here (the caller does).
   */
  decode(block: Buffer, start: number, end: number, sink: HeaderSink): void {
    if (end > block.length) throw new RangeError('header block end is past the buffer');
    this.pos = start;
    let sizeUpdateAllowed = true;
    while (this.pos < end) {
      const first = block[this.pos]!;
      if (first >= 0x80) {
        // §6.1 Indexed Header Field.
        const index = this.readInteger(block, end, 7);
        if (index === 0) throw new HpackError('indexed header field with index 0');
        if (index <= STATIC_TABLE_LENGTH) {
          sink.header(STATIC_TABLE_NAMES[index]!, STATIC_TABLE_VALUES[index]!);
        } else {
          const slot = this.dynamicSlot(index);
          sink.header(this.names[slot]!, this.values[slot]!);
        }
        sizeUpdateAllowed = false;
      } else if (first >= 0x40) {
        // §6.2.1 Literal Header Field with Incremental Indexing.
        const name = this.readName(block, end, 6);
        const value = this.readString(block, end);
        this.insert(name, value);
        sink.header(name, value);
        sizeUpdateAllowed = false;
      } else if (first >= 0x20) {
        // §6.3 Dynamic Table Size Update: only at the beginning of a block (§4.2).
        if (!sizeUpdateAllowed) throw new HpackError('dynamic table size update after a header field');
        const size = this.readInteger(block, end, 5);
        if (size > this.maxTableSize) {
          throw new HpackError(`dynamic table size update ${size} exceeds SETTINGS_HEADER_TABLE_SIZE ${this.maxTableSize}`);
        }
        this.tableLimit = size;
        this.evictTo(size);
      } else {
        // §6.2.2 without indexing (0000xxxx) and §6.2.3 never indexed (0001xxxx): same decoding.
        const name = this.readName(block, end, 4);
        const value = this.readString(block, end);
        sink.header(name, value);
        sizeUpdateAllowed = false;
      }
    }
  }

  private dynamicSlot(index: number): number {
    const age = index - STATIC_TABLE_LENGTH - 1;
    if (age >= this.count) throw new HpackError(`header index ${index} is past the table`);
    return (this.newest + age) & this.ringMask;
  }

  private readName(block: Buffer, end: number, prefixBits: number): string {
    const index = this.readInteger(block, end, prefixBits);
    if (index === 0) return this.readString(block, end);
    if (index <= STATIC_TABLE_LENGTH) return STATIC_TABLE_NAMES[index]!;
    return this.names[this.dynamicSlot(index)]!;
  }

  /** §5.1 integer with an N-bit prefix, starting at this.pos. */
  private readInteger(block: Buffer, end: number, prefixBits: number): number {
    const prefixMax = (1 << prefixBits) - 1;
    let value = block[this.pos++]! & prefixMax;
    if (value < prefixMax) return value;
    let multiplier = 1;
    for (let continuation = 0; continuation < 5; continuation++) {
      if (this.pos >= end) throw new HpackError('truncated integer');
      const byte = block[this.pos++]!;
      value += (byte & 0x7f) * multiplier;
      if (value > MAX_INTEGER) throw new HpackError('integer overflow');
      if (byte < 0x80) return value;
      multiplier *= 128;
    }
    throw new HpackError('integer has too many continuation octets');
  }

  /** §5.2 string literal (H bit + 7-bit prefix length), starting at this.pos; latin1, bytes 1:1. */
  private readString(block: Buffer, end: number): string {
    if (this.pos >= end) throw new HpackError('truncated header block: string expected');
    const huffman = block[this.pos]! >= 0x80;
    const length = this.readInteger(block, end, 7);
    const start = this.pos;
    if (length > end - start) throw new HpackError('truncated string literal');
    this.pos = start + length;
    if (!huffman) return (block as unknown as Latin1SliceBuffer).latin1Slice(start, start + length);
    const maxLength = huffmanMaxDecodedLength(length);
    if (this.scratch.length < maxLength) this.scratch = Buffer.allocUnsafe(Math.max(maxLength, this.scratch.length * 2));
    const decodedEnd = huffmanDecode(block, start, start + length, this.scratch, 0);
    return (this.scratch as unknown as Latin1SliceBuffer).latin1Slice(0, decodedEnd);
  }

  /** §4.4: evict from the oldest end until the new entry fits; an entry larger than the limit empties the table. */
  private insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.tableLimit) {
      this.evictTo(0);
      return;
    }
    this.evictTo(this.tableLimit - size);
    this.newest = (this.newest - 1) & this.ringMask;
    this.names[this.newest] = name;
    this.values[this.newest] = value;
    this.count += 1;
    this.tableSize += size;
  }

  private evictTo(limit: number): void {
    while (this.tableSize > limit) {
      const oldest = (this.newest + this.count - 1) & this.ringMask;
      this.tableSize -= this.names[oldest]!.length + this.values[oldest]!.length + ENTRY_OVERHEAD;
      this.names[oldest] = '';
      this.values[oldest] = '';
      this.count -= 1;
    }
  }
}
