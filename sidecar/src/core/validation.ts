// Validation results: config problems are values with field paths, never exceptions.

/** One problem found in a piece of config, located by a dotted field path (`clusters[2].connect_timeout`). */
export interface FieldError {
  readonly path: string;
  readonly message: string;
}

/**
 * The outcome of decoding or checking config. `ok: true` carries the value; `ok: false` carries every
 * problem found (decoders collect all of them rather than stopping at the first).
 */
export type Validation<T> =
  | { readonly ok: true; readonly value: T; readonly warnings?: readonly FieldError[] }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

export function valid<T>(value: T, warnings?: readonly FieldError[]): Validation<T> {
  return warnings !== undefined && warnings.length > 0 ? { ok: true, value, warnings } : { ok: true, value };
}

export function invalid<T = never>(errors: readonly FieldError[]): Validation<T> {
  return { ok: false, errors };
}

/** Joins path segments: `joinPath('a', 'b')` = `a.b`, `joinPath('a', 3)` = `a[3]`, `joinPath('', 'b')` = `b`. */
export function joinPath(base: string, segment: string | number): string {
  if (typeof segment === 'number') return `${base}[${segment}]`;
  return base === '' ? segment : `${base}.${segment}`;
}

/** Formats errors one per line, `path: message`, for CLI output and NACK details. */
export function formatErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => (e.path === '' ? e.message : `${e.path}: ${e.message}`)).join('\n');
}

/**
 * Collects errors while a decoder walks a message, so it can report all of them at once.
 * Paths are relative to the collector's base; `at()` makes a child collector for a sub-message
 * that shares the same error list.
 */
export class ErrorCollector {
  private constructor(
    private readonly base: string,
    private readonly sink: FieldError[],
    private readonly warningSink: FieldError[],
  ) {}

  static root(base = ''): ErrorCollector {
    return new ErrorCollector(base, [], []);
  }

  at(segment: string | number): ErrorCollector {
    return new ErrorCollector(joinPath(this.base, segment), this.sink, this.warningSink);
  }

  get path(): string {
    return this.base;
  }

  add(message: string, segment?: string | number): void {
    this.sink.push({ path: segment === undefined ? this.base : joinPath(this.base, segment), message });
  }

  warn(message: string, segment?: string | number): void {
    this.warningSink.push({ path: segment === undefined ? this.base : joinPath(this.base, segment), message });
  }

  addAll(errors: readonly FieldError[], prefix?: string | number): void {
    for (const e of errors) {
      const base = prefix === undefined ? this.base : joinPath(this.base, prefix);
      this.sink.push({ path: e.path === '' ? base : base === '' ? e.path : e.path.startsWith('[') ? base + e.path : `${base}.${e.path}`, message: e.message });
    }
  }

  get errors(): readonly FieldError[] {
    return this.sink;
  }

  get warnings(): readonly FieldError[] {
    return this.warningSink;
  }

  get hasErrors(): boolean {
    return this.sink.length > 0;
  }

  /** Finishes a decode: the value if nothing was wrong, else every error collected. */
  result<T>(value: T): Validation<T> {
    return this.sink.length > 0 ? invalid(this.sink) : valid(value, this.warningSink);
  }
}
