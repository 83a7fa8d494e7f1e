/**
 * -o read_store (default): after a READ the rest of its 64 KiB window goes into the kernel page
 * cache (FUSE_NOTIFY_STORE). Real mounts, real volumes: what a reader sees must always be the
 * file, whatever was stored before a write, a truncate or a change behind the kernel's back.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FUSE_ROOT_ID } from '../../../src/fuse/kernel/abi.js';
import { parseMountOptions } from '../../../src/fuse/mountOptions.js';
import { ROOT_CTX, type VfsApi } from '../../../src/vfs/types.js';
import { mountKernel, overrideVfs, type KernelMount } from './harness.js';

/**
 * rr.py FILE SEED [BATCH]: 4 KiB preads of every page of FILE in a shuffled order (readahead off:
 * POSIX_FADV_RANDOM), reassembled; prints the sha256 of the result and the file size.
 */
const RANDOM_READER = `
import hashlib, os, random, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
size = os.fstat(fd).st_size
pages = list(range((size + 4095) // 4096))
random.Random(int(sys.argv[2])).shuffle(pages)
out = bytearray(size)
for p in pages:
    b = os.pread(fd, 4096, p * 4096)
    out[p * 4096:p * 4096 + len(b)] = b
print(hashlib.sha256(out).hexdigest(), size)
`;

