import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MountedVolume } from '../helpers/mountFixture.js';
import { waitFor } from '../helpers/mountinfo.js';
import { randomInt, seededRandom } from '../helpers/rng.js';
import { describeRun } from '../helpers/run.js';
import { WriteStorm } from '../helpers/writeStorm.js';

const SEEDS = (process.env.MOSAICFS_CRASH_SEEDS ?? '1,2,3').split(',').map(Number);

describe('crash durability: SIGKILL of the mount daemon during a write storm', () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: every fsync'd byte survives, and fsck is clean`, async (t) => {
      const fx = await MountedVolume.create({ after: (fn) => t.after(fn) });
      const storm = new WriteStorm(fx.mnt, seed);
      storm.start();

      // Let the storm get going: some files fully fsync'd, then a random extra moment.
      const rand = seededRandom(seed * 7919);
      const warmedUp = await waitFor(() => storm.durable.size >= 2 && storm.completedWrites >= 50, 60_000, 10);
      assert.ok(warmedUp, `storm did not get going: ${storm.durable.size} durable files, ${storm.completedWrites} writes\n${fx.daemonOutput()}`);
      await sleep(randomInt(rand, 0, 400));
      const inFlight = await waitFor(() => storm.inFlight > 0, 5000, 1);
      assert.ok(inFlight, 'no operation in flight to interrupt');
      const inFlightAtKill = storm.inFlight;
      process.kill(fx.pid, 'SIGKILL');

      const errors = await storm.stop();
      await fx.cleanDeadMount();
      assert.ok(inFlightAtKill > 0);
      assert.ok(errors.length > 0, 'writers still running at the kill must have failed (the daemon died under them)');

      await fx.mount();
      for (const [name, content] of storm.durable) {
        const back = await fs.readFile(path.join(fx.mnt, name));
        assert.equal(back.length, content.length, `${name}: size after crash`);
        assert.ok(back.equals(content), `${name}: content after crash differs`);
      }
      for (const [name, { data, syncedLength }] of storm.appends) {
        const back = await fs.readFile(path.join(fx.mnt, name));
        assert.ok(back.length >= syncedLength, `${name}: ${back.length} bytes, but ${syncedLength} were fsync'd`);
        assert.ok(back.subarray(0, syncedLength).equals(data.subarray(0, syncedLength)), `${name}: fsync'd prefix differs`);
      }
      t.diagnostic(`durable files ${storm.durable.size}, writes ${storm.completedWrites}, in flight at kill ${inFlightAtKill}`);
      await fx.unmount();
      const fsck = await fx.fsck();
      assert.equal(fsck.code, 0, describeRun('mosaicfs fsck after the crash', fsck));
    });
  }
});
