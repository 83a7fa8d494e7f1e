/**
 * Unsolicited messages to the kernel: forget cached attributes/pages of an inode
 * (FUSE_NOTIFY_INVAL_INODE) or a cached name (FUSE_NOTIFY_INVAL_ENTRY), for remote mounts where
 * another client changed something.
 *
 * Why a queue on the libuv thread pool: the kernel handles a notify inside write(2) on /dev/fuse,
 * and it may take the inode's lock or page locks there. If a request we are serving holds that
 * lock, a write from the JS thread would wait for a reply that only the JS thread can send (a
 * deadlock; the kernel docs forbid sending notify from within a request handler for that reason).
 * So notifications are queued, coalesced, and written one at a time with fs.write, which runs on a
 * pool thread; the JS thread keeps answering requests meanwhile. One write at a time keeps at most
 * one pool thread parked in the kernel.
 */
import * as fs from 'node:fs';
import { log } from '../../util/log.js';
import { Notify, NotifySize, Size } from './abi.js';
import { encodeOutHeader, writeI64, writeU64 } from './wire.js';

export function encodeInvalInode(ino: number, off = 0, len = 0): Buffer {
  const b = Buffer.alloc(Size.OUT_HEADER + NotifySize.INVAL_INODE_OUT);
  encodeOutHeader(b.length, Notify.INVAL_INODE, 0n).copy(b, 0);
  writeU64(b, ino, Size.OUT_HEADER);
  writeI64(b, off, Size.OUT_HEADER + 8); // off >= 0: drop cached pages from here (len <= 0: to the end)
  writeI64(b, len, Size.OUT_HEADER + 16);
  return b;
}

export function encodeInvalEntry(parent: number, name: string): Buffer {
  const nameBytes = Buffer.from(name);
  const b = Buffer.alloc(Size.OUT_HEADER + NotifySize.INVAL_ENTRY_OUT + nameBytes.length + 1);
  encodeOutHeader(b.length, Notify.INVAL_ENTRY, 0n).copy(b, 0);
  writeU64(b, parent, Size.OUT_HEADER);
  b.writeUInt32LE(nameBytes.length, Size.OUT_HEADER + 8);
  b.writeUInt32LE(0, Size.OUT_HEADER + 12); // flags: 0 = drop the entry (not FUSE_EXPIRE_ONLY)
  nameBytes.copy(b, Size.OUT_HEADER + NotifySize.INVAL_ENTRY_OUT); // NUL after it: Buffer.alloc zeroed it
  return b;
}

/** Errors of a notify write that only mean "nothing to invalidate" or "connection gone". */
const HARMLESS = new Set(['ENOENT', 'ENOTDIR', 'ENODEV', 'EBADF', 'ENOTCONN']);

export class NotifyQueue {
  private readonly pending = new Map<string, Buffer>();
  private writing = false;
  private idleWaiters: Array<() => void> = [];
  /** Notifications written (accepted by the kernel), and dropped as harmless (e.g. unknown inode). */
  sent = 0;
  ignored = 0;

  /** `fd()` gives the live /dev/fuse fd, or -1 once the connection is closed. */
  constructor(private readonly fd: () => number) {}

  /** Queue a message; a message with the same key still waiting is replaced (coalesced). */
  push(key: string, msg: Buffer): void {
    if (this.fd() < 0) return;
    this.pending.delete(key); // re-insert at the end: order follows the latest request
    this.pending.set(key, msg);
    if (!this.writing) this.next();
  }

  /** Resolves when every queued notification has been written (tests, orderly shutdown). */
  idle(): Promise<void> {
    if (!this.writing && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    const first = this.pending.entries().next();
    const fd = this.fd();
    if (first.done || fd < 0) {
      this.pending.clear();
      this.writing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const [key, msg] = first.value;
    this.pending.delete(key);
    this.writing = true;
    fs.write(fd, msg, 0, msg.length, null, (err) => {
      if (!err) this.sent++;
      else if (HARMLESS.has(err.code ?? '')) this.ignored++;
      else log.warn({ err: err.message, key }, 'FUSE notification failed');
      this.next();
    });
  }
}
