// Backend throughput through a real mosaicfs MOUNT (FUSE, the CLI's `mount -f` daemon): sequential
// write + fsync and cold sequential read of N MiB, for S3 (s3rver), Discord (the emulator with known
// rate limits), peers R=2 over 3 nodes and one node alone, each against that backend's ceiling
// measured in the same run:
//   S3       the AWS SDK alone (PutObject/GetObject of the same block size, same parallelism)
//   Discord  the emulator's rate-limit ceiling (uploads/s allowed x block size); reads: n/a (CDN)
//   peers    one node alone via direct authenticated HTTP puts/gets
// Targets: >= 0.7x of the ceiling; peers R=2 >= 0.5x of a single node.
//   npx tsc -p . && node dist/bench/backends/mount.js [--quick] [--mib N]
// Not part of npm test. Needs FUSE (/dev/fuse, fusermount).
import * as http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { clusterKey } from '../../src/peers/auth.js';
import { peerAgent, PeerClient } from '../../src/peers/PeerClient.js';
import { startDiscordEmulator, type RouteLimit } from '../../test/emulators/discord/index.js';
import { emergencyCleanup } from '../../test/helpers/cleanup.js';
import { MountedVolume } from '../../test/helpers/mountFixture.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../../test/helpers/s3Server.js';
import { TestCluster } from '../../test/peers/cluster.js';
import { makeBlocks, runPool, timed, type Throughput } from './common.js';

const MiB = 1024 * 1024;
/** The data layer's uploads in flight in a mount (ChunkedFileData default): the ceilings use the same. */
const MOUNT_PARALLELISM = 4;
const IO_BYTES = MiB;

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

interface Row {
  backend: string;
  ceilingLabel: string;
  ceilingWrite: Throughput;
  ceilingRead?: Throughput;
  write: Throughput;
  read: Throughput;
  target: number;
}

/** Cleanups registered like node:test after() hooks, run in reverse at the end of each backend. */
class Cleanups {
  private fns: (() => Promise<void> | void)[] = [];
  readonly add = (fn: () => Promise<void> | void): void => { this.fns.push(fn); };
  async run(): Promise<void> {
    for (const fn of this.fns.reverse()) {
      try { await fn(); } catch (err) { console.error('cleanup:', err); }
    }
    this.fns = [];
  }
}

/**
 * `mosaicfs init` with initArgs, `mount -f`, write `bytes` sequentially in 1 MiB writes + fsync
 * (timed, close included), remount (not timed), read it all back sequentially (timed, cold: a new
 * mount has no page cache and the daemon no block cache), compare checksums.
 */
async function throughMount(label: string, initArgs: string[], bytes: number, cleanups: Cleanups): Promise<{ write: Throughput; read: Throughput }> {
  const fx = await MountedVolume.create({ after: cleanups.add, initArgs });
  const file = path.join(fx.mnt, 'bench.bin');
  const chunk = randomBytes(IO_BYTES);
  const wrote = createHash('sha256');
  const write = await timed(`${label} write+fsync`, bytes, async () => {
    const fh = await fs.open(file, 'w', 0o644);
    try {
      for (let off = 0, i = 0; off < bytes; off += IO_BYTES, i++) {
        chunk.writeUInt32BE(i, 0); // every block distinct: no dedup
        const n = Math.min(IO_BYTES, bytes - off);
        await fh.write(chunk, 0, n, off);
        wrote.update(chunk.subarray(0, n));
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
  });
  await fx.remount();
  const readHash = createHash('sha256');
  const buf = Buffer.alloc(IO_BYTES);
  const read = await timed(`${label} cold read`, bytes, async () => {
    const fh = await fs.open(file, 'r');
    try {
      let got = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, IO_BYTES, got);
        if (bytesRead === 0) break;
        readHash.update(buf.subarray(0, bytesRead));
        got += bytesRead;
      }
      if (got !== bytes) throw new Error(`${label}: read ${got} of ${bytes} bytes`);
    } finally {
      await fh.close();
    }
  });
  if (readHash.digest('hex') !== wrote.digest('hex')) throw new Error(`${label}: the bytes read back differ from the bytes written`);
  await fx.unmount();
  return { write, read };
}

