/**
 * The file verbs against a server: `http://host:port:/path` targets in put, get, ls, cat, stat,
 * mkdir, mv, rm, ln and df, with the saved session of `mosaicfs login` (no secret asked), and
 * `mosaicfs mount URL` without a login says how to log in.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { parseTarget } from '../../src/cli/target.js';
import { suiteCleanups } from '../helpers/hooks.js';
import { describeRun, runCli, type RunResult } from '../helpers/run.js';
import { cliEnv } from '../helpers/run.js';
import { makeTempDir } from '../helpers/tmp.js';
import { ServerProcess } from './serverProcess.js';

const USER = { name: 'frank', password: 'frank cli password' };

describe('CLI verbs against a server', () => {
  const cleanup = suiteCleanups();
  let server: ServerProcess;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = async (args: string[], ok = true): Promise<RunResult> => {
    const r = await runCli(args, { env });
    if (ok) assert.equal(r.code, 0, describeRun(`mosaicfs ${args.join(' ')}`, r));
    return r;
  };
  const at = (p: string) => `${server.url}:${p}`;

  before(async () => {
    server = await ServerProcess.start(cleanup, [USER]);
    dir = await makeTempDir(cleanup, 'mosaicfs-rcli-');
    env = cliEnv({ MOSAICFS_CONFIG_DIR: path.join(dir, 'config'), MOSAICFS_PASSPHRASE: '' });
    delete env.MOSAICFS_PASSPHRASE;
  });

  it('parses server targets', () => {
    assert.deepEqual(parseTarget('http://127.0.0.1:7070:/docs/'), { kind: 'remote', volume: 'http://127.0.0.1:7070', path: '/docs/', raw: 'http://127.0.0.1:7070:/docs/' });
    assert.deepEqual(parseTarget('https://h.example:/a'), { kind: 'remote', volume: 'https://h.example', path: '/a', raw: 'https://h.example:/a' });
    assert.equal(parseTarget('http://[::1]:7070:/x').kind, 'remote');
    assert.equal((parseTarget('http://127.0.0.1:7070') as { path: string }).path, '/');
  });

  it('without a login, mount and the verbs say how to log in', async () => {
    const mnt = path.join(dir, 'mnt');
    await fs.mkdir(mnt);
    const m = await cli(['mount', server.url, mnt], false);
    assert.equal(m.code, 1);
    assert.match(m.stderr, new RegExp(`not logged in: run mosaicfs login ${server.url.replace(/[.]/g, '\\.')} --user NAME`));
    const ls = await cli(['ls', at('/')], false);
    assert.notEqual(ls.code, 0);
    assert.match(ls.stderr, /not logged in/);
  });

  it('put, ls, cat, stat, mkdir, mv, ln, get, rm, df', async () => {
    const login = await runCli(['login', server.url, '--user', USER.name], { env: { ...env, MOSAICFS_PASSWORD: USER.password } });
    assert.equal(login.code, 0, describeRun('login', login));
    const src = path.join(dir, 'src');
    await fs.mkdir(src);
    await fs.writeFile(path.join(src, 'a.txt'), 'alpha\n');
    await fs.writeFile(path.join(src, 'b.bin'), Buffer.alloc(300_000, 9));
    await cli(['mkdir', at('/docs')]);
    await cli(['put', path.join(src, 'a.txt'), path.join(src, 'b.bin'), at('/docs/')]);
    assert.equal((await cli(['ls', at('/docs')])).stdout, 'a.txt\nb.bin\n');
    assert.equal((await cli(['cat', at('/docs/a.txt')])).stdout, 'alpha\n');
    assert.match((await cli(['stat', at('/docs/b.bin')])).stdout, /300000/);
    await cli(['mv', at('/docs/a.txt'), at('/docs/renamed.txt')]);
    await cli(['ln', '-s', 'renamed.txt', at('/docs/link')]);
    assert.equal((await cli(['ls', at('/docs')])).stdout, 'b.bin\nlink\nrenamed.txt\n');
    const out = path.join(dir, 'out');
    await fs.mkdir(out);
    await cli(['get', at('/docs/renamed.txt'), at('/docs/b.bin'), out + '/']);
    assert.equal(await fs.readFile(path.join(out, 'renamed.txt'), 'utf8'), 'alpha\n');
    assert.ok((await fs.readFile(path.join(out, 'b.bin'))).equals(Buffer.alloc(300_000, 9)));
    await cli(['rm', at('/docs/link')]);
    const df = JSON.parse((await cli(['df', server.url, '--json'])).stdout) as { logicalBytes: number; blockSize: number };
    assert.ok(df.logicalBytes >= 300_006, JSON.stringify(df));
    assert.ok(df.blockSize > 0);
    // fsck and gc stay volume-folder verbs
    const fsck = await cli(['fsck', server.url], false);
    assert.notEqual(fsck.code, 0);
    assert.match(fsck.stderr, /volume folder/);
  });
});
