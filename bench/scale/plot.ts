/**
 * The scale benchmark's figures as an SVG (no plotting dependency): three panels against N,
 * drawn from the same rows the benchmark writes to bench-results/scale.json. The baseline row
 * (every node a learner) is drawn as a lone marker where present.
 */
interface PlotRow {
  readonly nodes: number;
  readonly learnersMax: number | null;
  readonly gossipBytesPerNodeMean: number;
  readonly relayBytesPerNodeMean: number;
  readonly leaderCpuMsPerCommit: number;
  readonly leaderRaftMessagesPerCommit: number;
  readonly rendered99P99Ms: number;
  readonly renderedAllP99Ms: number;
}

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly points: readonly (readonly [number, number])[];
}

const panelWidth = 300;
const panelHeight = 200;
const margin = { left: 56, right: 12, top: 28, bottom: 36 };

export function drawScaleSvg(rows: readonly PlotRow[]): string {
  const bounded = rows.filter((row) => row.learnersMax !== null).sort((a, b) => a.nodes - b.nodes);
  const baseline = rows.filter((row) => row.learnersMax === null);
  const panels = [
    panel("commit -> rendered, p99 (ms)", [
      series("99% of nodes", "#1f77b4", bounded, (row) => row.rendered99P99Ms),
      series("every node", "#ff7f0e", bounded, (row) => row.renderedAllP99Ms),
      series("every node, all learners", "#d62728", baseline, (row) => row.renderedAllP99Ms),
    ]),
    panel("leader per commit", [
      series("CPU (ms)", "#1f77b4", bounded, (row) => row.leaderCpuMsPerCommit),
      series("Raft messages / 10", "#2ca02c", bounded, (row) => row.leaderRaftMessagesPerCommit / 10),
      series("CPU, all learners", "#d62728", baseline, (row) => row.leaderCpuMsPerCommit),
      series(
        "messages / 10, all learners",
        "#9467bd",
        baseline,
        (row) => row.leaderRaftMessagesPerCommit / 10,
      ),
    ]),
    panel("bytes/s per node, mean", [
      series("gossip", "#1f77b4", bounded, (row) => row.gossipBytesPerNodeMean),
      series("relay", "#ff7f0e", bounded, (row) => row.relayBytesPerNodeMean),
    ]),
  ];
  return svgOfPanels(
    panels,
    "revoada at 100, 250 and 500 nodes in the simulator: commit to rendered, leader CPU per commit, gossip and relay bytes per node",
    "pnpm bench scale: the whole fabric in the simulator, voters + 4 learners hold the log, the rest follow through the relay (x: nodes)",
  );
}

/** Panels side by side (see `panel`), a title for screen readers and a caption below. */
export function svgOfPanels(
  panels: readonly ((left: number) => string)[],
  title: string,
  caption: string,
): string {
  const width = panels.length * panelWidth;
  const height = panelHeight + 70;
  const body = panels.map((draw, index) => draw(index * panelWidth)).join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    body,
    `<text x="8" y="${height - 6}" fill="#555">${escapeXml(caption)}</text>`,
    "</svg>",
    "",
  ].join("\n");
}

function series(
  label: string,
  color: string,
  rows: readonly PlotRow[],
  value: (row: PlotRow) => number,
): Series {
  return { label, color, points: rows.map((row) => [row.nodes, value(row)] as const) };
}

/** One panel: every series against x from 0, y from 0, a legend under it. */
export function panel(title: string, all: readonly Series[]): (left: number) => string {
  return (left: number) => {
    const drawn = all.filter((item) => item.points.length > 0);
    const xs = drawn.flatMap((item) => item.points.map(([x]) => x));
    const ys = drawn.flatMap((item) => item.points.map(([, y]) => y)).filter(Number.isFinite);
    const xMax = Math.max(1, ...xs) * 1.05;
    const yMax = niceCeiling(Math.max(1e-9, ...ys) * 1.1);
    const plotWidth = panelWidth - margin.left - margin.right;
    const plotHeight = panelHeight - margin.top - margin.bottom;
    const x = (value: number) => left + margin.left + (value / xMax) * plotWidth;
    const y = (value: number) => margin.top + plotHeight - (value / yMax) * plotHeight;
    const parts: string[] = [
      `<text x="${left + margin.left}" y="16" font-weight="bold">${escapeXml(title)}</text>`,
      `<line x1="${x(0)}" y1="${y(0)}" x2="${x(xMax)}" y2="${y(0)}" stroke="#333"/>`,
      `<line x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${y(yMax)}" stroke="#333"/>`,
    ];
    for (const tick of [0, 0.5, 1]) {
      const value = yMax * tick;
      parts.push(
        `<text x="${x(0) - 4}" y="${y(value) + 4}" text-anchor="end">${format(value)}</text>`,
        `<line x1="${x(0)}" y1="${y(value)}" x2="${x(xMax)}" y2="${y(value)}" stroke="#eee"/>`,
      );
    }
    for (const value of [...new Set(xs)]) {
      parts.push(`<text x="${x(value)}" y="${y(0) + 14}" text-anchor="middle">${value}</text>`);
    }
    drawn.forEach((item, index) => {
      const path = item.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(" ");
      if (item.points.length > 1) {
        parts.push(`<polyline points="${path}" fill="none" stroke="${item.color}" stroke-width="2"/>`);
      }
      for (const [px, py] of item.points) {
        parts.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${item.color}"/>`);
      }
      const legendY = panelHeight + 4 + index * 13;
      parts.push(
        `<rect x="${left + margin.left}" y="${legendY - 8}" width="10" height="3" fill="${item.color}"/>`,
        `<text x="${left + margin.left + 14}" y="${legendY}">${escapeXml(item.label)}</text>`,
      );
    });
    return parts.join("\n");
  };
}

function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function format(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 0 : 1)}k`;
  return value >= 10 || value === 0 ? value.toFixed(0) : value.toFixed(1);
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