async function s3Row(bytes: number, cleanups: Cleanups): Promise<Row> {
  const server = await startS3Server('bench-mount');
  cleanups.add(() => server.stop());
  const blockSize = 4 * MiB;
  const blocks = makeBlocks(Math.ceil(bytes / blockSize), blockSize);
  const sdk = new S3Client({
    endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: MOUNT_PARALLELISM }) },
  });
  const ceilingWrite = await timed('SDK alone put', bytes, () => runPool(blocks, MOUNT_PARALLELISM, async (b) => {
    await sdk.send(new PutObjectCommand({ Bucket: server.bucket, Key: `sdk/${b.id}`, Body: b.data, ContentLength: b.data.length }));
  }));
  const ceilingRead = await timed('SDK alone get', bytes, () => runPool(blocks, MOUNT_PARALLELISM, async (b) => {
    const reply = await sdk.send(new GetObjectCommand({ Bucket: server.bucket, Key: `sdk/${b.id}` }));
    if ((await reply.Body!.transformToByteArray()).length !== b.data.length) throw new Error('SDK alone: short body');
  }));
  sdk.destroy();
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  const m = await throughMount('S3', ['--store', `s3://${server.bucket}/vol`, '--s3-endpoint', server.endpoint, '--s3-path-style'], bytes, cleanups);
  return { backend: 'S3 (s3rver)', ceilingLabel: `AWS SDK alone, ${MOUNT_PARALLELISM} in flight`, ceilingWrite, ceilingRead, ...m, target: 0.7 };
}

async function discordRow(bytes: number, cleanups: Cleanups): Promise<Row> {
  const tokens = ['bench-token-0.x.y', 'bench-token-1.x.y'];
  const channels = ['3300000000000000001', '3300000000000000002'];
  const globalLimit = 50;
  const route: RouteLimit = { limit: 5, windowMs: 1000 };
  const emu = await startDiscordEmulator({
    bots: tokens.map((token) => ({ token })), channels, globalLimit,
    routeLimits: { createMessage: route, getMessage: route, deleteMessage: route },
  });
  cleanups.add(() => emu.close());
  const blockSize = MiB;
  const uploadsPerSec = Math.min(tokens.length * globalLimit, (tokens.length * channels.length * route.limit * 1000) / route.windowMs);
  const ceilingMiBs = (uploadsPerSec * blockSize) / MiB;
  const ceilingWrite: Throughput = { label: 'rate-limit ceiling', bytes, seconds: bytes / MiB / ceilingMiBs, mibPerSec: ceilingMiBs };
  process.env.MOSAICFS_DISCORD_TOKENS = tokens.join(',');
  const m = await throughMount('Discord', ['--block-size', '1M', '--store', 'discord', ...channels.flatMap((c) => ['--discord-channel', c]), '--discord-api', emu.apiBase], bytes, cleanups);
  const limited = emu.requests((r) => r.status === 429).length;
  return {
    backend: `Discord (emulator, 429s: ${limited})`,
    ceilingLabel: `${uploadsPerSec} uploads/s x 1 MiB (${tokens.length} tokens x ${channels.length} channels, ${route.limit}/${route.windowMs} ms)`,
    ceilingWrite, ...m, target: 0.7,
  };
}

