// The baseline: a plain folder on the same disk the other targets keep their data on.
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { dropCaches } from '../proc.js';
import type { Target } from './Target.js';

export class LocalTarget implements Target {
  readonly label = 'local';
  readonly description: string;
  private dir: string | undefined;

  constructor(private readonly workRoot: string) {
    this.description = `plain folder under ${workRoot}`;
  }

  async start(): Promise<string> {
    this.dir = await mkdtemp(path.join(this.workRoot, 'local-'));
    return this.dir;
  }

  makeCold(): Promise<boolean> {
    return dropCaches();
  }

  servingPid(): number | undefined {
    return undefined;
  }

  async stop(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true }).catch(() => {});
    this.dir = undefined;
  }
}
