/**
 * One /dev/fuse connection on node's event loop: the fd is non-blocking and polled by libuv
 * (uv_poll, in the native helper), so each request is read and dispatched on the JS thread with no
 * thread hand-off. Requests are read into a small pool of reusable 1 MiB buffers: a buffer goes
 * back to the pool as soon as its request is parsed, unless the handler still holds it (WRITE
 * data is handed to the file system as a view) — then it returns when the handler releases it.
 */
import { constants } from 'node:os';
import { log } from '../../util/log.js';
import { REQUEST_BUFFER_SIZE } from './abi.js';
import { fusedev, type PollHandle } from './native.js';

const EAGAIN = constants.errno.EAGAIN;
const ENODEV = constants.errno.ENODEV;
const ENOENT = constants.errno.ENOENT;
const EINTR = constants.errno.EINTR;
/** Requests read per wake-up before yielding to the rest of the event loop (poll is level-triggered). */
const MAX_BATCH = 64;
/** Idle buffers kept for reuse; more are allocated while many writes are in flight. */
const POOL_KEEP = 8;

/** A request buffer the handler may keep; call release() when done with it. */
export interface HeldBuffer {
  release(): void;
}

/** Handles one request of `len` bytes in `buf`; return a HeldBuffer's owner by calling hold(). */
export type RequestHandler = (buf: Buffer, len: number, hold: () => HeldBuffer) => void;

export class FuseChannel {
  private readonly dev = fusedev();
  private fd: number;
  private poller: PollHandle | null = null;
  private readonly idle: Buffer[] = [];
  private current: Buffer;
  private closedResolve!: () => void;
  /** Resolves when the kernel ended the connection (unmount) or close() was called. */
  readonly closed: Promise<void>;

  constructor(fd: number, private readonly onRequest: RequestHandler) {
    this.fd = fd;
    this.current = Buffer.allocUnsafe(REQUEST_BUFFER_SIZE);
    this.closed = new Promise((resolve) => { this.closedResolve = resolve; });
  }

  get isOpen(): boolean {
    return this.fd >= 0;
  }

  /** The /dev/fuse fd, or -1 once closed (for notifications written off the JS thread). */
  get fdOrClosed(): number {
    return this.fd;
  }

  start(): void {
    this.poller = this.dev.poll(this.fd, (status) => this.drain(status));
  }

  /** Write one reply (header and payload parts). Returns false if the kernel no longer waits for it. */
  reply(parts: Buffer[]): boolean {
    if (this.fd < 0) return false;
    const n = this.dev.writev(this.fd, parts);
    if (n >= 0) return true;
    if (n === -ENOENT) return false; // the request was interrupted; the kernel dropped it
    if (n === -ENODEV) this.close();
    else log.error({ errno: -n }, 'writing a FUSE reply failed');
    return false;
  }

  close(): void {
    if (this.fd < 0) return;
    if (this.poller) this.dev.stopPoll(this.poller);
    this.poller = null;
    this.dev.close(this.fd);
    this.fd = -1;
    this.closedResolve();
  }

  private drain(status: number): void {
    for (let i = 0; i < MAX_BATCH && this.fd >= 0; i++) {
      const n = this.dev.read(this.fd, this.current);
      if (n === -EAGAIN) {
        if (status < 0) this.close(); // libuv stopped polling after an error: nothing more will come
        return;
      }
      if (n === -EINTR || n === -ENOENT) continue; // ENOENT: the request was interrupted before we read it
      if (n < 0) {
        if (n !== -ENODEV) log.error({ errno: -n }, 'reading /dev/fuse failed; closing the connection');
        this.close();
        return;
      }
      this.dispatch(n);
    }
  }

  private dispatch(len: number): void {
    const buf = this.current;
    let held = false;
    const hold = (): HeldBuffer => {
      held = true;
      let released = false;
      return {
        release: () => {
          if (released) return;
          released = true;
          if (this.idle.length < POOL_KEEP) this.idle.push(buf);
        },
      };
    };
    try {
      this.onRequest(buf, len, hold);
    } finally {
      if (held) this.current = this.idle.pop() ?? Buffer.allocUnsafe(REQUEST_BUFFER_SIZE);
    }
  }
}
