import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { suiteCleanups } from '../helpers/hooks.js';
import { cli, json, newVolume, type TestVolume } from './fixture.js';

interface StatJson {
  type: string;
  ino: number;
  nlink: number;
  size: number;
  perm: string;
  blocks: number;
  target?: string;
  mtime: { sec: number; nsec: number };
}

describe('ls, cat, stat, mkdir, mv, rm, ln', () => {
  const cleanup = suiteCleanups();
  let v: TestVolume;
  before(async () => {
    v = await newVolume(cleanup);
    await writeFile(v.local('f.txt'), 'file contents\n');
  });

  it('mkdir creates one level, -p creates parents, and both report errors with exit 1', async () => {
    await cli(0, ['mkdir', v.at('/d')]);
    const exists = await cli(1, ['mkdir', v.at('/d')]);
    assert.match(exists.stderr, /^mosaicfs: mkdir .*:\/d: .*EEXIST/m);
    const noParent = await cli(1, ['mkdir', v.at('/x/y/z')]);
    assert.match(noParent.stderr, /ENOENT/);
    await cli(0, ['mkdir', '-p', '-m', '700', v.at('/x/y/z'), v.at('/d')]);
    const z = json<StatJson>(await cli(0, ['stat', '--json', v.at('/x/y/z')]));
    assert.equal(z.type, 'directory');
    assert.equal(z.perm, '0700');
    assert.equal(json<StatJson>(await cli(0, ['stat', '--json', v.at('/x')])).nlink, 3, '/x holds one subdirectory');
  });

  it('ls lists names sorted, hides dotfiles without -a, and -l shows mode, links, size and link targets', async () => {
    await cli(0, ['put', v.local('f.txt'), v.at('/d/b.txt')]);
    await cli(0, ['put', v.local('f.txt'), v.at('/d/.dot')]);
    await cli(0, ['ln', '-s', 'b.txt', v.at('/d/a-link')]);
    assert.equal((await cli(0, ['ls', v.at('/d')])).stdout, 'a-link\nb.txt\n');
    assert.equal((await cli(0, ['ls', '-a', v.at('/d')])).stdout, '.\n..\n.dot\na-link\nb.txt\n');
    const long = (await cli(0, ['ls', '-l', v.at('/d')])).stdout.trimEnd().split('\n');
    assert.equal(long.length, 2);
    assert.match(long[0], /^lrwxrwxrwx +1 .* a-link -> b\.txt$/);
    assert.match(long[1], /^-rw-r--r-- +1 +\d+ +\d+ +14 \d{4}-\d\d-\d\d \d\d:\d\d b\.txt$/);
    assert.equal((await cli(0, ['ls', v.at('/d/b.txt')])).stdout, '/d/b.txt\n', 'a file operand lists itself');
    const missing = await cli(1, ['ls', v.at('/nope')]);
    assert.match(missing.stderr, /^mosaicfs: ls .*:\/nope: .*ENOENT/m);
  });

  it('cat concatenates files, follows symlinks, and fails on directories and missing files', async () => {
    assert.equal((await cli(0, ['cat', v.at('/d/b.txt'), v.at('/d/a-link')])).stdout, 'file contents\nfile contents\n');
    assert.equal((await cli(0, ['cat', v.at('/../d/./../../d/b.txt')])).stdout, 'file contents\n', "'..' never climbs above the root");
    const dir = await cli(1, ['cat', v.at('/d')]);
    assert.match(dir.stderr, /is a directory/);
    const partly = await cli(1, ['cat', v.at('/nope'), v.at('/d/b.txt')]);
    assert.equal(partly.stdout, 'file contents\n', 'the good operand is still printed');
    assert.match(partly.stderr, /ENOENT/);
  });

  it('stat shows all fields with nanosecond times, inode, links and blocks used', async () => {
    const text = (await cli(0, ['stat', v.at('/d/b.txt')])).stdout;
    for (const field of ['File:', 'Size: 14', 'Blocks: 1', 'Inode:', 'Links: 1', 'Access: (0644/-rw-r--r--)', 'Modify:', 'Change:', 'Birth:']) {
      assert.ok(text.includes(field), `stat output has ${field}:\n${text}`);
    }
    assert.match(text, /Modify: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9} \+0000/);
    await cli(0, ['ln', v.at('/d/b.txt'), v.at('/d/hard')]);
    const lines = (await cli(0, ['stat', '--json', v.at('/d/b.txt'), v.at('/d/hard')])).stdout.trimEnd().split('\n');
    const [b, hard] = lines.map((l) => JSON.parse(l) as StatJson);
    assert.equal(hard.ino, b.ino, 'a hard link is the same inode');
    assert.equal(b.nlink, 2);
    assert.equal(b.blocks, 1);
  });

  it('mv renames, moves into an existing directory, and refuses a directory into itself', async () => {
    await cli(0, ['mv', v.at('/d/hard'), v.at('/d/renamed')]);
    await cli(0, ['mv', v.at('/d/renamed'), v.at('/x')]);
    assert.equal((await cli(0, ['ls', v.at('/x')])).stdout, 'renamed\ny\n');
    assert.equal((await cli(0, ['cat', v.at('/x/renamed')])).stdout, 'file contents\n');
    const gone = await cli(1, ['stat', v.at('/d/renamed')]);
    assert.match(gone.stderr, /ENOENT/);
    const intoSelf = await cli(1, ['mv', v.at('/x'), v.at('/x/y/z')]);
    assert.match(intoSelf.stderr, /EINVAL/);
  });

  it('rm removes files, needs -r for directories, and -f ignores missing paths', async () => {
    const dir = await cli(1, ['rm', v.at('/x')]);
    assert.match(dir.stderr, /is a directory \(use -r/);
    await cli(0, ['rm', v.at('/x/renamed')]);
    await cli(1, ['rm', v.at('/x/renamed')]);
    await cli(0, ['rm', '-f', v.at('/x/renamed')]);
    await cli(0, ['rm', '-r', v.at('/x'), v.at('/d')]);
    assert.equal((await cli(0, ['ls', '-a', v.at('/')])).stdout, '.\n..\n');
    const root = await cli(1, ['rm', '-r', v.at('/')]);
    assert.match(root.stderr, /refusing to remove/);
  });
});
