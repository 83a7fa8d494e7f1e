// Runs workloads one at a time in a worker thread, each with a deadline.
import { Worker } from 'node:worker_threads';
import type { WorkloadArgs, WorkloadName, WorkloadReply, WorkloadRequest, WorkloadResult } from './workloads/index.js';

export class WorkloadTimeout extends Error {}

export class WorkloadRunner {
  private worker: Worker | undefined;

  private ensureWorker(): Worker {
    if (!this.worker) {
      this.worker = new Worker(new URL('./worker.js', import.meta.url));
      this.worker.unref();
    }
    return this.worker;
  }

  /**
   * On timeout, onTimeout() must unblock the worker (unmount the target: a syscall
   * stuck in a dead FUSE mount then fails) before the worker is terminated.
   */
  run<N extends WorkloadName>(name: N, args: WorkloadArgs<N>, timeoutMs: number, onTimeout: () => Promise<void>): Promise<WorkloadResult> {
    const worker = this.ensureWorker();
    return new Promise<WorkloadResult>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (reply: WorkloadReply) => {
        cleanup();
        if (reply.ok) resolve(reply.result);
        else reject(new Error(reply.error));
      };
      const onError = (err: Error) => {
        cleanup();
        this.worker = undefined;
        reject(err);
      };
      const onExit = (code: number) => onError(new Error(`${name}: worker exited (${code}) without a result`));
      const timer = setTimeout(() => {
        cleanup();
        this.worker = undefined;
        onTimeout()
          .catch(() => {})
          .finally(() => {
            void worker.terminate();
            reject(new WorkloadTimeout(`${name} exceeded ${Math.round(timeoutMs / 1000)} s`));
          });
      }, timeoutMs);
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.postMessage({ name, args } satisfies WorkloadRequest);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
