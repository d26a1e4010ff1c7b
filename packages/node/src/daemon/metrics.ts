import { monitorEventLoopDelay } from "node:perf_hooks";

/**
 * A small Prometheus registry: counters and gauges with optional labels, rendered in the
 * text exposition format (version 0.0.4). Enough for `/metrics`; no dependency.
 */
type LabelSet = Readonly<Record<string, string>>;

interface Series {
  readonly kind: "counter" | "gauge";
  readonly help: string;
  readonly values: Map<string, { labels: LabelSet; value: number }>;
}

export class MetricsRegistry {
  private readonly series = new Map<string, Series>();
  private readonly collectors: (() => void)[] = [];

  counter(name: string, help: string): (delta?: number, labels?: LabelSet) => void {
    const series = this.define(name, "counter", help);
    return (delta = 1, labels = {}) => {
      const key = labelKey(labels);
      const current = series.values.get(key);
      series.values.set(key, { labels, value: (current?.value ?? 0) + delta });
    };
  }

  gauge(name: string, help: string): (value: number, labels?: LabelSet) => void {
    const series = this.define(name, "gauge", help);
    return (value, labels = {}) => {
      series.values.set(labelKey(labels), { labels, value });
    };
  }

  /** Runs before every render, to sample values that are cheaper to read than to push. */
  onCollect(collect: () => void): void {
    this.collectors.push(collect);
  }

  value(name: string, labels: LabelSet = {}): number | undefined {
    return this.series.get(name)?.values.get(labelKey(labels))?.value;
  }

  render(): string {
    for (const collect of this.collectors) collect();
    const lines: string[] = [];
    for (const [name, series] of [...this.series].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`# HELP ${name} ${series.help}`, `# TYPE ${name} ${series.kind}`);
      for (const { labels, value } of series.values.values()) {
        lines.push(`${name}${formatLabels(labels)} ${Number.isFinite(value) ? value : 0}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }

  private define(name: string, kind: Series["kind"], help: string): Series {
    const existing = this.series.get(name);
    if (existing !== undefined) return existing;
    const created: Series = { kind, help, values: new Map() };
    this.series.set(name, created);
    return created;
  }
}

function labelKey(labels: LabelSet): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

function formatLabels(labels: LabelSet): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return "";
  const escaped = entries.map(
    ([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`,
  );
  return `{${escaped.join(",")}}`;
}

/** Exposes event-loop delay (p50/p99/max, ms) as gauges; the delay bounds how tight timeouts may be. */
export function trackEventLoopDelay(registry: MetricsRegistry): () => void {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const gauge = registry.gauge(
    "revoada_event_loop_delay_ms",
    "event-loop delay over the last scrape interval",
  );
  registry.onCollect(() => {
    gauge(histogram.percentile(50) / 1e6, { quantile: "0.5" });
    gauge(histogram.percentile(99) / 1e6, { quantile: "0.99" });
    gauge(histogram.max / 1e6, { quantile: "1" });
    histogram.reset();
  });
  return () => histogram.disable();
}

/**
 * Exposes the process's memory (bytes, sampled at each scrape): resident set, V8 heap used and
 * reserved, memory outside the heap (`external`, `array_buffers`), as docs/scale.md reads them.
 */
export function trackProcessMemory(registry: MetricsRegistry): void {
  const gauge = registry.gauge("revoada_process_memory_bytes", "process memory by kind, at the scrape");
  registry.onCollect(() => {
    const usage = process.memoryUsage();
    gauge(usage.rss, { kind: "rss" });
    gauge(usage.heapUsed, { kind: "heap_used" });
    gauge(usage.heapTotal, { kind: "heap_total" });
    gauge(usage.external, { kind: "external" });
    gauge(usage.arrayBuffers, { kind: "array_buffers" });
  });
}