async function peersRows(bytes: number, cleanups: Cleanups): Promise<Row[]> {
  const cluster = await TestCluster.create();
  cleanups.add(() => cluster.stopAll());
  // Nodes 0-2 form the R=2 mesh; node 3 is the single node (the ceiling, and a mount of its own).
  const nodes = await Promise.all([0, 1, 2, 3].map((i) => cluster.start(i, ['--no-discovery', '--replicas', '0'])));
  const single = nodes[3];
  const blockSize = 4 * MiB;
  const blocks = makeBlocks(Math.ceil(bytes / blockSize), blockSize);
  const agent = peerAgent();
  cleanups.add(() => agent.close());
  const client = new PeerClient(single.address, clusterKey(cluster.secret), agent);
  const ceilingWrite = await timed('one node, direct HTTP put', bytes, () => runPool(blocks, MOUNT_PARALLELISM, (b) => client.put('ceiling', b.id, b.data)));
  const ceilingRead = await timed('one node, direct HTTP get', bytes, () => runPool(blocks, MOUNT_PARALLELISM, async (b) => {
    if ((await client.get('ceiling', b.id))?.length !== b.data.length) throw new Error('single node: short block');
  }));
  const flags = (addrs: string[], r: number): string[] => [
    '--store', 'peers', ...addrs.flatMap((a) => ['--peer', a]), '--replicas', String(r), '--cluster-secret-file', cluster.secretFile, '--no-discovery',
  ];
  const mesh = await throughMount('peers R=2', flags(nodes.slice(0, 3).map((n) => n.address), 2), bytes, cleanups);
  const alone = await throughMount('peers 1 node', flags([single.address], 1), bytes, cleanups);
  const ceilingLabel = `one node alone, direct HTTP, ${MOUNT_PARALLELISM} in flight`;
  return [
    { backend: 'peers R=2 over 3 nodes', ceilingLabel, ceilingWrite, ceilingRead, ...mesh, target: 0.5 },
    { backend: 'peers, one node (R=1)', ceilingLabel, ceilingWrite, ceilingRead, ...alone, target: 0.7 },
  ];
}

function printRows(rows: Row[], bytes: number): void {
  const f = (t: Throughput | undefined): string => (t ? `${t.mibPerSec.toFixed(1)} MiB/s` : 'n/a');
  const ratio = (a: Throughput, b: Throughput | undefined, target: number): string => {
    if (!b) return 'n/a';
    const r = a.mibPerSec / b.mibPerSec;
    return `${r.toFixed(2)}x ${r >= target ? 'ok' : 'BELOW'}`;
  };
  const header = ['backend', 'mount write+fsync', 'ceiling write', 'ratio', 'mount cold read', 'ceiling read', 'ratio', 'target'];
  const table = rows.map((r) => [
    r.backend, f(r.write), f(r.ceilingWrite), ratio(r.write, r.ceilingWrite, r.target),
    f(r.read), f(r.ceilingRead), ratio(r.read, r.ceilingRead, r.target), `>= ${r.target}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
  const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i])).join(' | ') + ' |';
  console.log(`\nThrough a mount: ${bytes / MiB} MiB sequential, 1 MiB writes/reads, ${os.cpus().length} CPUs, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(line(header));
  console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
  for (const row of table) console.log(line(row));
  console.log('\nCeilings:');
  for (const r of rows) console.log(`  ${r.backend}: ${r.ceilingLabel}`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const quick = argv.includes('--quick');
  const mibArg = argv.indexOf('--mib');
  const mib = mibArg >= 0 ? Number(argv[mibArg + 1]) : quick ? 32 : 128;
  if (!Number.isInteger(mib) || mib <= 0) throw new Error('--mib must be a positive whole number');
  const bytes = mib * MiB;
  const discordBytes = Math.max(4, Math.round(mib / 2)) * MiB; // rate-limited: half keeps the run short
  const rows: Row[] = [];
  const cleanups = new Cleanups();
  try {
    console.log(`s3 ...`);
    rows.push(await s3Row(bytes, cleanups));
    await cleanups.run();
    console.log(`discord ...`);
    rows.push(await discordRow(discordBytes, cleanups));
    await cleanups.run();
    console.log(`peers ...`);
    rows.push(...await peersRows(bytes, cleanups));
  } finally {
    await cleanups.run();
    emergencyCleanup();
  }
  printRows(rows, bytes);
  console.log(`(Discord moves ${discordBytes / MiB} MiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  emergencyCleanup();
  process.exitCode = 1;
});
