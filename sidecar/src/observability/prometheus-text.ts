// Prometheus text exposition format 0.0.4: one HELP/TYPE header per family, escaped label values, histograms.

/** Label pairs; values are escaped on write. Keep label sets small and low-cardinality (no paths, no IPs). */
export type Labels = Readonly<Record<string, string>>;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, extra?: string): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function num(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return Number.isNaN(value) ? 'NaN' : String(value);
}

/**
 * Builds one exposition document. Samples of a family may be added in any order: families are written in
 * first-seen order with their samples grouped, as the format requires. Also renders the plain `/stats` form
 * (`name{labels}: value`, Envoy's admin `/stats` style). Cost: at scrape time only.
 */
export class PrometheusText {
  private readonly families = new Map<string, { type: string; help: string; lines: string[]; plain: string[] }>();

  private family(name: string, type: string, help: string): { lines: string[]; plain: string[] } {
    let family = this.families.get(name);
    if (family === undefined) {
      family = { type, help, lines: [], plain: [] };
      this.families.set(name, family);
    }
    return family;
  }

  counter(name: string, help: string, labels: Labels, value: number): void {
    const f = this.family(name, 'counter', help);
    f.lines.push(`${name}${labelText(labels)} ${num(value)}`);
    f.plain.push(`${name}${labelText(labels)}: ${num(value)}`);
  }

  gauge(name: string, help: string, labels: Labels, value: number): void {
    const f = this.family(name, 'gauge', help);
    f.lines.push(`${name}${labelText(labels)} ${num(value)}`);
    f.plain.push(`${name}${labelText(labels)}: ${num(value)}`);
  }

  /** `buckets[i]` counts observations <= `bounds[i]` (non-cumulative); the last bucket is +Inf. */
  histogram(name: string, help: string, labels: Labels, bounds: readonly number[], buckets: readonly number[], sum: number): void {
    const f = this.family(name, 'histogram', help);
    let cumulative = 0;
    for (let i = 0; i < buckets.length; i++) {
      cumulative += buckets[i] ?? 0;
      const le = i < bounds.length ? num(bounds[i] as number) : '+Inf';
      f.lines.push(`${name}_bucket${labelText(labels, `le="${le}"`)} ${cumulative}`);
    }
    f.lines.push(`${name}_sum${labelText(labels)} ${num(sum)}`);
    f.lines.push(`${name}_count${labelText(labels)} ${cumulative}`);
    f.plain.push(`${name}_count${labelText(labels)}: ${cumulative}`, `${name}_sum${labelText(labels)}: ${num(sum)}`);
  }

  /** The Prometheus text document. */
  toString(): string {
    const out: string[] = [];
    for (const [name, f] of this.families) {
      if (f.lines.length === 0) continue;
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`, ...f.lines);
    }
    return `${out.join('\n')}\n`;
  }

  /** Envoy-admin-like plain text, one `name{labels}: value` per line, sorted. */
  toPlain(): string {
    const out: string[] = [];
    for (const f of this.families.values()) out.push(...f.plain);
    return `${out.sort().join('\n')}\n`;
  }
}
