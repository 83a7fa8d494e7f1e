import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { checkBlockSize, validateStoreConfig, type StoreConfig } from '../../volume/config.js';
import { BLOCKS_DIR, initVolume } from '../../volume/Volume.js';
import { UsageError } from '../errors.js';
import { resolveSecret } from '../../volume/secret.js';
import { addSecretOptions, secretOptionsOf } from '../secretOptions.js';
import { formatBytes, parseSize } from '../units.js';
import { verb } from '../verb.js';

/** Flags that describe backends (docs/BACKENDS.md). A spec is local[:PATH], s3://BUCKET[/PREFIX], discord or peers. */
interface StoreFlags {
  store?: string;
  storeConfig?: string;
  s3Endpoint?: string;
  s3Region?: string;
  s3PathStyle?: boolean;
  discordChannel?: string[];
  discordTokensFile?: string;
  discordTokensEnv?: string;
  discordApi?: string;
  peer?: string[];
  replicas?: string;
  clusterSecretFile?: string;
  clusterSecretEnv?: string;
  discoveryPort?: string;
  discovery?: boolean;
  replica?: string[];
  writeQuorum?: string;
  fast?: string;
  slow?: string;
  move?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerInit(program: Command): void {
  addSecretOptions(
    program
      .command('init')
      .description('create a new, empty, encrypted volume in folder DIR')
      .argument('<dir>', 'volume folder (created if missing; must be empty)')
      .option('--block-size <size>', 'block size, e.g. 1M, 4M (64K..10M, a multiple of 4K)', '4M')
      .option('--store <spec>', 'where blocks live: local[:PATH] (default), s3://BUCKET[/PREFIX], discord, peers, replicate, tiered')
      .option('--store-config <file>', 'a JSON store tree (see docs/BACKENDS.md) instead of --store')
      .option('--s3-endpoint <url>', 'S3-compatible endpoint (MinIO, Ceph, ...); absent = AWS')
      .option('--s3-region <region>', 'S3 region (default us-east-1 with an endpoint)')
      .option('--s3-path-style', 'path-style S3 URLs (most S3-compatible servers need it)')
      .option('--discord-channel <id>', 'Discord channel id to store blocks in (repeat to shard over several)', collect)
      .option('--discord-tokens-file <file>', 'file with the bot tokens, one a line (else $MOSAICFS_DISCORD_TOKENS)')
      .option('--discord-tokens-env <name>', 'environment variable holding the bot tokens, comma-separated')
      .option('--discord-api <url>', 'Discord API base URL (default https://discord.com/api/v10)')
      .option('--peer <host:port>', 'a mosaicfs node (repeatable)', collect)
      .option('--replicas <n>', 'copies of each block on peer nodes (default 2)')
      .option('--cluster-secret-file <file>', 'file with the peers\' cluster secret (else $MOSAICFS_CLUSTER_SECRET)')
      .option('--cluster-secret-env <name>', 'environment variable holding the cluster secret')
      .option('--discovery-port <port>', 'UDP discovery port of the peers (default 7946)')
      .option('--no-discovery', 'find peer nodes only through --peer')
      .option('--replica <spec>', 'with --store replicate: one replica (repeatable; specs as for --store)', collect)
      .option('--write-quorum <n>', 'with --store replicate: copies stored before a write returns (default all)')
      .option('--fast <spec>', 'with --store tiered: the tier written first (default local:blocks)')
      .option('--slow <spec>', 'with --store tiered: the tier blocks move to')
      .option('--move', 'with --store tiered: delete the fast copy once the slow tier has it (default: keep it as a cache)'),
  ).action(verb(async (dir: string, opts: StoreFlags & { blockSize: string; passphraseFile?: string; keyFile?: string }) => {
    const blockSize = parseSize(opts.blockSize);
    try {
      checkBlockSize(blockSize);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const store = await storeFromFlags(opts);
    const secret = await resolveSecret({ ...secretOptionsOf(opts), confirm: true });
    await initVolume(dir, { secret, blockSize, store });
    process.stdout.write(`initialised volume ${dir} (block size ${formatBytes(blockSize)}, store ${describe(store)})\n`);
  }));
}

/** The store tree the flags describe, validated (UsageError on a bad flag). */
export async function storeFromFlags(opts: StoreFlags): Promise<StoreConfig> {
  let raw: unknown;
  if (opts.storeConfig !== undefined) {
    if (opts.store !== undefined) throw new UsageError('give either --store or --store-config, not both');
    let text: string;
    try {
      text = await fs.readFile(opts.storeConfig, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --store-config ${opts.storeConfig}: ${(err as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--store-config ${opts.storeConfig} is not valid JSON: ${(err as Error).message}`);
    }
  } else {
    raw = fromSpec(opts.store ?? 'local', opts, true);
  }
  try {
    return validateStoreConfig(raw, 'store');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function fromSpec(spec: string, o: StoreFlags, top: boolean): unknown {
  const int = (v: string | undefined, flag: string): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new UsageError(`${flag} must be a whole number, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  // Secret files are read relative to the volume folder later: store them absolute so the
  // path the user typed (relative to where they ran init) keeps meaning the same file.
  const abs = (f: string | undefined): string | undefined => (f === undefined ? undefined : path.resolve(f));
  if (spec === 'local' || spec.startsWith('local:')) return { type: 'local', path: spec.slice('local:'.length) || BLOCKS_DIR };
  const s3 = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(spec);
  if (s3) {
    return dropUndefined({
      type: 's3', bucket: s3[1], prefix: s3[2]?.replace(/\/+$/, '') || undefined,
      endpoint: o.s3Endpoint, region: o.s3Region, forcePathStyle: o.s3PathStyle || undefined,
    });
  }
  switch (spec) {
    case 'discord':
      if (!o.discordChannel?.length) throw new UsageError('--store discord needs at least one --discord-channel ID');
      return dropUndefined({
        type: 'discord', channels: o.discordChannel, tokensFile: abs(o.discordTokensFile), tokensEnv: o.discordTokensEnv,
        apiBase: o.discordApi, indexPath: 'discord-index.db',
      });
    case 'peers':
      return dropUndefined({
        type: 'peers', peers: o.peer, replicas: int(o.replicas, '--replicas'), secretFile: abs(o.clusterSecretFile),
        secretEnv: o.clusterSecretEnv, discoveryPort: int(o.discoveryPort, '--discovery-port'), discovery: o.discovery === false ? false : undefined,
      });
    case 'replicate':
      if (!top) throw new UsageError('nested compositions need --store-config FILE');
      if ((o.replica?.length ?? 0) < 2) throw new UsageError('--store replicate needs at least two --replica SPEC');
      return dropUndefined({ type: 'replicate', stores: o.replica!.map((r) => fromSpec(r, o, false)), writeQuorum: int(o.writeQuorum, '--write-quorum') });
    case 'tiered':
      if (!top) throw new UsageError('nested compositions need --store-config FILE');
      if (!o.slow) throw new UsageError('--store tiered needs --slow SPEC (and optionally --fast SPEC)');
      return dropUndefined({ type: 'tiered', fast: fromSpec(o.fast ?? 'local', o, false), slow: fromSpec(o.slow, o, false), keepFast: o.move ? false : undefined });
    default:
      throw new UsageError(`unknown store ${JSON.stringify(spec)}: use local[:PATH], s3://BUCKET[/PREFIX], discord, peers, replicate or tiered`);
  }
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function describe(s: StoreConfig): string {
  switch (s.type) {
    case 'local': return `local:${s.path}`;
    case 's3': return `s3://${s.bucket}${s.prefix ? `/${s.prefix}` : ''}`;
    case 'discord': return `discord (${s.channels.length} channel${s.channels.length === 1 ? '' : 's'})`;
    case 'peers': return `peers (${s.replicas ?? 2} copies)`;
    case 'replicate': return `replicate(${s.stores.map(describe).join(', ')})`;
    case 'tiered': return `tiered(${describe(s.fast)} -> ${describe(s.slow)})`;
  }
}
