// Every workload the worker thread can run, by name. They use synchronous fs calls
// in a worker so that the orchestrator stays free to time out and tear down a hung mount.
import { seqRead, seqWrite, timeToFirstByte } from './sequential.js';
import { randomRead, randomWrite } from './random.js';
import { smallFiles } from './smallFiles.js';
import { dirTree } from './dirTree.js';
import { tarExtract } from './tarExtract.js';

export const WORKLOADS = {
  seqWrite,
  seqRead,
  timeToFirstByte,
  randomRead,
  randomWrite,
  smallFiles,
  dirTree,
  tarExtract,
};

export type WorkloadName = keyof typeof WORKLOADS;
export type WorkloadArgs<N extends WorkloadName> = Parameters<(typeof WORKLOADS)[N]>;
export type WorkloadResult = Record<string, number>;

export interface WorkloadRequest {
  name: WorkloadName;
  args: unknown[];
}

export type WorkloadReply = { ok: true; result: WorkloadResult } | { ok: false; error: string };