/** Deterministic contents: no two 4 KiB pages alike. */
function pattern(size: number, salt = 0): Buffer {
  const b = Buffer.alloc(size + 4);
  for (let i = 0; i < size; i += 4) b.writeUInt32LE(((i * 2654435761) ^ salt) >>> 0, i);
  return b.subarray(0, size);
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

interface ReadCounter {
  reads: number;
  /** When set: the next read gets its data at once but answers only this many ms later. */
  holdNextMs?: number;
}

/** Counts vfs.read calls (each READ the kernel sends is at least one); can hold one read's answer back. */
function countReads(vfs: VfsApi, counter: ReadCounter): VfsApi {
  return overrideVfs(vfs, {
    read: async (...a) => {
      counter.reads++;
      const hold = counter.holdNextMs;
      counter.holdNextMs = undefined;
      const data = await vfs.read(...a);
      if (hold) await new Promise((r) => setTimeout(r, hold));
      return data;
    },
  });
}

/** Write a file straight through the VFS (behind the kernel: nothing of it is in the page cache). */
async function putFile(vfs: VfsApi, name: string, data: Buffer): Promise<number> {
  const { fh, attr } = await vfs.create(ROOT_CTX, FUSE_ROOT_ID, name, 0o100644, constants.O_WRONLY);
  await vfs.write(ROOT_CTX, fh, 0, data);
  await vfs.release(ROOT_CTX, fh);
  return attr.ino;
}

describe('kernel binding: page-cache stores after reads (read_store)', () => {
  let m: KernelMount;
  let tools: string;
  const counter: ReadCounter = { reads: 0 };
  const rr = () => path.join(tools, 'rr.py');

  before(async () => {
    tools = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-rs-'));
    await writeFile(path.join(tools, 'rr.py'), RANDOM_READER);
    m = await mountKernel({ wrap: (vfs) => countReads(vfs, counter) });
  });
  after(async () => {
    await m?.dispose();
    if (tools) await rm(tools, { recursive: true, force: true });
  });

  it('is on by default and -o no_read_store turns it off', () => {
    assert.equal(parseMountOptions([]).readStore, true);
    assert.equal(parseMountOptions(['no_read_store']).readStore, false);
    assert.equal(parseMountOptions(['no_read_store,read_store']).readStore, true);
  });

  it('random 4 KiB reads return the file, and most pages come from stores, not READs', async () => {
    const data = pattern(1024 * 1024 + 1234); // 257 pages, the last one partial
    await putFile(m.volume.vfs, 'r1', data);
    const before = { ...m.adapter.pageStores };
    counter.reads = 0;
    assert.equal(await m.sh(`python3 ${rr()} r1 1`), `${sha(data)} ${data.length}\n`);
    assert.ok(m.adapter.pageStores.stored > before.stored, 'stores were written');
    // Without stores every one of the 257 pages is a READ; with them about one per 64 KiB window.
    assert.ok(counter.reads < 257 / 2, `${counter.reads} READs for 257 random pages`);
    // Everything is cached now: reading again costs no READ and gives the same bytes.
    counter.reads = 0;
    assert.equal(await m.sh(`python3 ${rr()} r1 2`), `${sha(data)} ${data.length}\n`);
  });

  it('a write through another handle after random reads is what the reader sees next', async () => {
    const data = pattern(512 * 1024, 7);
    await putFile(m.volume.vfs, 'r2', data);
    const py = [
      'import os, random',
      "fd = os.open('r2', os.O_RDONLY)",
      'os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)',
      'pages = list(range(128)); random.Random(3).shuffle(pages)',
      'for p in pages: os.pread(fd, 4096, p * 4096)',
      "w = os.open('r2', os.O_WRONLY)",
      "os.pwrite(w, b'NEW1' * 1024, 70000); os.pwrite(w, b'NEW2', 4096 * 100 + 17)",
      'os.close(w)',
      'print(os.pread(fd, 8, 70000 - 2).hex(), os.pread(fd, 6, 4096 * 100 + 16).hex())',
    ].join('\n');
    await writeFile(path.join(tools, 'w.py'), py);
    const out = await m.sh(`python3 ${path.join(tools, 'w.py')}`);
    const expect = Buffer.from(data);
    Buffer.from('NEW1'.repeat(1024)).copy(expect, 70000);
    Buffer.from('NEW2').copy(expect, 4096 * 100 + 17);
    assert.equal(out, `${expect.subarray(70000 - 2, 70000 + 6).toString('hex')} ${expect.subarray(4096 * 100 + 16, 4096 * 100 + 22).toString('hex')}\n`);
    assert.equal(await m.sh(`python3 ${rr()} r2 4`), `${sha(expect)} ${expect.length}\n`);
  });

  // The next two race a READ whose data was read before a change but answered after it: the
  // window's store must not land (it would plant the old bytes, or grow the file back). The reader
  // keeps its descriptor, so what it reads next comes from the page cache the store would fill.
  const racer = (file: string, change: string, report: string) => [
    'import hashlib, os, threading, time',
    `fd = os.open('${file}', os.O_RDONLY)`,
    'os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)',
    't = threading.Thread(target=lambda: os.pread(fd, 4096, 0))',
    't.start()',
    'time.sleep(0.2)', // the READ of page 0 is in the daemon, its answer held back
    change,
    't.join()',
    'time.sleep(0.3)', // room for a wrong store to land before we look
    report,
  ].join('\n');

  it('a write while a READ of the same window is answered late: the written bytes win', async () => {
    const data = pattern(128 * 1024, 15);
    await putFile(m.volume.vfs, 'r6', data);
    await writeFile(path.join(tools, 'race.py'), racer('r6',
      "w = os.open('r6', os.O_WRONLY); os.pwrite(w, b'XXXX', 8192); os.close(w)",
      'print(os.pread(fd, 6, 8190).hex(), hashlib.sha256(os.pread(fd, 1 << 20, 0)).hexdigest())'));
    counter.holdNextMs = 600;
    const out = await m.sh(`python3 ${path.join(tools, 'race.py')}`);
    const expect = Buffer.from(data);
    expect.write('XXXX', 8192);
    assert.equal(out, `${expect.subarray(8190, 8196).toString('hex')} ${sha(expect)}\n`);
  });

  it('a truncate while a READ of the same window is answered late: the file stays short', async () => {
    const data = pattern(128 * 1024, 16);
    await putFile(m.volume.vfs, 'r7', data);
    await writeFile(path.join(tools, 'race.py'), racer('r7', "os.truncate('r7', 1000)",
      // 8 KiB: a read inside the kernel's i_size does not ask us for the size first
      'b = os.pread(fd, 8192, 0); print(len(b), hashlib.sha256(b).hexdigest(), os.fstat(fd).st_size)'));
    counter.holdNextMs = 600;
    const out = await m.sh(`python3 ${path.join(tools, 'race.py')}`);
    assert.equal(out, `1000 ${sha(data.subarray(0, 1000))} 1000\n`);
  });

  it('truncate (by path, no open handle) then read: the short file, then zeros after growing it again', async () => {
    const data = pattern(300 * 1024, 9);
    await putFile(m.volume.vfs, 'r3', data);
    assert.equal(await m.sh(`python3 ${rr()} r3 5`), `${sha(data)} ${data.length}\n`);
    await m.sh('truncate -s 100000 r3');
    assert.equal(await m.sh(`python3 ${rr()} r3 6`), `${sha(data.subarray(0, 100000))} 100000\n`);
    await m.sh('truncate -s 200000 r3');
    const grown = Buffer.concat([data.subarray(0, 100000), Buffer.alloc(100000)]);
    assert.equal(await m.sh(`python3 ${rr()} r3 7`), `${sha(grown)} 200000\n`);
  });

  it('a change behind the kernel is seen after the inode is invalidated, whatever was stored', async () => {
    const data = pattern(256 * 1024, 11);
    const ino = await putFile(m.volume.vfs, 'r4', data);
    assert.equal(await m.sh(`python3 ${rr()} r4 8`), `${sha(data)} ${data.length}\n`);
    const changed = pattern(256 * 1024, 12);
    const { fh } = await m.volume.vfs.open(ROOT_CTX, ino, constants.O_RDWR);
    await m.volume.vfs.write(ROOT_CTX, fh, 0, changed);
    await m.volume.vfs.release(ROOT_CTX, fh);
    m.adapter.inode(ino);
    await m.adapter.invalidationsDone();
    assert.equal(await m.sh(`python3 ${rr()} r4 9`), `${sha(changed)} ${changed.length}\n`);
  });

  it('several random readers, a sequential reader and a writer of another file at once: no deadlock, right bytes', async () => {
    const data = pattern(2 * 1024 * 1024, 13);
    await putFile(m.volume.vfs, 'r5', data);
    const readers = [1, 2, 3, 4].map((seed) => m.sh(`python3 ${rr()} r5 ${seed}`));
    const sequential = m.sh('sha256sum r5');
    const writer = m.sh('i=0; while [ $i -lt 20 ]; do dd if=r5 of=copy$i bs=64k count=4 status=none; i=$((i+1)); done; cat copy* | wc -c');
    const out = await Promise.all([...readers, sequential, writer]);
    for (let i = 0; i < 4; i++) assert.equal(out[i], `${sha(data)} ${data.length}\n`);
    assert.equal(out[4], `${sha(data)}  r5\n`);
    assert.equal(out[5].trim(), String(20 * 256 * 1024));
  });
});

describe('kernel binding: -o no_read_store', () => {
  let m: KernelMount;
  let tools: string;
  const counter: ReadCounter = { reads: 0 };

  before(async () => {
    tools = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-rs-'));
    await writeFile(path.join(tools, 'rr.py'), RANDOM_READER);
    m = await mountKernel({ options: 'no_read_store', wrap: (vfs) => countReads(vfs, counter) });
  });
  after(async () => {
    await m?.dispose();
    if (tools) await rm(tools, { recursive: true, force: true });
  });

  it('every random 4 KiB read is a READ, and no store is written', async () => {
    const data = pattern(256 * 1024, 21);
    await putFile(m.volume.vfs, 'n1', data);
    counter.reads = 0;
    assert.equal(await m.sh(`python3 ${path.join(tools, 'rr.py')} n1 1`), `${sha(data)} ${data.length}\n`);
    assert.equal(counter.reads, 64);
    assert.equal(m.adapter.pageStores.stored, 0);
  });
});
