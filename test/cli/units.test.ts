import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../src/cli/errors.js';
import { parseRemote, parseRemotes, parseTarget, splitSourcesAndDest } from '../../src/cli/target.js';
import { formatBytes, parseDuration, parseSize } from '../../src/cli/units.js';
import { splitPath } from '../../src/cli/vfsPaths.js';
import { modeString } from '../../src/cli/format.js';

describe('operand parsing (in-process)', () => {
  it('VOL:/path splits at the last ":/"; anything without ":/" is local', () => {
    assert.deepEqual(parseTarget('./vol:/isos/big.iso'), { kind: 'remote', volume: './vol', path: '/isos/big.iso', raw: './vol:/isos/big.iso' });
    assert.deepEqual(parseTarget('/a:/b:/c'), { kind: 'remote', volume: '/a:/b', path: '/c', raw: '/a:/b:/c' });
    assert.deepEqual(parseTarget('plain/file:x'), { kind: 'local', path: 'plain/file:x', raw: 'plain/file:x' });
    assert.deepEqual(parseRemote('./vol:'), { volume: './vol', path: '/', raw: './vol:' });
  });

  it('rejects NUL bytes, server URLs, a missing volume, and mixed volumes as usage errors', () => {
    assert.throws(() => parseTarget('./vol:/a\u0000b'), (e) => e instanceof UsageError && /NUL/.test(e.message));
    assert.throws(() => parseTarget('mosaic://server/vol:/x'), (e) => e instanceof UsageError && /not available yet/.test(e.message));
    assert.throws(() => parseTarget(':/x'), UsageError);
    assert.throws(() => parseRemote('local'), UsageError);
    assert.throws(() => parseRemotes(['a:/x', 'b:/y']), UsageError);
    assert.deepEqual(parseRemotes(['a/:/x', 'a:/y']).paths.map((p) => p.path), ['/x', '/y']);
    assert.throws(() => splitSourcesAndDest(['only'], 'put'), UsageError);
  });

  it('sizes, durations and byte formatting', () => {
    assert.equal(parseSize('4M'), 4 * 1024 * 1024);
    assert.equal(parseSize('512k'), 512 * 1024);
    assert.equal(parseSize('1G'), 1024 ** 3);
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('2MiB'), 2 * 1024 * 1024);
    assert.throws(() => parseSize('4X'), UsageError);
    assert.throws(() => parseSize('0.3'), UsageError);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('90s'), 90_000);
    assert.throws(() => parseDuration('soon'), UsageError);
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.50 KiB');
  });

  it('volume paths split into directory and name; modes render like ls', () => {
    assert.deepEqual(splitPath('/a/b/'), { dir: '/a', name: 'b' });
    assert.deepEqual(splitPath('/'), { dir: '/', name: '' });
    assert.deepEqual(splitPath('/top'), { dir: '/', name: 'top' });
    assert.throws(() => splitPath('relative'), UsageError);
    assert.equal(modeString(0o100644), '-rw-r--r--');
    assert.equal(modeString(0o041777), 'drwxrwxrwt');
    assert.equal(modeString(0o104755), '-rwsr-xr-x');
  });
});
