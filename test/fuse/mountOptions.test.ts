import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_MOUNT_OPTIONS, formatMountOptions, fuseOptionList, MountOptionError, parseMountOptions, parseSize, resolveDefaultPermissions,
} from '../../src/fuse/mountOptions.js';
import { parseMountinfo } from '../../src/fuse/mountinfo.js';

describe('mount options', () => {
  it('defaults: our own kernel binding, default_permissions auto, 1 s attr/entry cache, no negative cache, auto_cache, no disk cache', () => {
    const o = parseMountOptions([]);
    assert.deepEqual(o, { ...DEFAULT_MOUNT_OPTIONS });
    assert.equal(o.binding, 'kernel');
    assert.equal(o.attrTimeout, 1);
    assert.equal(o.entryTimeout, 1);
    assert.equal(o.defaultPermissions, 'auto');
    assert.equal(o.negativeTimeout, 0);
    assert.equal(o.diskCacheSize, undefined);
    const list = fuseOptionList(o);
    for (const want of ['big_writes', 'max_write=1048576', 'use_ino', 'fsname=mosaicfs', 'subtype=mosaicfs', 'default_permissions', 'auto_cache', 'negative_timeout=0']) {
      assert.ok(list.includes(want), `missing ${want} in ${list.join(',')}`);
    }
    assert.ok(!list.includes('allow_other'));
  });

  it('default_permissions auto: off only for the kernel binding mounted by root without allow_other', () => {
    const auto = parseMountOptions([]);
    assert.equal(resolveDefaultPermissions(auto, 0), false, 'root, kernel binding, no allow_other');
    assert.equal(resolveDefaultPermissions(auto, 1000), true, 'a normal user');
    assert.equal(resolveDefaultPermissions(parseMountOptions(['allow_other']), 0), true, 'other users can reach the mount');
    assert.equal(resolveDefaultPermissions(parseMountOptions(['binding=fuse-native']), 0), true, 'fuse-native hides the caller');
    assert.ok(fuseOptionList(parseMountOptions(['binding=fuse-native'])).includes('default_permissions'));
    assert.equal(resolveDefaultPermissions(parseMountOptions(['default_permissions']), 0), true, 'asked for');
    assert.equal(resolveDefaultPermissions(parseMountOptions(['no_default_permissions', 'allow_other']), 1000), false, 'refused');
    for (const given of [[], ['default_permissions'], ['no_default_permissions']]) {
      const o = parseMountOptions(given);
      assert.deepEqual(parseMountOptions([formatMountOptions(o)]), o, `round trip of ${given.join(',') || 'the default'}`);
    }
  });

  it('parses every documented option, repeated -o strings, later wins', () => {
    const o = parseMountOptions([
      'allow_other,ro,attr_timeout=2.5,entry_timeout=3,negative_timeout=1',
      'kernel_cache,nonempty,fsname=myvol,cache_size=128M,write_buffer=16M,disk_cache_size=2G',
      'no_default_permissions',
    ]);
    assert.equal(o.allowOther, true);
    assert.equal(o.readonly, true);
    assert.equal(o.attrTimeout, 2.5);
    assert.equal(o.entryTimeout, 3);
    assert.equal(o.negativeTimeout, 1);
    assert.equal(o.kernelCache, true);
    assert.equal(o.nonempty, true);
    assert.equal(o.fsname, 'myvol');
    assert.equal(o.cacheSize, 128 * 2 ** 20);
    assert.equal(o.writeBuffer, 16 * 2 ** 20);
    assert.equal(o.diskCacheSize, 2 * 2 ** 30);
    assert.equal(o.defaultPermissions, false);
    const list = fuseOptionList(o);
    assert.ok(list.includes('allow_other') && list.includes('ro') && list.includes('kernel_cache') && list.includes('nonempty'));
    assert.ok(!list.includes('default_permissions'));
    assert.ok(!list.includes('auto_cache'), 'kernel_cache replaces auto_cache');
  });

  it('round-trips through formatMountOptions (what the background daemon receives)', () => {
    const o = parseMountOptions(['allow_other,no_auto_cache,cache_size=1G,disk_cache_size=0,fsname=x']);
    assert.deepEqual(parseMountOptions([formatMountOptions(o)]), o);
    const d = parseMountOptions([]);
    assert.deepEqual(parseMountOptions([formatMountOptions(d)]), d);
  });

  it('accepts fstab noise (defaults, noauto, x-*, nodev...) and ignores it', () => {
    assert.deepEqual(parseMountOptions(['defaults,noauto,nofail,_netdev,x-systemd.automount,nodev,nosuid,rw']), parseMountOptions([]));
  });

  it('rejects unknown options and bad values with clear messages', () => {
    assert.throws(() => parseMountOptions(['bogus']), (e: Error) => e instanceof MountOptionError && /unknown mount option "bogus"/.test(e.message));
    assert.throws(() => parseMountOptions(['attr_timeout=abc']), /attr_timeout needs a number/);
    assert.throws(() => parseMountOptions(['attr_timeout=-1']), /attr_timeout needs a number/);
    assert.throws(() => parseMountOptions(['cache_size=lots']), /not a size/);
    assert.throws(() => parseMountOptions(['cache_size']), /needs a value/);
    assert.throws(() => parseMountOptions(['ro=1']), /takes no value/);
    assert.throws(() => parseMountOptions(['fsname=a b']), /fsname/);
  });

  it('binding=fuse-native selects fuse-native, with no attr cache unless attr_timeout is given (hard links)', () => {
    assert.equal(parseMountOptions(['binding=fuse-native']).binding, 'fuse-native');
    assert.equal(parseMountOptions(['binding=fuse-native']).attrTimeout, 0);
    assert.equal(parseMountOptions(['attr_timeout=2,binding=fuse-native']).attrTimeout, 2);
    assert.equal(parseMountOptions(['binding=kernel']).attrTimeout, 1);
    const k = parseMountOptions(['binding=fuse-native,attr_timeout=3']);
    assert.deepEqual(parseMountOptions([formatMountOptions(k)]), k);
    assert.throws(() => parseMountOptions(['binding=libfuse3']), (e: unknown) => e instanceof MountOptionError && /fuse-native or kernel/.test(e.message));
  });

  it('parses sizes with binary units', () => {
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('64K'), 65536);
    assert.equal(parseSize('1.5GiB'), 1.5 * 2 ** 30);
    assert.equal(parseSize('2m'), 2 * 2 ** 20);
  });
});

describe('mountinfo parsing', () => {
  it('finds mount points, fs types and sources, unescaping octal escapes', () => {
    const text = [
      '22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw',
      '42 27 0:39 / /tmp/a\\040b rw,nosuid,nodev,relatime - fuse.mosaicfs mosaicfs rw,user_id=0,group_id=0',
      '',
    ].join('\n');
    const m = parseMountinfo(text);
    assert.equal(m.length, 2);
    assert.deepEqual(m[1], { mountPoint: '/tmp/a b', fsType: 'fuse.mosaicfs', source: 'mosaicfs' });
    assert.deepEqual(m[0], { mountPoint: '/', fsType: 'ext4', source: '/dev/vda' });
  });
});
