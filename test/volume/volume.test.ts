import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveBlockKeys, unwrapVolumeKey } from '../../src/crypto/keys.js';
import { VolumeError, WrongPassphraseError } from '../../src/errors.js';
import { ROOT_INO, S_IFDIR } from '../../src/meta/MetaStore.js';
import { SqliteMetaStore } from '../../src/meta/sqlite/SqliteMetaStore.js';
import { readConfig } from '../../src/volume/config.js';
import { readLock } from '../../src/volume/lock.js';
import { initVolume, openVolume, type VolumeSecret } from '../../src/volume/Volume.js';

const FAST = { scryptN: 1 << 10 };
const PASS: VolumeSecret = { passphrase: 'correct horse battery staple' };

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('volumes', () => {
  let root: string;
  let n = 0;
  const newDir = (): string => path.join(root, `vol${++n}`);
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'mosaicfs-volume-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('init creates the folder and a volume that opens and keeps its data', async () => {
    const dir = newDir();
    const config = await initVolume(dir, { secret: PASS, blockSize: 1024 * 1024, ...FAST });
    assert.equal(config.format, 'mosaicfs-volume');
    assert.equal(config.formatVersion, 1);
    assert.equal(config.blockSize, 1024 * 1024);
    assert.match(config.volumeId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.deepEqual(config.store, { type: 'local', path: 'blocks' });
    assert.deepEqual((await fs.readdir(dir)).sort(), ['blocks', 'meta.db', 'mosaicfs.json']);
    assert.deepEqual(await readConfig(dir), config);

    const plain = randomBytes(5000);
    let id: string;
    {
      const vol = await openVolume(dir, { secret: PASS, lockOwner: 'test writer' });
      assert.deepEqual(vol.config, config);
      const rootAttr = await vol.meta.getattr(ROOT_INO);
      assert.equal(rootAttr.mode, S_IFDIR | 0o755);
      assert.equal(rootAttr.uid, process.getuid!());
      assert.equal(await vol.meta.getSetting('volumeId'), config.volumeId);
      const sealed = vol.codec.seal(plain);
      id = sealed.id;
      await vol.blocks.put(id, sealed.data);
      assert.equal((await readLock(dir))?.owner, 'test writer');
      await vol.close();
      await vol.close();
    }
    assert.equal(await readLock(dir), null, 'close releases the lock');
    const vol = await openVolume(dir, { secret: PASS });
    assert.ok(vol.codec.open(id, await vol.blocks.get(id)).equals(plain));
    assert.equal(vol.codec.idOf(plain), id, 'same volume key, same ids (dedup across sessions)');
    await vol.close();
  });

  it('defaults to 4 MiB blocks and records the block size as the metadata chunk size', async () => {
    const dir = newDir();
    const config = await initVolume(dir, { secret: PASS, ...FAST });
    assert.equal(config.blockSize, 4 * 1024 * 1024);
    const vol = await openVolume(dir, { secret: PASS });
    try {
      assert.ok(vol.meta instanceof SqliteMetaStore);
      assert.equal(vol.meta.chunkSize, 4 * 1024 * 1024);
    } finally {
      await vol.close();
    }
  });

  it('holds no key material in clear in any file of the volume', async () => {
    const dir = newDir();
    const config = await initVolume(dir, { secret: PASS, ...FAST });
    const vol = await openVolume(dir, { secret: PASS });
    const sealed = vol.codec.seal(randomBytes(1000));
    await vol.blocks.put(sealed.id, sealed.data);
    await vol.close();
    const volumeKey = await unwrapVolumeKey(config.key, PASS, config.volumeId);
    const { idKey, encKey } = deriveBlockKeys(volumeKey);
    const needles = [volumeKey, idKey, encKey].flatMap((k) => [
      k, Buffer.from(k.toString('hex')), Buffer.from(k.toString('base64')), Buffer.from(k.toString('base64url')),
    ]);
    const files = await filesUnder(dir);
    assert.ok(files.length >= 3);
    for (const file of files) {
      const bytes = await fs.readFile(file);
      for (const needle of needles) assert.equal(bytes.indexOf(needle), -1, `key material found in ${file}`);
    }
    assert.equal((await fs.readFile(path.join(dir, 'mosaicfs.json'), 'utf8')).includes(PASS.passphrase), false);
  });

  it('a wrong passphrase throws WrongPassphraseError and leaves no lock', async () => {
    const dir = newDir();
    await initVolume(dir, { secret: PASS, ...FAST });
    await assert.rejects(openVolume(dir, { secret: { passphrase: 'Correct horse battery staple' } }), WrongPassphraseError);
    assert.equal(await readLock(dir), null);
    const vol = await openVolume(dir, { secret: PASS });
    await vol.close();
  });

  it('key-file volumes open with the key file only', async () => {
    const dir = newDir();
    const keyFile = path.join(root, `key${n}`);
    const other = path.join(root, `other${n}`);
    await fs.writeFile(keyFile, randomBytes(48));
    await fs.writeFile(other, randomBytes(48));
    const config = await initVolume(dir, { secret: { keyFile } });
    assert.equal(config.key.kdf, 'keyfile');
    const vol = await openVolume(dir, { secret: { keyFile } });
    await vol.close();
    await assert.rejects(openVolume(dir, { secret: { keyFile: other } }), WrongPassphraseError);
    await assert.rejects(openVolume(dir, { secret: { passphrase: 'anything' } }), WrongPassphraseError);
  });

  it('init refuses an existing volume, a non-empty folder, a file and a bad block size', async () => {
    const dir = newDir();
    await initVolume(dir, { secret: PASS, ...FAST });
    const before = await fs.readFile(path.join(dir, 'mosaicfs.json'));
    await assert.rejects(initVolume(dir, { secret: PASS, ...FAST }), /is already a mosaicfs volume/);
    assert.ok((await fs.readFile(path.join(dir, 'mosaicfs.json'))).equals(before), 'the volume is untouched');

    const full = newDir();
    await fs.mkdir(full);
    await fs.writeFile(path.join(full, 'photo.jpg'), 'precious');
    await assert.rejects(initVolume(full, { secret: PASS, ...FAST }), (e: unknown) => e instanceof VolumeError && /is not empty/.test(e.message));
    assert.deepEqual(await fs.readdir(full), ['photo.jpg']);

    const file = path.join(root, `file${n}`);
    await fs.writeFile(file, 'x');
    await assert.rejects(initVolume(file, { secret: PASS, ...FAST }), /is not a folder/);

    const tiny = newDir();
    await assert.rejects(initVolume(tiny, { secret: PASS, blockSize: 1000, ...FAST }), /invalid block size 1000/);
    await assert.rejects(fs.stat(tiny), { code: 'ENOENT' });
  });

  it('init into an existing empty folder works; a failed init leaves it empty', async () => {
    const dir = newDir();
    await fs.mkdir(dir);
    const shortKey = path.join(root, `short${n}`);
    await fs.writeFile(shortKey, 'too short');
    await assert.rejects(initVolume(dir, { secret: { keyFile: shortKey } }), /too short/);
    assert.deepEqual(await fs.readdir(dir), []);
    await initVolume(dir, { secret: PASS, ...FAST });
    const vol = await openVolume(dir, { secret: PASS });
    await vol.close();
  });

  it('open reports missing folders, non-volumes and corrupt configs as VolumeError', async () => {
    await assert.rejects(openVolume(path.join(root, 'nowhere'), { secret: PASS }), (e: unknown) => e instanceof VolumeError && /does not exist/.test(e.message));
    const empty = newDir();
    await fs.mkdir(empty);
    await assert.rejects(openVolume(empty, { secret: PASS }), /not a mosaicfs volume \(no mosaicfs\.json\)/);
    const dir = newDir();
    await initVolume(dir, { secret: PASS, ...FAST });
    const cfg = path.join(dir, 'mosaicfs.json');
    const original = await fs.readFile(cfg, 'utf8');
    await fs.writeFile(cfg, original.slice(0, 50));
    await assert.rejects(openVolume(dir, { secret: PASS }), (e: unknown) => e instanceof VolumeError && /corrupt/.test(e.message));
    await fs.writeFile(cfg, original.replace('"formatVersion": 1', '"formatVersion": 7'));
    await assert.rejects(openVolume(dir, { secret: PASS }), /format version 7/);
  });

  it('a second open is refused while the volume is open; lock: false skips the lock', async () => {
    const dir = newDir();
    await initVolume(dir, { secret: PASS, ...FAST });
    const first = await openVolume(dir, { secret: PASS, lockOwner: 'mount /mnt/x' });
    await assert.rejects(openVolume(dir, { secret: PASS }), (e: unknown) =>
      e instanceof VolumeError && e.message === `volume ${dir} is in use by pid ${process.pid} (mount /mnt/x)`);
    const unlocked = await openVolume(dir, { secret: PASS, lock: false });
    await unlocked.close();
    assert.equal((await readLock(dir))?.owner, 'mount /mnt/x', 'an unlocked open does not touch the lock');
    await first.close();
    const again = await openVolume(dir, { secret: PASS });
    await again.close();
  });

  it('a meta.db of another volume or a missing meta.db is refused, and the lock released', async () => {
    const a = newDir();
    const b = newDir();
    await initVolume(a, { secret: PASS, ...FAST });
    await initVolume(b, { secret: PASS, ...FAST });
    await fs.rm(path.join(a, 'meta.db'));
    await assert.rejects(openVolume(a, { secret: PASS }), /meta\.db is missing/);
    assert.equal(await readLock(a), null);
    await fs.copyFile(path.join(b, 'meta.db'), path.join(a, 'meta.db'));
    await assert.rejects(openVolume(a, { secret: PASS }), (e: unknown) => e instanceof VolumeError && /belongs to volume/.test(e.message));
    assert.equal(await readLock(a), null);
  });
});
