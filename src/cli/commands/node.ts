import type { Command } from 'commander';
import { PeerNode } from '../../peers/Node.js';
import { DEFAULT_DISCOVERY_PORT } from '../../peers/protocol.js';
import { readClusterSecret } from '../../peers/secret.js';
import { log } from '../../util/log.js';
import { UsageError } from '../errors.js';
import { parseDuration, parseSize } from '../units.js';

interface NodeCliOptions {
  data: string;
  listen: string;
  advertise?: string;
  capacity: string;
  secretFile?: string;
  peer: string[];
  discoveryPort: string;
  discovery: boolean;
  discoveryAddress: string;
  heartbeat: string;
  deadAfter: string;
  scrubInterval: string;
  replicas: string;
}

/** "host:port" -> parts (IPv6 as [::1]:port). */
export function parseHostPort(text: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`invalid ${what} ${JSON.stringify(text)} (use host:port)`);
  return { host: m[1] ?? m[2], port };
}

export function registerNode(program: Command): void {
  program
    .command('node')
    .description('run a peer node: lend disk space to a mosaicfs peer cluster (blocks are encrypted by the clients)')
    .requiredOption('--data <dir>', 'folder where this node keeps blocks')
    .requiredOption('--listen <host:port>', 'HTTP address to serve blocks on (port 0: any free port)')
    .option('--advertise <host:port>', 'address announced to peers (default: the listen address)')
    .option('--capacity <size>', 'disk space lent to the cluster (e.g. 50G)', '10G')
    .option('--secret-file <file>', 'cluster secret file (default: $MOSAICFS_CLUSTER_SECRET)')
    .option('--peer <host:port>', 'a static peer (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--discovery-port <port>', 'UDP discovery port', String(DEFAULT_DISCOVERY_PORT))
    .option('--no-discovery', 'no UDP discovery (static peers only)')
    .option('--discovery-address <addr>', 'broadcast address for discovery probes', '255.255.255.255')
    .option('--heartbeat <duration>', 'heartbeat period', '2s')
    .option('--dead-after <duration>', 'silence after which a peer is dead', '10s')
    .option('--scrub-interval <duration>', 'background scrub period (tombstones, catalog, repair)', '60s')
    .option('--replicas <n>', 'copies the background repair keeps (0: no background repair)', '2')
    .action(async (opts: NodeCliOptions) => {
      const { host, port } = parseHostPort(opts.listen, '--listen');
      for (const p of opts.peer) parseHostPort(p, '--peer');
      const discoveryPort = Number(opts.discoveryPort);
      if (opts.discovery && !(Number.isInteger(discoveryPort) && discoveryPort > 0 && discoveryPort < 65536)) {
        throw new UsageError(`invalid --discovery-port ${opts.discoveryPort}`);
      }
      const replicas = Number(opts.replicas);
      if (!Number.isInteger(replicas) || replicas < 0) throw new UsageError(`invalid --replicas ${opts.replicas}`);
      const node = await PeerNode.start({
        dataDir: opts.data, host, port, advertise: opts.advertise,
        capacity: parseSize(opts.capacity),
        secret: await readClusterSecret({ secretFile: opts.secretFile }),
        peers: opts.peer,
        discoveryPort: opts.discovery ? discoveryPort : null,
        discoveryAddress: opts.discoveryAddress,
        heartbeatMs: parseDuration(opts.heartbeat),
        deadAfterMs: parseDuration(opts.deadAfter),
        scrubMs: parseDuration(opts.scrubInterval),
        replicas,
      });
      // One machine-readable line on stdout: scripts and tests learn the id and the real port.
      process.stdout.write(JSON.stringify({ event: 'listening', id: node.id, address: node.address }) + '\n');
      log.info({ id: node.id, address: node.address }, 'peer node listening');
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ signal }, 'peer node stopping');
          node.close().then(resolve, (err: unknown) => {
            log.error({ err }, 'peer node did not close cleanly');
            resolve();
          });
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
    });
}
