/** Recent latency per replica (exponentially weighted), used to order reads and time hedges. */
export class LatencyTracker {
  private readonly ewma: number[];

  constructor(count: number, private readonly alpha = 0.3) {
    this.ewma = new Array<number>(count).fill(0);
  }

  note(i: number, ms: number): void {
    this.ewma[i] = this.ewma[i] === 0 ? ms : this.ewma[i] * (1 - this.alpha) + ms * this.alpha;
  }

  /** A failure counts as a slow answer, so a failing replica drops to the back of the order. */
  penalize(i: number, ms: number): void {
    this.note(i, Math.max(ms, this.ewma[i] * 2, 1000));
  }

  of(i: number): number {
    return this.ewma[i];
  }

  /** Indices from the best recent latency to the worst (untried ones first, in config order). */
  order(): number[] {
    return this.ewma.map((_, i) => i).sort((a, b) => this.ewma[a] - this.ewma[b] || a - b);
  }
}
