/** Server round-trip times: an exponential moving average and the median of the last samples. */
export class LatencyStats {
  private readonly window: number[] = [];
  private next = 0;
  private ewma = 0;
  count = 0;

  constructor(private readonly size = 256) {}

  add(ms: number): void {
    this.count++;
    this.ewma = this.count === 1 ? ms : this.ewma * 0.9 + ms * 0.1;
    if (this.window.length < this.size) this.window.push(ms);
    else this.window[this.next] = ms;
    this.next = (this.next + 1) % this.size;
  }

  snapshot(): { avgMs: number; p50Ms: number; samples: number } {
    const sorted = [...this.window].sort((a, b) => a - b);
    const p50 = sorted.length === 0 ? 0 : sorted[Math.floor(sorted.length / 2)];
    return { avgMs: round(this.ewma), p50Ms: round(p50), samples: this.count };
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
