/**
 * Real mounts of a real mosaicfs Vfs through KernelFuseAdapter (the kernel binding): every check
 * goes through the Linux kernel with ordinary tools run in child processes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { mountKernel, overrideVfs, type KernelMount } from './harness.js';

const run = promisify(execFile);

describe('kernel binding: a mosaicfs volume through the kernel', () => {
  let m: KernelMount;
  before(async () => { m = await mountKernel({ options: 'allow_other' }); });
  after(async () => { await m?.dispose(); });

  it('creates, writes, reads, lists and removes files and directories', async () => {
    assert.equal(await m.sh('mkdir -p a/b && echo hello > a/b/f && cat a/b/f'), 'hello\n');
    assert.equal(await m.sh('echo more >> a/b/f && cat a/b/f'), 'hello\nmore\n');
    assert.equal(await m.sh('ls a/b'), 'f\n');
    assert.equal(await m.sh('stat -c "%F %s" a a/b/f'), 'directory 0\nregular file 11\n');
    assert.equal(await m.sh('mv a/b/f a/g && ls a && cat a/g'), 'b\ng\nhello\nmore\n');
    await m.sh('rm a/g && rmdir a/b a');
    assert.equal(await m.sh('ls -A'), '');
    await assert.rejects(m.sh('cat missing'), /No such file/);
    await assert.rejects(m.sh('mkdir x && echo y > x/f && rmdir x'), /not empty/);
    await m.sh('rm -r x');
  });

  it('symlinks, fifos, truncate, fallocate, SEEK_HOLE and flock', async () => {
    assert.equal(await m.sh('ln -s some/target l && readlink l && stat -c %F l'), 'some/target\nsymbolic link\n');
    assert.equal(await m.sh('mkfifo p && stat -c %F p'), 'fifo\n');
    assert.equal(await m.sh('echo 123456789 > t && truncate -s 4 t && cat t && stat -c %s t'), '1234' + '4\n');
    assert.equal(await m.sh('fallocate -l 100000 fa && stat -c %s fa'), '100000\n');
    const seek = await m.sh(`python3 -c "import os; fd = os.open('t', os.O_RDONLY); print(os.lseek(fd, 1, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE))"`);
    assert.equal(seek, '1 4\n');
    assert.equal(await m.sh('flock t -c "echo locked"'), 'locked\n');
    await m.sh('rm l p t fa');
  });

  it('hard links share st_ino and the link count', async () => {
    const out = await m.sh('echo x > h1 && ln h1 h2 && stat -c "%i %h" h1 h2');
    const [a, b] = out.trim().split('\n');
    assert.equal(a, b);
    assert.match(a, /^\d+ 2$/);
    assert.equal(await m.sh('rm h1 && stat -c %h h2 && cat h2'), '1\nx\n');
    await m.sh('rm h2');
  });

  it('keeps nanosecond times, and touch -a keeps the mtime', async () => {
    const env = 'TZ=UTC';
    await m.sh(`${env} touch -d "2021-03-04 05:06:07.123456789" ts`);
    assert.equal(await m.sh(`${env} stat -c "%x|%y" ts`), '2021-03-04 05:06:07.123456789 +0000|2021-03-04 05:06:07.123456789 +0000\n');
    await m.sh(`${env} touch -a -d "2022-01-01 00:00:00.5" ts`);
    assert.equal(await m.sh(`${env} stat -c "%x|%y" ts`), '2022-01-01 00:00:00.500000000 +0000|2021-03-04 05:06:07.123456789 +0000\n');
    await m.sh(`${env} touch -m ts`);
    const [atime, mtime] = (await m.sh(`${env} stat -c "%x|%y" ts`)).trim().split('|');
    assert.equal(atime, '2022-01-01 00:00:00.500000000 +0000');
    assert.ok(mtime.startsWith(String(new Date().getUTCFullYear())), mtime);
    await m.sh('rm ts');
  });

  it('renameat2 RENAME_EXCHANGE swaps two files; RENAME_NOREPLACE refuses to replace', async () => {
    await m.sh('echo one > x1 && echo two > x2');
    const renameat2 = (flags: number) =>
      `python3 -c "import ctypes, os; libc = ctypes.CDLL(None, use_errno=True); r = libc.syscall(316, -100, b'x1', -100, b'x2', ${flags}); print(r, ctypes.get_errno())"`;
    assert.equal(await m.sh(renameat2(2)), '0 0\n');
    assert.equal(await m.sh('cat x1 x2'), 'two\none\n');
    assert.equal(await m.sh(renameat2(1)), `-1 ${os.constants.errno.EEXIST}\n`);
    assert.equal(await m.sh('cat x1 x2'), 'two\none\n');
    await m.sh('rm x1 x2');
  });

  it('passes the caller\'s uid and gid: a file created by uid 1000 belongs to 1000', async () => {
    await m.sh('mkdir pub && chmod 777 pub');
    await m.sh('echo mine > pub/f && mkdir pub/d', { uid: 1000 });
    assert.equal(await m.sh('stat -c "%u:%g" pub/f pub/d'), '1000:1000\n1000:1000\n');
    await assert.rejects(m.sh('echo no > owned-by-root', { uid: 1000 }), /Permission denied/);
    await m.sh('rm -r pub');
  });

  it('xattrs: values of any size through the size probe, list and remove', async () => {
    const big = 'v'.repeat(3000);
    await m.sh(`echo x > xa && setfattr -n user.small -v hi xa && setfattr -n user.big -v ${big} xa`);
    assert.equal(await m.sh('getfattr --only-values -n user.small xa'), 'hi');
    assert.equal(await m.sh('getfattr --only-values -n user.big xa'), big);
    assert.equal(await m.sh('python3 -c "import os; print(sorted(os.listxattr(\'xa\')))"'), "['user.big', 'user.small']\n");
    await m.sh('setfattr -x user.big xa');
    await assert.rejects(m.sh('getfattr -n user.big xa'), /No such attribute/);
    await m.sh('rm xa');
  });

  it('lists a directory larger than one READDIR buffer, with the right attributes', async () => {
    await m.sh('mkdir big && cd big && for i in $(seq 1 300); do echo $i > "a-rather-long-file-name-to-fill-the-buffer-quickly-$i"; done');
    assert.equal((await m.sh('ls big | wc -l')).trim(), '300');
    assert.equal((await m.sh('ls -l big | grep -c "^-rw"')).trim(), '300');
    assert.equal(await m.sh('cat big/a-rather-long-file-name-to-fill-the-buffer-quickly-300'), '300\n');
    await m.sh('rm -r big');
    assert.equal(await m.sh('ls -A'), '');
  });

  it('sends 1 MiB WRITE requests and keeps data intact under concurrent writers', async () => {
    const local = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-kdata-'));
    try {
      const names = ['d0', 'd1', 'd2', 'd3'];
      for (const [i, n] of names.entries()) await writeFile(path.join(local, n), randomBytes(3 * 1024 * 1024 + 1000 * i + 7));
      m.writes.length = 0;
      await Promise.all(names.map((n) => m.sh(`dd if="${path.join(local, n)}" of=${n} bs=1M status=none`)));
      assert.ok(m.writes.includes(1024 * 1024), `largest WRITE was ${Math.max(...m.writes)}`);
      assert.ok(m.writes.every((n) => n <= 1024 * 1024));
      for (const n of names) await m.sh(`cmp "${path.join(local, n)}" ${n}`);
      await m.sh(`rm ${names.join(' ')}`);
    } finally {
      await rm(local, { recursive: true, force: true });
    }
  });
});

describe('kernel binding: permissions checked by the VFS with supplementary groups', () => {
  let m: KernelMount;
  before(async () => { m = await mountKernel({ options: 'allow_other,no_default_permissions' }); });
  after(async () => { await m?.dispose(); });

  it('a member of the directory\'s group (by supplementary group only) may create, others may not', async () => {
    await m.sh('mkdir team && chown 0:2000 team && chmod 770 team');
    await m.sh('echo in > team/f', { uid: 1000, groups: [2000] });
    assert.equal(await m.sh('stat -c "%u:%g" team/f'), '1000:1000\n');
    await assert.rejects(m.sh('echo out > team/g', { uid: 1000 }), /Permission denied/);
  });
});

describe('kernel binding: concurrency', () => {
  let m: KernelMount;
  let slow = false;
  before(async () => {
    m = await mountKernel({
      options: 'attr_timeout=0,entry_timeout=0,no_auto_cache',
      wrap: (vfs) => overrideVfs(vfs, {
        read: async (...args) => {
          if (slow) await new Promise((r) => setTimeout(r, 2000));
          return vfs.read(...args);
        },
      }),
    });
  });
  after(async () => { await m?.dispose(); });

  it('a slow read does not hold up a getattr', async () => {
    await m.sh('echo slow > s && echo quick > q');
    slow = true;
    try {
      const started = Date.now();
      const reading = m.sh('cat s').then((out) => ({ out, ms: Date.now() - started }));
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      assert.equal(await m.sh('stat -c %s q'), '6\n');
      const statMs = Date.now() - t0;
      const { out, ms } = await reading;
      assert.equal(out, 'slow\n');
      assert.ok(ms >= 1900, `the read took ${ms} ms: the slow path was not exercised`);
      assert.ok(statMs < 1000, `stat took ${statMs} ms while a read was pending`);
    } finally {
      slow = false;
    }
  });
});

describe('kernel binding: lifecycle', () => {
  it('an external fusermount3 -u resolves the adapter\'s unmounted promise', async () => {
    const m = await mountKernel();
    try {
      assert.equal(await m.sh('echo x > f && cat f'), 'x\n');
      await run('fusermount3', ['-u', m.mnt]);
      const outcome = await Promise.race([m.adapter.unmounted.then(() => 'unmounted'), new Promise((r) => setTimeout(() => r('timeout'), 5000))]);
      assert.equal(outcome, 'unmounted');
      const { stdout } = await run('sh', ['-c', `grep -c " ${m.mnt} " /proc/mounts || true`]);
      assert.equal(stdout.trim(), '0');
    } finally {
      await m.dispose();
    }
  });

  it('unmount() waits for the kernel to close the connection', async () => {
    const m = await mountKernel();
    try {
      await m.adapter.unmount();
      const outcome = await Promise.race([m.adapter.unmounted.then(() => 'unmounted'), new Promise((r) => setTimeout(() => r('pending'), 100))]);
      assert.equal(outcome, 'unmounted');
    } finally {
      await m.dispose();
    }
  });
});
