/**
 * ControlFolder over a real VFS (SQLite + local blocks): the reserved folder's namespace rules and
 * its files, with a recording session in place of a server (the mount tests use a real one).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FsError } from '../../src/errors.js';
import { S_IFREG } from '../../src/meta/MetaStore.js';
import { CONTROL_DIR_INO, CONTROL_NAME, ControlFolder, type ControlSession } from '../../src/vfs/ControlFolder.js';
import { ALICE, makeVolume, rejectsWith, ROOT, type TempVolume } from '../vfs/harness.js';

const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;

class FakeSession implements ControlSession {
  readonly url = 'http://127.0.0.1:1';
  readonly user = 'alice';
  logins: string[] = [];
  logouts = 0;
  loggedIn = true;
  whoami() {
    if (!this.loggedIn) throw new Error('not logged in');
    return { user: 'alice', server: this.url, expiresAt: Date.UTC(2030, 0, 1) };
  }
  stats() {
    return { cache: { hits: 7, misses: 2 }, bytesUp: 100, bytesDown: 50, uploadQueue: 0, latencyMs: { median: 0.4 } };
  }
  async login(password: string) {
    this.logins.push(password);
    if (password !== 'right') throw Object.assign(new Error('wrong password'), { status: 401 });
    this.loggedIn = true;
  }
  async logout() {
    this.logouts++;
    this.loggedIn = false;
  }
}

describe('ControlFolder (.mosaicfs) over a real VFS', () => {
  let v: TempVolume;
  let cf: ControlFolder;
  let s: FakeSession;
  before(async () => {
    v = await makeVolume();
    s = new FakeSession();
    cf = new ControlFolder(v.vfs, s, { uid: 1000, gid: 1000 });
  });
  after(async () => { await v?.dispose(); });

  async function readAll(ctx: typeof ROOT, name: string): Promise<string> {
    const a = await cf.lookup(ctx, CONTROL_DIR_INO, name);
    const { fh } = await cf.open(ctx, a.ino, O_RDONLY);
    const parts: Buffer[] = [];
    for (let off = 0; ; ) {
      const b = await cf.read(ctx, fh, off, 7); // small reads: offsets must be honoured
      if (b.length === 0) break;
      parts.push(b);
      off += b.length;
    }
    await cf.release(ctx, fh);
    return Buffer.concat(parts).toString();
  }

  it('the root lists .mosaicfs once, after . and .., and paging by offset loses nothing', async () => {
    for (const n of ['a', 'b', 'c']) await v.vfs.mkdir(ROOT, 1, n, 0o755);
    const fh = await cf.opendir(ROOT, 1);
    const names: string[] = [];
    for (let off = 0; ; ) {
      const page = await cf.readdir(ROOT, fh, off, 2);
      if (page.length === 0) break;
      names.push(...page.map((e) => e.name));
      off = page[page.length - 1].next;
    }
    await cf.releasedir(ROOT, fh);
    assert.deepEqual(names, ['.', '..', CONTROL_NAME, 'a', 'b', 'c']);
  });

  it('lookup, getattr and the folder listing', async () => {
    const d = await cf.lookup(ROOT, 1, CONTROL_NAME);
    assert.equal(d.ino, CONTROL_DIR_INO);
    assert.equal(d.mode & 0o7777, 0o500);
    assert.equal(d.uid, 1000);
    const fh = await cf.opendir(ALICE, CONTROL_DIR_INO);
    const names = (await cf.readdir(ALICE, fh, 0, 100)).map((e) => e.name);
    await cf.releasedir(ALICE, fh);
    assert.deepEqual(names, ['.', '..', 'whoami', 'stats', 'login', 'logout']);
    const login = await cf.lookup(ALICE, CONTROL_DIR_INO, 'login');
    assert.equal(login.mode, S_IFREG | 0o600);
    assert.equal((await cf.resolve(ROOT, `/${CONTROL_NAME}/stats`)).mode, S_IFREG | 0o400);
    await rejectsWith(cf.lookup(ROOT, CONTROL_DIR_INO, 'nope'), 'ENOENT');
  });

  it('whoami and stats render the session', async () => {
    const w = await readAll(ALICE, 'whoami');
    assert.match(w, /^user: alice$/m);
    assert.match(w, /^server: http:\/\/127\.0\.0\.1:1$/m);
    assert.match(w, /^expiresAt: 2030-01-01T00:00:00\.000Z$/m);
    const st = await readAll(ALICE, 'stats');
    assert.match(st, /^cache\.hits: 7$/m);
    assert.match(st, /^latencyMs\.median: 0\.4$/m);
    assert.equal((await cf.getattr(ALICE, (await cf.lookup(ALICE, CONTROL_DIR_INO, 'stats')).ino)).size, Buffer.byteLength(st));
  });

  it('login: the right password renews, a wrong one is EACCES; logout logs out', async () => {
    const login = await cf.lookup(ALICE, CONTROL_DIR_INO, 'login');
    const { fh } = await cf.open(ALICE, login.ino, O_WRONLY);
    await rejectsWith(cf.write(ALICE, fh, 0, Buffer.from('wrong\n')), 'EACCES');
    await cf.release(ALICE, fh);
    const logout = await cf.lookup(ALICE, CONTROL_DIR_INO, 'logout');
    const h2 = await cf.open(ALICE, logout.ino, O_WRONLY);
    assert.equal(await cf.write(ALICE, h2.fh, 0, Buffer.from('x')), 1);
    await cf.release(ALICE, h2.fh);
    assert.equal(s.logouts, 1);
    assert.match(await readAll(ALICE, 'whoami'), /^loggedIn: false$/m);
    const h3 = await cf.create(ALICE, CONTROL_DIR_INO, 'login', 0o644, O_WRONLY | O_CREAT);
    assert.equal(await cf.write(ALICE, h3.fh, 0, Buffer.from('right\n')), 6);
    await cf.release(ALICE, h3.fh);
    assert.deepEqual(s.logins, ['wrong', 'right']);
    assert.match(await readAll(ALICE, 'whoami'), /^loggedIn: true$/m);
  });

  it('permissions: other users cannot read or write, read-only files refuse writes', async () => {
    const stranger = { uid: 2000, gid: 2000, pid: 9 };
    await rejectsWith(cf.opendir(stranger, CONTROL_DIR_INO), 'EACCES');
    const whoami = await cf.lookup(ROOT, CONTROL_DIR_INO, 'whoami');
    await rejectsWith(cf.open(stranger, whoami.ino, O_RDONLY), 'EACCES');
    await rejectsWith(cf.open(ALICE, whoami.ino, O_WRONLY), 'EACCES');
    const logout = await cf.lookup(ROOT, CONTROL_DIR_INO, 'logout');
    await rejectsWith(cf.open(ALICE, logout.ino, O_RDONLY), 'EACCES');
  });

  it('the reserved name cannot be created, removed, renamed or renamed over', async () => {
    await rejectsWith(cf.mkdir(ROOT, 1, CONTROL_NAME, 0o755), 'EEXIST');
    await rejectsWith(cf.create(ROOT, 1, CONTROL_NAME, 0o644, O_CREAT | O_EXCL | O_WRONLY), 'EEXIST');
    await rejectsWith(cf.symlink(ROOT, 1, CONTROL_NAME, 'x'), 'EEXIST');
    await rejectsWith(cf.mknod(ROOT, 1, CONTROL_NAME, S_IFREG | 0o644, 0), 'EEXIST');
    await rejectsWith(cf.rmdir(ROOT, 1, CONTROL_NAME), 'EPERM');
    await rejectsWith(cf.unlink(ROOT, 1, CONTROL_NAME), 'EISDIR');
    await rejectsWith(cf.rename(ROOT, 1, CONTROL_NAME, 1, 'elsewhere', 0), 'EPERM');
    await rejectsWith(cf.rename(ROOT, 1, 'a', 1, CONTROL_NAME, 0), 'EPERM');
    await rejectsWith(cf.rename(ROOT, 1, 'a', CONTROL_DIR_INO, 'a', 0), 'EPERM');
    await rejectsWith(cf.create(ROOT, CONTROL_DIR_INO, 'new', 0o644, O_CREAT | O_WRONLY), 'EPERM');
    await rejectsWith(cf.unlink(ROOT, CONTROL_DIR_INO, 'stats'), 'EPERM');
    const stats = await cf.lookup(ROOT, CONTROL_DIR_INO, 'stats');
    await rejectsWith(cf.link(ROOT, stats.ino, 1, 'hard'), 'EPERM');
    await rejectsWith(cf.setattr(ROOT, stats.ino, { mode: 0o777 }), 'EPERM');
    await rejectsWith(cf.setxattr(ROOT, stats.ino, 'user.x', Buffer.from('1'), 0), 'EPERM');
    // the inner volume holds no .mosaicfs of its own afterwards
    await assert.rejects(v.vfs.lookup(ROOT, 1, CONTROL_NAME), (e: unknown) => e instanceof FsError && e.code === 'ENOENT');
    // a subdirectory may use the name freely
    const a = await cf.lookup(ROOT, 1, 'a');
    await cf.mkdir(ROOT, a.ino, CONTROL_NAME, 0o755);
    assert.ok((await cf.lookup(ROOT, a.ino, CONTROL_NAME)).ino < CONTROL_DIR_INO);
  });
});
