/**
 * Unsolicited messages to the kernel: forget cached attributes/pages of an inode
 * (FUSE_NOTIFY_INVAL_INODE) or a cached name (FUSE_NOTIFY_INVAL_ENTRY), for remote mounts where
 * another client changed something; and put file data into the kernel's page cache
 * (FUSE_NOTIFY_STORE, see readStore.ts).
 *
 * Why a queue on the libuv thread pool: the kernel handles a notify inside write(2) on /dev/fuse,
 * and it may take the inode's lock or page locks there. If a request we are serving holds that
 * lock, a write from the JS thread would wait for a reply that only the JS thread can send (a
 * deadlock; the kernel docs forbid sending notify from within a request handler for that reason).
 * So notifications are queued, coalesced, and written one at a time with fs.write, which runs on a
 * pool thread; the JS thread keeps answering requests meanwhile. One write at a time keeps at most
 * one pool thread parked in the kernel, and keeps stores and invalidations in order: an
 * invalidation queued after a store is written after it.
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

/** fuse_notify_store_out for `size` bytes at `offset` of `ino` (the data goes after it, same write). */
export function encodeStoreHeader(ino: number, offset: number, size: number): Buffer {
  const b = Buffer.alloc(Size.OUT_HEADER + NotifySize.STORE_OUT);
  encodeOutHeader(b.length + size, Notify.STORE, 0n).copy(b, 0);
  writeU64(b, ino, Size.OUT_HEADER);
  writeU64(b, offset, Size.OUT_HEADER + 8);
  b.writeUInt32LE(size, Size.OUT_HEADER + 16);
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

/** One queued message: its parts are written with one writev. */
interface Pending {
  parts: Buffer[];
  /** A store: the inode, and a last check right before writing (false: drop it). */
  store?: { ino: number; stillValid: () => boolean };
}

export class NotifyQueue {
  private readonly pending = new Map<string, Pending>();
  private writing = false;
  private idleWaiters: Array<() => void> = [];
  /** Stores queued or being written, per inode, and who waits for them to be done. */
  private readonly storing = new Map<number, number>();
  private readonly storeWaiters = new Map<number, Array<() => void>>();
  private storesQueued = 0;
  private nextStore = 0;
  /** Notifications written (accepted by the kernel), and dropped as harmless (e.g. unknown inode). */
  sent = 0;
  ignored = 0;
  /** Stores written, and dropped because their inode changed (or the queue was full). */
  stored = 0;
  storesDropped = 0;

  /**
   * `fd()` gives the live /dev/fuse fd, or -1 once the connection is closed. At most `maxStores`
   * stores wait at once (their data is held in memory); more are refused.
   */
  constructor(private readonly fd: () => number, private readonly maxStores = 16) {}

  /** Queue a message; a message with the same key still waiting is replaced (coalesced). */
  push(key: string, msg: Buffer): void {
    if (this.fd() < 0) return;
    this.pending.delete(key); // re-insert at the end: order follows the latest request
    this.pending.set(key, { parts: [msg] });
    if (!this.writing) this.next();
  }

  /**
   * Queue FUSE_NOTIFY_STORE of `data` at `offset` of `ino`. `stillValid` is asked right before the
   * write (on the JS thread); a false answer drops the store. Returns false (nothing queued) when
   * the queue is full or the connection closed.
   */
  pushStore(ino: number, offset: number, data: Buffer, stillValid: () => boolean): boolean {
    if (this.fd() < 0 || this.storesQueued >= this.maxStores) {
      this.storesDropped++;
      return false;
    }
    this.storesQueued++;
    this.storing.set(ino, (this.storing.get(ino) ?? 0) + 1);
    this.pending.set(`s${this.nextStore++}`, { parts: [encodeStoreHeader(ino, offset, data.length), data], store: { ino, stillValid } });
    if (!this.writing) this.next();
    return true;
  }

  hasStores(ino: number): boolean {
    return this.storing.has(ino);
  }

  /** Resolves when no store of `ino` is queued or being written. */
  storesSettled(ino: number): Promise<void> {
    if (!this.storing.has(ino)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.storeWaiters.get(ino);
      if (list) list.push(resolve);
      else this.storeWaiters.set(ino, [resolve]);
    });
  }

  /** Resolves when every queued notification has been written (tests, orderly shutdown). */
  idle(): Promise<void> {
    if (!this.writing && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private next(): void {
    const fd = this.fd();
    let first = this.pending.entries().next();
    // Stores whose inode changed since their data was read are dropped here, before the write.
    while (!first.done && fd >= 0 && first.value[1].store && !first.value[1].store.stillValid()) {
      this.pending.delete(first.value[0]);
      this.storesDropped++;
      this.storeDone(first.value[1].store.ino);
      first = this.pending.entries().next();
    }
    if (first.done || fd < 0) {
      for (const p of this.pending.values()) if (p.store) this.storeDone(p.store.ino);
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
    fs.writev(fd, msg.parts, (err) => {
      if (!err) {
        if (msg.store) this.stored++;
        else this.sent++;
      } else if (HARMLESS.has(err.code ?? '')) this.ignored++;
      else log.warn({ err: err.message, key }, 'FUSE notification failed');
      if (msg.store) this.storeDone(msg.store.ino);
      this.next();
    });
  }

  private storeDone(ino: number): void {
    this.storesQueued--;
    const left = (this.storing.get(ino) ?? 1) - 1;
    if (left > 0) {
      this.storing.set(ino, left);
      return;
    }
    this.storing.delete(ino);
    const waiters = this.storeWaiters.get(ino);
    this.storeWaiters.delete(ino);
    for (const w of waiters ?? []) w();
  }
}
