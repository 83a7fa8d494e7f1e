import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateVolumeKey, wrapVolumeKey } from '../../src/crypto/keys.js';
import { VolumeError } from '../../src/errors.js';
import { checkBlockSize, CONFIG_FILE, readConfig, writeConfig, type VolumeConfig } from '../../src/volume/config.js';

async function sampleConfig(): Promise<VolumeConfig> {
  const volumeId = '0b6f3c1e-9a7d-4c2b-8e5f-1a2b3c4d5e6f';
  return {
    format: 'mosaicfs-volume',
    formatVersion: 1,
    volumeId,
    created: new Date().toISOString(),
    blockSize: 1024 * 1024,
    cipher: 'aes-256-gcm',
    blockId: 'hmac-sha256',
    key: await wrapVolumeKey(generateVolumeKey(), { passphrase: 'pw' }, volumeId, { scryptN: 1 << 10 }),
    store: { type: 'local', path: 'blocks' },
  };
}

describe('volume config', () => {
  let root: string;
  let good: VolumeConfig;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-config-'));
    good = await sampleConfig();
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  const volWith = async (name: string, content: string): Promise<string> => {
    const dir = path.join(root, name);
    await fs.mkdir(dir);
    await fs.writeFile(path.join(dir, CONFIG_FILE), content);
    return dir;
  };
  const rejectsWith = (dir: string, pattern: RegExp): Promise<void> =>
    assert.rejects(readConfig(dir), (err: unknown) => {
      assert.ok(err instanceof VolumeError, `expected VolumeError, got ${String(err)}`);
      assert.match(err.message, pattern);
      return true;
    });

  it('writes atomically and reads back the same config', async () => {
    const dir = path.join(root, 'rt');
    await fs.mkdir(dir);
    await writeConfig(dir, good);
    assert.deepEqual(await readConfig(dir), good);
    assert.deepEqual(await fs.readdir(dir), [CONFIG_FILE], 'no temp file left');
    assert.equal((await fs.stat(path.join(dir, CONFIG_FILE))).mode & 0o777, 0o600);
  });

  it('a missing folder says so and how to create a volume', async () => {
    const dir = path.join(root, 'missing');
    await rejectsWith(dir, new RegExp(`${dir} does not exist; create a volume with \`mosaicfs init ${dir}\``));
  });

  it('a folder without mosaicfs.json is not a volume', async () => {
    const dir = path.join(root, 'empty');
    await fs.mkdir(dir);
    await rejectsWith(dir, /is not a mosaicfs volume \(no mosaicfs\.json\); run `mosaicfs init /);
  });

  it('a file instead of a folder is not a volume', async () => {
    const file = path.join(root, 'afile');
    await fs.writeFile(file, 'x');
    await rejectsWith(file, /is not a folder/);
  });

  it('corrupt JSON is reported as corrupt', async () => {
    await rejectsWith(await volWith('corrupt', '{"format": "mosaicfs-vol'), /mosaicfs\.json is corrupt \(not valid JSON/);
    await rejectsWith(await volWith('array', '[1,2]'), /is corrupt: not a JSON object/);
  });

  it('an unknown format version names both versions', async () => {
    const dir = await volWith('v2', JSON.stringify({ ...good, formatVersion: 2 }));
    await rejectsWith(dir, /format version 2, but this mosaicfs only understands version 1/);
  });

  it('another format is not a volume config', async () => {
    await rejectsWith(await volWith('other', JSON.stringify({ ...good, format: 'something-else' })), /is not a mosaicfs volume config/);
  });

  it('bad fields are reported by name', async () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['bs-small', { ...good, blockSize: 4096 }, /invalid block size 4096/],
      ['bs-odd', { ...good, blockSize: 65536 + 1 }, /invalid block size/],
      ['bs-str', { ...good, blockSize: '4M' }, /blockSize is not a number/],
      ['cipher', { ...good, cipher: 'rot13' }, /unsupported cipher "rot13"/],
      ['id', { ...good, volumeId: 42 }, /volumeId is not a UUID/],
      ['kdf', { ...good, key: { ...good.key, kdf: 'md5' } }, /unknown key kdf "md5"/],
      ['tag', { ...good, key: { ...good.key, tag: '' } }, /key\.tag is not base64/],
      ['scrypt', { ...good, key: { ...good.key, params: { N: 1 << 30, r: 8, p: 1 } } }, /key\.params: scrypt N/],
      ['store', { ...good, store: { type: 'ftp' } }, /store\.type is "ftp"/],
      ['s3-nobucket', { ...good, store: { type: 's3' } }, /store\.bucket is missing/],
      ['nokey', { ...good, key: undefined }, /key is missing/],
    ];
    for (const [name, config, pattern] of cases) {
      await rejectsWith(await volWith(name, JSON.stringify(config)), pattern);
    }
  });

  it('block sizes: 64 KiB..10 MiB, multiples of 4096', () => {
    for (const ok of [65536, 4 * 1024 * 1024, 10 * 1024 * 1024, 65536 + 4096, 3 * 1024 * 1024 + 4096]) checkBlockSize(ok);
    for (const bad of [0, 61440, 65535, 10 * 1024 * 1024 + 4096, 65536 + 512, Number.NaN, 1.5e6]) {
      assert.throws(() => checkBlockSize(bad), VolumeError, String(bad));
    }
  });
});
