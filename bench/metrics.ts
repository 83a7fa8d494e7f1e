// The figures a run reports, and how results are shaped in the JSON.

export interface MetricDef {
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  digits: number;
}

export const METRICS = {
  seqWrite: { label: 'sequential write (1 MiB writes + fsync)', unit: 'MiB/s', better: 'higher', digits: 0 },
  seqReadCold: { label: 'sequential read, cold', unit: 'MiB/s', better: 'higher', digits: 0 },
  seqReadWarm: { label: 'sequential read, warm', unit: 'MiB/s', better: 'higher', digits: 0 },
  ttfbCold: { label: 'time to first byte, cold', unit: 'ms', better: 'lower', digits: 2 },
  randRead: { label: '4 KiB random read', unit: 'IOPS', better: 'higher', digits: 0 },
  randWrite: { label: '4 KiB random write (+ fsync)', unit: 'IOPS', better: 'higher', digits: 0 },
  smallCreate: { label: 'small files: create+write', unit: 'files/s', better: 'higher', digits: 0 },
  smallStat: { label: 'small files: stat', unit: 'files/s', better: 'higher', digits: 0 },
  smallRead: { label: 'small files: read', unit: 'files/s', better: 'higher', digits: 0 },
  smallDelete: { label: 'small files: delete', unit: 'files/s', better: 'higher', digits: 0 },
  treeMkdir: { label: 'dir tree: mkdir', unit: 'ops/s', better: 'higher', digits: 0 },
  treeList: { label: 'dir tree: readdir all', unit: 'dirs/s', better: 'higher', digits: 0 },
  treeRename: { label: 'dir tree: rename top', unit: 'ops/s', better: 'higher', digits: 0 },
  treeRemove: { label: 'dir tree: rmdir all', unit: 'ops/s', better: 'higher', digits: 0 },
  tarExtract: { label: 'tar -xf of the source tarball', unit: 's', better: 'lower', digits: 2 },
  rssPeak: { label: 'mount process peak RSS while writing the big file', unit: 'MiB', better: 'lower', digits: 0 },
} satisfies Record<string, MetricDef>;

export type MetricId = keyof typeof METRICS;
export const METRIC_IDS = Object.keys(METRICS) as MetricId[];

export interface TargetResult {
  label: string;
  description: string;
  /** Set when the target could not be started at all. */
  unavailable?: string;
  values: Partial<Record<MetricId, number>>;
  /** Why a metric has no value (error, skipped, not applicable). */
  missing: Partial<Record<MetricId, string>>;
  /** e.g. "--vfs-cache-mode writes" when the value came from a fallback mount. */
  notes: Partial<Record<MetricId, string>>;
  /** False when the page cache could not be dropped (not root): "cold" figures are then warm-ish. */
  coldCachesDropped: boolean;
  seconds: number;
}

/** How many times as good as the reference (>1 = better), whatever the metric's direction. */
export function speedRatio(id: MetricId, value: number | undefined, reference: number | undefined): number | undefined {
  if (value === undefined || reference === undefined || value <= 0 || reference <= 0) return undefined;
  return METRICS[id].better === 'higher' ? value / reference : reference / value;
}
