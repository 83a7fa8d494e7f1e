/**
 * FUSE file handles -> VFS handles. fuse-native carries fh as a positive int32 and treats 0 as
 * "no handle", so we hand out our own small numbers and remember the VFS handle and inode.
 */
import { FsError } from '../errors.js';

export interface OpenFile {
  fh: number;
  ino: number;
}

const MAX_ID = 0x7fffffff;

export class HandleTable {
  private readonly open = new Map<number, OpenFile>();
  private next = 1;

  add(file: OpenFile): number {
    while (this.open.has(this.next)) this.advance();
    const id = this.next;
    this.advance();
    this.open.set(id, file);
    return id;
  }

  get(id: number): OpenFile {
    const f = this.open.get(id);
    if (!f) throw new FsError('EBADF', `no open file with handle ${id}`);
    return f;
  }

  remove(id: number): void {
    this.open.delete(id);
  }

  get size(): number {
    return this.open.size;
  }

  private advance(): void {
    this.next = this.next >= MAX_ID ? 1 : this.next + 1;
  }
}
