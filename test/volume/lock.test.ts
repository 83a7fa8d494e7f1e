import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { VolumeError } from '../../src/errors.js';
import { acquireLock, LOCK_FILE, readLock } from '../../src/volume/lock.js';
import { exited, firstLine, spawnScript } from './spawnScript.js';

describe('volume lock', () => {
  const dirs: string[] = [];
  const children: Array<ReturnType<typeof spawnScript>> = [];
  const freshDir = async (): Promise<string> => {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-lock-'));
    dirs.push(d);
    return d;
  };
  const holder = (dir: string, owner: string): ReturnType<typeof spawnScript> => {
    const child = spawnScript('lockHolder', [dir, owner]);
    children.push(child);
    return child;
  };
  after(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await exited(c);
    }
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  it('writes pid, host and owner; readLock finds them; release removes the file', async () => {
    const dir = await freshDir();
    assert.equal(await readLock(dir), null);
    const lock = await acquireLock(dir, 'cli put');
    const info = await readLock(dir);
    assert.ok(info);
    assert.equal(info.pid, process.pid);
    assert.equal(info.host, os.hostname());
    assert.equal(info.owner, 'cli put');
    await lock.release();
    await lock.release();
    assert.equal(await readLock(dir), null);
    assert.deepEqual(await fs.readdir(dir), [], 'no temp files left');
  });

  it('refuses a second holder in the same process, naming the holder', async () => {
    const dir = await freshDir();
    const lock = await acquireLock(dir, 'mount /x/mnt');
    await assert.rejects(acquireLock(dir, 'cli ls'), (err: unknown) => {
      assert.ok(err instanceof VolumeError);
      assert.equal(err.message, `volume ${dir} is in use by pid ${process.pid} (mount /x/mnt)`);
      return true;
    });
    await lock.release();
    const again = await acquireLock(dir, 'cli ls');
    await again.release();
  });

  it('excludes another live process, then lets it go when released', async () => {
    const dir = await freshDir();
    const child = holder(dir, 'mount /y/mnt');
    assert.equal(await firstLine(child), 'locked');
    assert.equal((await readLock(dir))?.pid, child.pid);
    await assert.rejects(acquireLock(dir, 'cli'), new RegExp(`in use by pid ${child.pid} \\(mount /y/mnt\\)`));
    child.stdin.end();
    await exited(child);
    assert.equal(await readLock(dir), null);
    const lock = await acquireLock(dir, 'cli');
    await lock.release();
  });

  it('takes over the lock of a process that died holding it', async () => {
    const dir = await freshDir();
    const child = holder(dir, 'mount /dead');
    assert.equal(await firstLine(child), 'locked');
    child.kill('SIGKILL');
    await exited(child);
    assert.equal((await readLock(dir))?.pid, child.pid, 'the dead holder left its lock behind');
    const lock = await acquireLock(dir, 'cli fsck');
    assert.equal((await readLock(dir))?.owner, 'cli fsck');
    await lock.release();
  });

  it('of several processes racing for a stale lock, exactly one wins', async () => {
    const dir = await freshDir();
    const dead = holder(dir, 'dead');
    assert.equal(await firstLine(dead), 'locked');
    dead.kill('SIGKILL');
    await exited(dead);
    const racers = Array.from({ length: 4 }, (_, i) => holder(dir, `racer ${i}`));
    const lines = await Promise.all(racers.map(firstLine));
    assert.equal(lines.filter((l) => l === 'locked').length, 1, lines.join('\n'));
    assert.ok(lines.filter((l) => l !== 'locked').every((l) => l.startsWith('busy volume')), lines.join('\n'));
    const winner = racers[lines.indexOf('locked')];
    assert.equal((await readLock(dir))?.pid, winner.pid);
    for (const r of racers) r.stdin.end();
    await Promise.all(racers.map(exited));
  });

  it('never takes over a lock from another host', async () => {
    const dir = await freshDir();
    const foreign = { pid: 1, host: `${os.hostname()}-elsewhere`, owner: 'mount /z', since: '', nonce: 'n' };
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify(foreign));
    await assert.rejects(acquireLock(dir, 'cli'), /in use by pid 1 on host .*-elsewhere \(mount \/z\); if that host is down, remove/);
  });

  it('treats an unreadable lock as being written while fresh, and as stale once old', async () => {
    const dir = await freshDir();
    const lockPath = path.join(dir, LOCK_FILE);
    await fs.writeFile(lockPath, '{"pid": 12');
    await assert.rejects(acquireLock(dir, 'cli'), VolumeError);
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lockPath, old, old);
    const lock = await acquireLock(dir, 'cli');
    assert.equal((await readLock(dir))?.owner, 'cli');
    await lock.release();
  });

  it('release leaves alone a lock that is no longer ours', async () => {
    const dir = await freshDir();
    const lock = await acquireLock(dir, 'first');
    const replaced = { pid: process.pid, host: os.hostname(), owner: 'second', since: '', nonce: 'other' };
    await fs.writeFile(path.join(dir, LOCK_FILE), JSON.stringify(replaced));
    await lock.release();
    assert.equal((await readLock(dir))?.owner, 'second');
  });
});
