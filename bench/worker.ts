// Worker-thread entry: runs workloads (see workloads/index.ts) on request and posts their figures back.
// One long-lived worker per run: its modules are loaded once, at start.
import { parentPort } from 'node:worker_threads';
import { WORKLOADS, type WorkloadReply, type WorkloadRequest } from './workloads/index.js';

function runOne({ name, args }: WorkloadRequest): WorkloadReply {
  try {
    const fn = WORKLOADS[name] as (...a: unknown[]) => Record<string, number>;
    return { ok: true, result: fn(...args) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const text = String(err?.message ?? err);
    return { ok: false, error: err?.code && !text.startsWith(err.code) ? `${err.code}: ${text}` : text };
  }
}

parentPort!.on('message', (req: WorkloadRequest) => parentPort!.postMessage(runOne(req)));
