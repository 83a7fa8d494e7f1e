/** DiscordBlockStore against the emulator: 429 storms, expiring and revoked URLs, bad tokens, sharding, token spread. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BlockNotFoundError } from '../../src/errors.js';
import { DiscordBlockStore } from '../../src/block/discord/DiscordBlockStore.js';
import { DiscordAccessError } from '../../src/block/discord/errors.js';
import { checkDiscordBlockSize, maxDiscordBlockSize } from '../../src/block/discord/blockSize.js';
import { randomBlock } from '../contract/blockStoreContract.js';
import { CHANNELS, discordFixture, TOKENS, type DiscordFixture } from '../emulators/discord/fixture.js';

async function withFixture(fx: DiscordFixture, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } finally {
    await fx.cleanup();
  }
}

describe('DiscordBlockStore on the emulator: faults and spreading', () => {
  it('a 429 storm (30% of API requests) fails no operation', async () => {
    const fx = await discordFixture();
    await withFixture(fx, async () => {
      const store = await fx.open();
      fx.emu.set({ storm: { rate: 0.3, retryAfterSec: 0.05 } });
      const blocks = Array.from({ length: 24 }, (_, i) => randomBlock(1000 + i));
      await Promise.all(blocks.map((b) => store.put(b.id, b.data)));
      fx.emu.revokeUrls(); // force every get through a message fetch, in the storm too
      const got = await Promise.all(blocks.map((b) => store.get(b.id)));
      got.forEach((g, i) => assert.ok(g.equals(blocks[i]!.data), `block ${i}`));
      await Promise.all(blocks.slice(0, 8).map((b) => store.delete(b.id)));
      for (const b of blocks.slice(0, 8)) assert.equal(await store.has(b.id), false);
      const storms = fx.emu.requests((r) => r.status === 429 && r.scope === 'shared').length;
      assert.ok(storms >= 5, `the storm hit ${storms} requests`);
      assert.equal(fx.emu.messageCount(), 16, 'one message per stored block, none duplicated by retries');
    });
  });

  it('a URL that expired between put and get is refreshed by fetching the message', async () => {
    const fx = await discordFixture({ urlTtlMs: 1000 });
    await withFixture(fx, async () => {
      const store = await fx.open();
      const b = randomBlock(5000);
      await store.put(b.id, b.data);
      const fetchesBefore = fx.emu.requests((r) => r.route === 'getMessage').length;
      assert.ok((await store.get(b.id)).equals(b.data), 'fresh URL from the upload');
      assert.equal(fx.emu.requests((r) => r.route === 'getMessage').length, fetchesBefore, 'the upload answer URL was used');
      await sleep(2100);
      assert.ok((await store.get(b.id)).equals(b.data));
      assert.ok((await store.getRange(b.id, 100, 50)).equals(b.data.subarray(100, 150)));
      assert.equal(fx.emu.requests((r) => r.route === 'getMessage').length, fetchesBefore + 1, 'one message fetch re-signed the URL');
      assert.equal(fx.emu.requests((r) => r.route === 'cdn' && r.status === 404).length, 0, 'expiry was seen before the CDN refused');
    });
  });

  it('a URL the CDN refuses (404) is re-signed once and the read succeeds', async () => {
    const fx = await discordFixture();
    await withFixture(fx, async () => {
      const store = await fx.open();
      const b = randomBlock(200_000);
      await store.put(b.id, b.data);
      fx.emu.revokeUrls();
      assert.ok((await store.getRange(b.id, 70_000, 1000)).equals(b.data.subarray(70_000, 71_000)));
      const cdn = fx.emu.requests((r) => r.route === 'cdn').map((r) => r.status);
      assert.deepEqual(cdn, [404, 206], 'refused, then a Range request on the fresh URL');
      // A message deleted behind the store's back is a missing block, not a hang or garbage.
      const other = randomBlock(300);
      await store.put(other.id, other.data);
      fx.emu.revokeUrls();
      assert.equal(fx.emu.deleteMessagesWithAttachment(other.id), 1);
      await assert.rejects(store.get(other.id), BlockNotFoundError);
    });
  });

  it('an invalid token fails open fast with a clear message and one request', async () => {
    const fx = await discordFixture();
    await withFixture(fx, async () => {
      const env = { MOSAICFS_DISCORD_TOKENS: 'not-a-real-token' };
      const started = Date.now();
      await assert.rejects(DiscordBlockStore.open(fx.cfg, { volumeDir: fx.dir }, { env }), (err: unknown) => {
        assert.ok(err instanceof DiscordAccessError);
        assert.match(err.message, /Discord token rejected \(401\).*check MOSAICFS_DISCORD_TOKENS/);
        return true;
      });
      assert.ok(Date.now() - started < 2000);
      assert.equal(fx.emu.requests().length, 1, 'one request, no retries');
    });
  });

  it('a token revoked while running stops the backend: a handful of 401s, then no requests at all', async () => {
    const fx = await discordFixture({}, [TOKENS[0]!]);
    await withFixture(fx, async () => {
      const store = await fx.open();
      const stored = randomBlock(100);
      await store.put(stored.id, stored.data);
      fx.emu.revokeToken(TOKENS[0]!);
      const blocks = Array.from({ length: 60 }, () => randomBlock(500));
      const results = await Promise.allSettled(blocks.map((b) => store.put(b.id, b.data)));
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        assert.ok((r as PromiseRejectedResult).reason instanceof DiscordAccessError);
        assert.match(String((r as PromiseRejectedResult).reason.message), /Discord token rejected \(401\)/);
      }
      const unauthorized = fx.emu.requests((r) => r.status === 401).length;
      assert.ok(unauthorized >= 1 && unauthorized <= CHANNELS.length, `${unauthorized} requests hit 401 (one per queue at most)`);
      const total = fx.emu.requests().length;
      await assert.rejects(store.get(stored.id), DiscordAccessError);
      await assert.rejects(store.put(randomBlock(5).id, Buffer.from('x')), DiscordAccessError);
      await assert.rejects(store.delete(stored.id), DiscordAccessError);
      assert.equal(fx.emu.requests().length, total, 'a stopped backend sends nothing');
    });
  });

  it('a channel the bot cannot see stops open with a 403 naming the permissions', async () => {
    const fx = await discordFixture();
    await withFixture(fx, async () => {
      const hidden = await discordFixture({ bots: [{ token: 'limited', channels: [CHANNELS[0]!] }] }, ['limited']);
      await withFixture(hidden, async () => {
        await assert.rejects(hidden.open(), /Discord refused access \(403 Missing Access\) while checking channel/);
      });
    });
  });

  it('shards blocks over channels by id and spreads uploads over tokens', async () => {
    const fx = await discordFixture();
    await withFixture(fx, async () => {
      const store = await fx.open();
      const blocks = Array.from({ length: 90 }, () => randomBlock(2000));
      await Promise.all(blocks.map((b) => store.put(b.id, b.data)));
      for (const c of CHANNELS) {
        const expected = blocks.filter((b) => store.channelFor(b.id) === c).length;
        assert.equal(fx.emu.messageCount(c), expected, `channel ${c}`);
        assert.ok(expected >= 15, `channel ${c} holds ${expected} of 90`);
      }
      const uploads = fx.emu.requests((r) => r.route === 'createMessage' && r.status === 200);
      for (const t of TOKENS) {
        const n = uploads.filter((r) => r.token === t).length;
        assert.ok(n >= 25, `token ${t} sent ${n} of 90 uploads`);
      }
    });
  });

  it('the index survives a reopen and names ids, never URLs; deleting a block deletes its message', async () => {
    const fx = await discordFixture();
    await withFixture(fx, async () => {
      let store = await fx.open();
      const blocks = [randomBlock(0), randomBlock(10), randomBlock(70_000)];
      for (const b of blocks) await store.put(b.id, b.data);
      assert.equal(fx.emu.messageCount(), 2, 'the empty block needs no message');
      await store.sync();
      await store.close();
      store = await fx.open();
      for (const b of blocks) assert.ok((await store.get(b.id)).equals(b.data));
      await store.delete(blocks[2]!.id);
      assert.equal(fx.emu.messageCount(), 1);
      await assert.rejects(store.get(blocks[2]!.id), BlockNotFoundError);
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(path.join(fx.dir, fx.cfg.indexPath), { readonly: true });
      try {
        const dump = JSON.stringify(db.prepare('SELECT * FROM discord_blocks').all());
        assert.doesNotMatch(dump, /http|ex=|hm=/);
        assert.match(dump, new RegExp(blocks[1]!.id));
      } finally {
        db.close();
      }
    });
  });

  it('reads tokens from a file relative to the volume folder', async () => {
    const fx = await discordFixture();
    await withFixture(fx, async () => {
      await writeFile(path.join(fx.dir, 'tokens.txt'), `# bots\n${TOKENS.join('\n')}\n`);
      const store = await DiscordBlockStore.open({ ...fx.cfg, tokensFile: 'tokens.txt' }, { volumeDir: fx.dir }, { env: {} });
      try {
        const b = randomBlock(10);
        await store.put(b.id, b.data);
        assert.ok((await store.get(b.id)).equals(b.data));
        assert.match(store.name, /2 tokens/);
      } finally {
        await store.close();
      }
    });
  });

  it('checkDiscordBlockSize: sealed blocks must fit the 10 MiB attachment limit', () => {
    checkDiscordBlockSize(4 * 1024 * 1024);
    assert.equal(maxDiscordBlockSize(), 10 * 1024 * 1024 - 4096);
    checkDiscordBlockSize(maxDiscordBlockSize());
    assert.throws(() => checkDiscordBlockSize(10 * 1024 * 1024), /too large for Discord.*use at most 10481664/);
  });
});

