/**
 * The bench harness: each bench is a named function returning rows of figures measured in one run,
 * ours side by side with a reference, with their ratio. `npm run bench` runs them all (or those named on
 * the command line) and prints one table. Benchmarks are never timed assertions in the test suite.
 */

export interface BenchRow {
  bench: string;
  metric: string;
  ours: number;
  reference?: number;
  referenceName?: string;
  unit: string;
  /** How to read the ratio, e.g. 'higher is better'. */
  note?: string;
}

export interface Bench {
  name: string;
  description: string;
  /** Run only when named (`npm run bench soak`): too long or too heavy for the default run. */
  onlyWhenNamed?: boolean;
  run(): Promise<BenchRow[]>;
}

function fmt(n: number | undefined): string {
  if (n === undefined) return '-';
  if (Math.abs(n) >= 1000) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

export function renderRows(rows: BenchRow[]): string {
  const header = ['bench', 'metric', 'ours', 'reference', 'ratio', 'unit', 'reference is', 'note'];
  const table = rows.map((r) => [
    r.bench, r.metric, fmt(r.ours), fmt(r.reference),
    r.reference ? (r.ours / r.reference).toFixed(2) + '×' : '-',
    r.unit, r.referenceName ?? '-', r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...table.map(line)].join('\n');
}
