/**
 * Differential POSIX cases that need the caller's identity: the same script runs as a second,
 * non-root user (setpriv --reuid 1000) against a mosaicfs mount (allow_other, our own binding) and
 * against a plain local folder, after root prepared the same tree in both. Results (errno names,
 * owners, modes) must match: ownership of new files, EACCES/EPERM, the sticky bit, setgid
 * directories, chown/chmod/utimes rules.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../fuse/harness.js';
import { mountBesideLocal, PY_STEPS, runPython, SECOND_USER as USER } from './secondUser.js';

const OTHER = 1001;
const GROUP = 50;

/** Run as root: builds the tree every case starts from (modes set explicitly: no umask effects). */
const SETUP = String.raw`
import os, sys
b = sys.argv[1]
def mk(p, mode, uid=0, gid=0, d=False, data=b'x'):
    p = os.path.join(b, p)
    if d: os.mkdir(p)
    else:
        with open(p, 'wb') as f: f.write(data)
    os.chown(p, uid, gid); os.chmod(p, mode)
mk('closed', 0o755, d=True)
mk('closed/rootfile', 0o644)
mk('sticky', 0o1777, d=True)
mk('sticky/root-owned', 0o666)
mk('sticky/other-owned', 0o666, uid=${OTHER}, gid=${OTHER})
mk('sticky/mine', 0o644, uid=${USER}, gid=${USER})
mk('open', 0o777, d=True)
mk('open/secret', 0o600)
mk('open/readonly', 0o644)
mk('open/group-writable', 0o664, gid=${USER})
mk('open/mine', 0o644, uid=${USER}, gid=${USER})
mk('setgid', 0o2777, gid=${GROUP}, d=True)
mk('private', 0o700, d=True)
mk('private/inside', 0o644)
mk('noexec', 0o766, d=True)
mk('noexec/f', 0o644)
`;

/** Run as the second user: every step prints "name: result" where result is ok/extra data or an errno name. */
const SCRIPT = String.raw`
import os, sys, errno, stat
b = sys.argv[1]
os.umask(0o022)
${PY_STEPS}def owner(p):
    st = os.lstat(P(p)); return '%d:%d %o' % (st.st_uid, st.st_gid, st.st_mode)
def create(p, mode=0o644):
    fd = os.open(P(p), os.O_CREAT | os.O_WRONLY | os.O_EXCL, mode); os.close(fd); return owner(p)
def openr(p): os.close(os.open(P(p), os.O_RDONLY))
def openw(p): os.close(os.open(P(p), os.O_WRONLY))
step('create in closed dir', lambda: create('closed/new'))
step('unlink in closed dir', lambda: os.unlink(P('closed/rootfile')))
step('create in open dir', lambda: create('open/new'))
step('create 0600', lambda: create('open/new600', 0o600))
step('mkdir in open dir', lambda: (os.mkdir(P('open/newdir'), 0o750), owner('open/newdir'))[1])
step('symlink owner', lambda: (os.symlink('target', P('open/link')), owner('open/link').split(' ')[0])[1])
step('read secret', lambda: openr('open/secret'))
step('write readonly', lambda: openw('open/readonly'))
step('read readonly', lambda: openr('open/readonly'))
step('write group-writable', lambda: openw('open/group-writable'))
step('truncate readonly', lambda: os.truncate(P('open/readonly'), 0))
step('chmod root file', lambda: os.chmod(P('open/readonly'), 0o666))
step('chmod own file', lambda: (os.chmod(P('open/mine'), 0o600), owner('open/mine'))[1])
step('chown own file to other user', lambda: os.chown(P('open/mine'), ${OTHER}, -1))
step('chgrp own file to foreign group', lambda: os.chown(P('open/mine'), -1, ${GROUP}))
step('chgrp own file to own group', lambda: (os.chown(P('open/mine'), -1, ${USER}), owner('open/mine'))[1])
step('utime root file explicit', lambda: os.utime(P('open/group-writable'), (1000000000, 1000000000)))
step('utime root file now (writable)', lambda: os.utime(P('open/group-writable'), None))
step('utime readonly root file now', lambda: os.utime(P('open/readonly'), None))
step('utime own file explicit', lambda: os.utime(P('open/mine'), (1000000000, 1000000000)))
step('sticky: unlink root-owned', lambda: os.unlink(P('sticky/root-owned')))
step('sticky: unlink other-owned', lambda: os.unlink(P('sticky/other-owned')))
step('sticky: rename other-owned', lambda: os.rename(P('sticky/other-owned'), P('sticky/taken')))
step('sticky: rename over root-owned', lambda: os.rename(P('sticky/mine'), P('sticky/root-owned')))
step('sticky: write other-owned', lambda: openw('sticky/other-owned'))
step('sticky: unlink own', lambda: os.unlink(P('sticky/mine')))
step('sticky: create', lambda: create('sticky/fresh'))
step('setgid dir: new file group', lambda: create('setgid/f'))
step('setgid dir: new dir group and bit', lambda: (os.mkdir(P('setgid/d'), 0o755), owner('setgid/d'))[1])
step('private: stat inside', lambda: os.stat(P('private/inside')) and None)
step('private: list', lambda: os.listdir(P('private')))
step('noexec: list', lambda: sorted(os.listdir(P('noexec'))))
step('noexec: stat inside', lambda: os.stat(P('noexec/f')) and None)
step('rmdir closed', lambda: os.rmdir(P('closed')))
step('rename root dir in open', lambda: os.rename(P('closed'), P('open/moved')))
step('link root file', lambda: os.link(P('open/readonly'), P('open/hardlink')))
step('setxattr user on root file', lambda: os.setxattr(P('open/readonly'), 'user.k', b'v'))
step('setxattr user on own file', lambda: os.setxattr(P('open/new'), 'user.k', b'v'))
step('mknod fifo', lambda: (os.mkfifo(P('open/fifo'), 0o640), owner('open/fifo'))[1])
`;


describe('differential: operations as a second, non-root user', { timeout: 120_000 }, () => {
  const sb = new Sandbox();
  let mnt: string;
  let local: string;

  before(async () => {
    ({ mnt, local } = await mountBesideLocal(sb, 0o755));
  });
  after(() => sb.cleanup());

  it('gives the same results, errors and owners as a local folder', () => {
    const outputs = [local, mnt].map((base) => {
      const dir = path.join(base, 'case');
      runPython(SETUP, dir, false);
      return runPython(SCRIPT, dir, true);
    });
    const [want, got] = outputs.map((o) => o.trim().split('\n'));
    const steps = SCRIPT.match(/^step\(/gm)?.length ?? 0;
    assert.equal(want.length, steps, 'the script ran to the end locally');
    // The local run must have exercised both outcomes, or the comparison proves little.
    assert.ok(want.some((l) => l.endsWith('EPERM')) && want.some((l) => l.endsWith('EACCES')) && want.some((l) => l.includes(': ok')));
    assert.deepEqual(got, want);
  });

  it('the final trees have the same owners and modes', () => {
    const list = (base: string): string =>
      execFileSync('find', ['.', '-printf', '%p %U:%G %M\n'], { cwd: path.join(base, 'case'), encoding: 'utf8' })
        .split('\n').sort().join('\n');
    assert.equal(list(mnt), list(local));
  });
});
