/**
 * fuse-native's Fuse, adjusted where the stock class is wrong or slow for us:
 * - _fuseOptions(): fuse-native has no knob for big_writes/max_write/use_ino/negative_timeout, and
 *   without big_writes libfuse2 sends 4 KiB writes (~30 MiB/s). We build the whole -o string.
 * - _op_getxattr/_op_listxattr: the stock versions ignore the caller's buffer size (overflowing a
 *   short buffer instead of ERANGE, and over-reporting list sizes by 128 bytes for macOS).
 */
import { createRequire } from 'node:module';
import type FuseModule from '@cocalc/fuse-native';
import { errnoOf } from '../errors.js';

// fuse-native is CommonJS whose typings say `export default`; load the class itself.
type FuseClass = typeof FuseModule.default;
export type FuseOperations = FuseModule.default.OPERATIONS;
const Fuse = createRequire(import.meta.url)('@cocalc/fuse-native') as FuseClass;

type Signal = (res: number, ...rest: unknown[]) => void;
type XattrValueCb = (err: number, value?: Buffer) => void;
type XattrListCb = (err: number, list?: string[]) => void;

const ERANGE = -errnoOf('ERANGE');
const ENODATA = -errnoOf('ENODATA');

export class MosaicFuse extends Fuse {
  private readonly fuseOptionList: string[];

  constructor(mnt: string, ops: FuseOperations, fuseOptions: string[]) {
    // timeout false: no per-op timeout (flushing a big file may take longer than 15 s).
    super(mnt, ops, { timeout: false } as unknown as FuseModule.default.OPTIONS);
    this.fuseOptionList = fuseOptions;
  }

  _fuseOptions(): string {
    const list = [...this.fuseOptionList];
    if (this.opts.debug) list.push('debug');
    return list.length ? '-o' + list.join(',') : '';
  }

  _op_getxattr(signal: Signal, path: string, name: string, valueBuf: Buffer, _position: number): void {
    const getxattr = this.ops.getxattr as unknown as (p: string, n: string, size: number, cb: XattrValueCb) => void;
    getxattr(path, name, valueBuf.length, (err, value) => {
      if (err) return signal(err, valueBuf.buffer);
      if (!value) return signal(ENODATA, valueBuf.buffer);
      if (valueBuf.length === 0) return signal(value.length, valueBuf.buffer); // size query
      if (value.length > valueBuf.length) return signal(ERANGE, valueBuf.buffer);
      value.copy(valueBuf);
      return signal(value.length, valueBuf.buffer);
    });
  }

  _op_listxattr(signal: Signal, path: string, listBuf: Buffer): void {
    const listxattr = this.ops.listxattr as unknown as (p: string, cb: XattrListCb) => void;
    listxattr(path, (err, list) => {
      if (err || !list) return signal(err || ENODATA, listBuf.buffer);
      let size = 0;
      for (const name of list) size += Buffer.byteLength(name) + 1;
      if (listBuf.length === 0) return signal(size, listBuf.buffer);
      if (size > listBuf.length) return signal(ERANGE, listBuf.buffer);
      let ptr = 0;
      for (const name of list) {
        ptr += listBuf.write(name, ptr);
        listBuf[ptr++] = 0;
      }
      return signal(ptr, listBuf.buffer);
    });
  }

  /** Mount; resolves once the kernel sent FUSE_INIT. */
  mountAsync(): Promise<void> {
    return new Promise((resolve, reject) => this.mount((err: Error | null) => (err ? reject(err) : resolve())));
  }
}
