/**
 * Differential: who drops set-id bits and file capabilities. The mount negotiates
 * FUSE_HANDLE_KILLPRIV_V2, so the kernel leaves this to the file system: a write, truncate,
 * open(O_TRUNC) or chown must drop S_ISUID/S_ISGID (not for root: CAP_FSETID) and
 * security.capability (for anyone) exactly as on the local folder (ext4 here).
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Sandbox } from '../fuse/harness.js';
import { mountBesideLocal, PY_STEPS, runPython as runScript, SECOND_USER as USER } from './secondUser.js';

/** The script's output lines. */
const runPython = (script: string, dir: string, asUser: boolean): string[] =>
  runScript(script, dir, asUser).trim().split('\n').filter((l) => l !== '');

const PRELUDE = String.raw`
import os, sys, errno, struct
b = sys.argv[1]
${PY_STEPS}def mode(p): return '%o' % os.stat(P(p)).st_mode
def cap(p):
    try: return os.getxattr(P(p), 'security.capability').hex()
    except OSError as e: return errno.errorcode[e.errno]
def write(p, data=b'more', off=None):
    fd = os.open(P(p), os.O_WRONLY)
    try:
        if off is None: os.write(fd, data)
        else: os.pwrite(fd, data, off)
    finally: os.close(fd)
def otrunc(p): os.close(os.open(P(p), os.O_WRONLY | os.O_TRUNC))
# vfs_cap_data revision 2, effective, permitted = CAP_NET_BIND_SERVICE
CAP = struct.pack('<IIIII', 0x02000001, 1 << 10, 0, 0, 0)
`;

/** Run as root: the files every case starts from. */
const SETUP = PRELUDE + String.raw`
def mk(p, m, data=b'data', capability=False, uid=0, gid=0):
    with open(P(p), 'wb') as f: f.write(data)
    os.chown(P(p), uid, gid); os.chmod(P(p), m)
    if capability: os.setxattr(P(p), 'security.capability', CAP)
for n in ['suid-write', 'suid-pwrite', 'suid-truncate', 'suid-ftruncate', 'suid-otrunc', 'root-suid-write']:
    mk(n, 0o4777)
mk('sgid-gx-write', 0o2777)
mk('sgid-nogx-write', 0o2767)
mk('sgid-nogx-ingroup-write', 0o2767, gid=${USER})
mk('suidgid-write', 0o6777)
mk('own-suid-chown', 0o4755, uid=${USER}, gid=${USER})
for n in ['cap-write', 'cap-truncate', 'cap-otrunc', 'cap-chown', 'cap-chmod', 'cap-twice', 'cap-user-write']:
    mk(n, 0o755 if n != 'cap-user-write' else 0o777, capability=True)
`;

/** Run as the second user. */
const AS_USER = PRELUDE + String.raw`
step('user write suid', lambda: (write('suid-write'), mode('suid-write'))[1])
step('user pwrite suid', lambda: (write('suid-pwrite', b'z', 100), mode('suid-pwrite'))[1])
step('user truncate suid', lambda: (os.truncate(P('suid-truncate'), 1), mode('suid-truncate'))[1])
def ftrunc():
    fd = os.open(P('suid-ftruncate'), os.O_WRONLY)
    try: os.ftruncate(fd, 2)
    finally: os.close(fd)
    return mode('suid-ftruncate')
step('user ftruncate suid', ftrunc)
step('user open O_TRUNC suid', lambda: (otrunc('suid-otrunc'), mode('suid-otrunc'))[1])
step('user write sgid with group exec', lambda: (write('sgid-gx-write'), mode('sgid-gx-write'))[1])
step('user write sgid without group exec', lambda: (write('sgid-nogx-write'), mode('sgid-nogx-write'))[1])
step('user write sgid without group exec, in the group', lambda: (write('sgid-nogx-ingroup-write'), mode('sgid-nogx-ingroup-write'))[1])
step('user write suid+sgid', lambda: (write('suidgid-write'), mode('suidgid-write'))[1])
step('user chown own suid file', lambda: (os.chown(P('own-suid-chown'), -1, ${USER}), mode('own-suid-chown'))[1])
step('user removexattr capability', lambda: os.removexattr(P('cap-user-write'), 'security.capability'))
step('user write file with capability', lambda: (write('cap-user-write'), cap('cap-user-write'), mode('cap-user-write')))
step('contents', lambda: [open(P(n), 'rb').read() for n in ['suid-write', 'suid-pwrite', 'suid-truncate', 'suid-otrunc']])
`;

/** Run as root (CAP_FSETID: set-id bits stay; capabilities still go). */
const AS_ROOT = PRELUDE + String.raw`
step('root write suid', lambda: (write('root-suid-write'), mode('root-suid-write'))[1])
step('capability present', lambda: cap('cap-chmod'))
step('root write capability', lambda: (write('cap-write'), cap('cap-write'))[1])
step('root truncate capability', lambda: (os.truncate(P('cap-truncate'), 0), cap('cap-truncate'))[1])
step('root open O_TRUNC capability', lambda: (otrunc('cap-otrunc'), cap('cap-otrunc'))[1])
step('root chown capability', lambda: (os.chown(P('cap-chown'), 0, 0), cap('cap-chown'))[1])
step('root chmod keeps capability', lambda: (os.chmod(P('cap-chmod'), 0o750), cap('cap-chmod'))[1])
def twice():
    write('cap-twice')
    first = cap('cap-twice')
    os.setxattr(P('cap-twice'), 'security.capability', CAP)
    again = cap('cap-twice')
    write('cap-twice', b'x', 0)
    return (first, again, cap('cap-twice'))
step('root write, setcap again, write again', twice)
`;


describe('differential: set-id bits and security.capability after write, truncate and chown', { timeout: 120_000 }, () => {
  const sb = new Sandbox();
  let mnt: string;
  let local: string;

  before(async () => {
    ({ mnt, local } = await mountBesideLocal(sb, 0o777));
    for (const d of [mnt, local]) runPython(SETUP, path.join(d, 'case'), false);
  });
  after(() => sb.cleanup());

  it('a second user loses S_ISUID/S_ISGID and capabilities as on the local folder', () => {
    const [want, got] = [local, mnt].map((base) => runPython(AS_USER, path.join(base, 'case'), true));
    assert.equal(want.length, AS_USER.match(/^step\(/gm)?.length, 'the script ran to the end locally');
    // The local run must show bits actually dropped and kept, or the comparison proves little.
    assert.ok(want.includes('user write suid: ok 100777'), want.join('\n'));
    assert.ok(want.includes('user write sgid without group exec, in the group: ok 102767'), want.join('\n'));
    assert.deepEqual(got, want);
  });

  it('root keeps set-id bits but loses capabilities as on the local folder', () => {
    const [want, got] = [local, mnt].map((base) => runPython(AS_ROOT, path.join(base, 'case'), false));
    assert.equal(want.length, AS_ROOT.match(/^step\(/gm)?.length, 'the script ran to the end locally');
    assert.ok(want.includes('root write capability: ok ENODATA'), want.join('\n'));
    assert.ok(!want.includes('capability present: ok ENODATA'), want.join('\n'));
    assert.deepEqual(got, want);
  });
});
