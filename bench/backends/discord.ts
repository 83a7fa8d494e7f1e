// Throughput of DiscordBlockStore against the emulator's rate-limit ceiling. The emulator's limits
// are set so the ceiling is known: uploads/s = min(tokens * global limit, tokens * channels *
// per-route limit / window), times the block size. Prints achieved MiB/s and the ratio (target
// >= 0.7x). Reads go to the CDN, which Discord does not rate-limit; their MiB/s is printed too.
//   npx tsx bench/backends/discord.ts [--count 240] [--block-mib 1] [--tokens 2] [--channels 4]
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DiscordBlockStore } from '../../src/block/discord/DiscordBlockStore.js';
import { startDiscordEmulator } from '../../test/emulators/discord/index.js';

const MiB = 1024 * 1024;

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`bad --${name}`);
  return v;
}

async function main(): Promise<void> {
  const count = arg('count', 240);
  const blockBytes = Math.round(arg('block-mib', 1) * MiB);
  const tokenCount = arg('tokens', 2);
  const channelCount = arg('channels', 4);
  const globalLimit = 50;
  const route = { limit: 5, windowMs: 1000 };
  const tokens = Array.from({ length: tokenCount }, (_, i) => `bench-token-${i}`);
  const channels = Array.from({ length: channelCount }, (_, i) => String(3300000000000000001n + BigInt(i)));
  const ceilingReqPerSec = Math.min(tokenCount * globalLimit, (tokenCount * channelCount * route.limit * 1000) / route.windowMs);
  const ceilingMiBs = (ceilingReqPerSec * blockBytes) / MiB;

  const emu = await startDiscordEmulator({
    bots: tokens.map((token) => ({ token })),
    channels,
    globalLimit,
    routeLimits: { createMessage: route, getMessage: route, deleteMessage: route },
  });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mosaicfs-bench-discord-'));
  const store = await DiscordBlockStore.open(
    { type: 'discord', channels, apiBase: emu.apiBase, indexPath: 'index.db' },
    { volumeDir: dir },
    { env: { MOSAICFS_DISCORD_TOKENS: tokens.join(',') } },
  );
  try {
    const blocks = Array.from({ length: count }, () => {
      const data = randomBytes(blockBytes);
      return { id: createHash('sha256').update(data).digest('hex'), data };
    });
    const t0 = performance.now();
    await Promise.all(blocks.map((b) => store.put(b.id, b.data)));
    const putSec = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await Promise.all(blocks.map((b) => store.get(b.id)));
    const getSec = (performance.now() - t1) / 1000;
    const putMiBs = (count * blockBytes) / MiB / putSec;
    const getMiBs = (count * blockBytes) / MiB / getSec;
    const limited = emu.requests((r) => r.status === 429).length;
    console.log(`Discord backend vs emulator ceiling: ${count} blocks of ${blockBytes / MiB} MiB, ${tokenCount} tokens x ${channelCount} channels`);
    console.log(`  limits: global ${globalLimit}/s per token, create message ${route.limit} per ${route.windowMs} ms per token and channel`);
    console.log(`  ceiling       ${ceilingReqPerSec.toFixed(0)} uploads/s = ${ceilingMiBs.toFixed(1)} MiB/s`);
    console.log(`  put           ${(count / putSec).toFixed(1)} uploads/s = ${putMiBs.toFixed(1)} MiB/s in ${putSec.toFixed(2)} s  -> ${(putMiBs / ceilingMiBs).toFixed(2)}x of the ceiling`);
    console.log(`  get (CDN)     ${getMiBs.toFixed(1)} MiB/s in ${getSec.toFixed(2)} s (not rate-limited)`);
    console.log(`  429 answers   ${limited}`);
  } finally {
    await store.close();
    await emu.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
