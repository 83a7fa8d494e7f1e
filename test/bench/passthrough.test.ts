// The two benchmark passthroughs (bench/passthrough/) on real mounts: each served by its own process,
// as bench/targets/passthroughTarget.ts runs them, over a real folder. Run as root (mount(2)) with
// node --test dist/test/bench/passthrough.test.js
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mountedAt } from '../../bench/proc.js';

const here = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../bench/passthrough');
const SCRIPTS = { kernel: 'kernelPassthrough.js', 'fuse-native': 'fuseNativePassthrough.js' } as const;

async function waitUntil(what: string, ok: () => boolean, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what}: the passthrough exited (${child.exitCode ?? child.signalCode})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: timed out`);
}

for (const binding of ['kernel', 'fuse-native'] as const) {
  describe(`passthrough on ${binding}`, () => {
    let root = '';
    let src = '';
    let mnt = '';
    let child: ChildProcess;
    let stderr = '';

    before(async () => {
      root = fs.mkdtempSync(path.join(os.tmpdir(), `passthrough-${binding}-`));
      src = path.join(root, 'src');
      mnt = path.join(root, 'mnt');
      fs.mkdirSync(src);
      fs.mkdirSync(mnt);
      child = spawn(process.execPath, [path.join(here, SCRIPTS[binding]), src, mnt], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
      await waitUntil('mount', () => mountedAt(mnt) !== undefined, child);
    });

    after(async () => {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      if (mountedAt(mnt) !== undefined) spawnSync('umount', ['-l', mnt]);
      if (root && mountedAt(mnt) === undefined) fs.rmSync(root, { recursive: true, force: true });
    });

    it('small files: create, stat, read and delete reach the source folder', () => {
      const dir = path.join(mnt, 'small');
      fs.mkdirSync(dir);
      for (let i = 0; i < 50; i++) {
        const fd = fs.openSync(path.join(dir, `f${i}`), 'wx');
        fs.writeSync(fd, Buffer.alloc(4096 + i, i));
        fs.closeSync(fd);
      }
      assert.throws(() => fs.openSync(path.join(dir, 'f7'), 'wx'), { code: 'EEXIST' });
      assert.throws(() => fs.statSync(path.join(dir, 'missing')), { code: 'ENOENT' });
      for (let i = 0; i < 50; i++) {
        assert.equal(fs.statSync(path.join(dir, `f${i}`)).size, 4096 + i);
        assert.deepEqual(fs.readFileSync(path.join(dir, `f${i}`)), Buffer.alloc(4096 + i, i));
        assert.deepEqual(fs.readFileSync(path.join(src, 'small', `f${i}`)), Buffer.alloc(4096 + i, i));
      }
      for (let i = 0; i < 50; i++) fs.unlinkSync(path.join(dir, `f${i}`));
      assert.deepEqual(fs.readdirSync(path.join(src, 'small')), []);
      fs.rmdirSync(dir);
    });

    it('reads reach the file system (direct I/O), not the page cache', () => {
      const file = path.join(mnt, 'direct.bin');
      fs.writeFileSync(file, Buffer.alloc(64 * 1024, 'a'));
      const fd = fs.openSync(file, 'r');
      try {
        const buf = Buffer.alloc(4096);
        fs.readSync(fd, buf, 0, buf.length, 8192);
        assert.equal(buf.toString('latin1', 0, 4), 'aaaa');
        // Change the bytes behind the mount's back, same size and mtime: only a read that reaches
        // the passthrough sees them; a page-cache hit would still return 'a'.
        const backing = path.join(src, 'direct.bin');
        const { atime, mtime } = fs.statSync(backing);
        fs.writeFileSync(backing, Buffer.alloc(64 * 1024, 'b'));
        fs.utimesSync(backing, atime, mtime);
        fs.readSync(fd, buf, 0, buf.length, 8192);
        assert.equal(buf.toString('latin1', 0, 4), 'bbbb');
      } finally {
        fs.closeSync(fd);
      }
      fs.unlinkSync(file);
    });

    it('random 4 KiB reads return the bytes of the source', () => {
      const data = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
      fs.writeFileSync(path.join(mnt, 'random.bin'), data);
      const fd = fs.openSync(path.join(mnt, 'random.bin'), 'r');
      try {
        const buf = Buffer.alloc(4096);
        for (let k = 0; k < 64; k++) {
          const off = ((k * 97) % 256) * 4096;
          assert.equal(fs.readSync(fd, buf, 0, 4096, off), 4096);
          assert.deepEqual(buf, data.subarray(off, off + 4096));
        }
      } finally {
        fs.closeSync(fd);
      }
      assert.deepEqual(fs.readFileSync(path.join(src, 'random.bin')), data);
      fs.unlinkSync(path.join(mnt, 'random.bin'));
    });

    it('concurrent reads of different files each get their own bytes', async () => {
      const files = Array.from({ length: 6 }, (_, i) => ({ name: path.join(mnt, `c${i}.bin`), data: Buffer.alloc(3 * 1024 * 1024 + i * 4096, 65 + i) }));
      for (const f of files) fs.writeFileSync(f.name, f.data);
      // The libuv pool issues these at once, so several READs are in flight on the mount.
      for (let round = 0; round < 3; round++) {
        const got = await Promise.all(files.map((f) => fs.promises.readFile(f.name)));
        got.forEach((g, i) => assert.ok(g.equals(files[i].data), `file ${i}, round ${round}`));
      }
      for (const f of files) fs.unlinkSync(f.name);
    });

    it('a listing spanning several READDIR requests has every name once, with types known to readdir', () => {
      const dir = path.join(mnt, 'many');
      fs.mkdirSync(dir);
      const names: string[] = [];
      for (let i = 0; i < 400; i++) {
        const name = `entry-with-a-longish-name-${String(i).padStart(4, '0')}`;
        names.push(name);
        fs.writeFileSync(path.join(dir, name), '');
      }
      fs.mkdirSync(path.join(dir, 'sub'));
      fs.symlinkSync('sub', path.join(dir, 'link'));
      const listed = fs.readdirSync(dir, { withFileTypes: true });
      assert.deepEqual(listed.map((e) => e.name).sort(), [...names, 'link', 'sub'].sort());
      assert.equal(listed.find((e) => e.name === 'sub')!.isDirectory(), true);
      assert.equal(listed.find((e) => e.name === 'link')!.isSymbolicLink(), true);
      assert.equal(listed.find((e) => e.name === names[123])!.isFile(), true);
      assert.deepEqual(fs.readdirSync(dir).sort(), fs.readdirSync(path.join(src, 'many')).sort());
      fs.rmSync(dir, { recursive: true });
      assert.equal(fs.existsSync(path.join(src, 'many')), false);
    });

    it('rename and truncate go through to the source folder', () => {
      fs.writeFileSync(path.join(mnt, 'a.txt'), 'hello world');
      fs.renameSync(path.join(mnt, 'a.txt'), path.join(mnt, 'b.txt'));
      fs.truncateSync(path.join(mnt, 'b.txt'), 5);
      assert.equal(fs.readFileSync(path.join(src, 'b.txt'), 'utf8'), 'hello');
      assert.equal(fs.readFileSync(path.join(mnt, 'b.txt'), 'utf8'), 'hello');
      assert.equal(fs.existsSync(path.join(src, 'a.txt')), false);
      fs.unlinkSync(path.join(mnt, 'b.txt'));
      assert.equal(stderr.includes('Error'), false, stderr);
    });
  });
}
