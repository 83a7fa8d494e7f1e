import type { Command } from 'commander';
import { clusterKey } from '../../peers/auth.js';
import { Membership } from '../../peers/Membership.js';
import { peerAgent } from '../../peers/PeerClient.js';
import { DEFAULT_DISCOVERY_PORT, DEFAULT_REPLICAS } from '../../peers/protocol.js';
import { repairCluster } from '../../peers/repair.js';
import { readClusterSecret } from '../../peers/secret.js';
import { ReportedFailure, UsageError } from '../errors.js';
import { writeStdout } from '../output.js';
import { verb } from '../verb.js';
import { parseHostPort } from './node.js';

interface RepairCliOptions {
  peer: string[];
  secretFile?: string;
  replicas: string;
  discoveryPort: string;
  discovery: boolean;
  discoveryAddress: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerRepair(program: Command): void {
  program
    .command('repair')
    .description('restore R copies of every block in a peer cluster; report blocks that are lost (exit 1 if any)')
    .option('--peer <host:port>', 'a node of the cluster (repeatable; the others are found through it)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--secret-file <file>', 'cluster secret file (default: $MOSAICFS_CLUSTER_SECRET)')
    .option('--replicas <n>', 'copies each block should have', String(DEFAULT_REPLICAS))
    .option('--discovery-port <port>', 'UDP discovery port', String(DEFAULT_DISCOVERY_PORT))
    .option('--no-discovery', 'no UDP discovery (use --peer)')
    .option('--discovery-address <addr>', 'broadcast address for discovery probes', '255.255.255.255')
    .option('--dry-run', 'report only; change nothing')
    .option('--json', 'machine-readable output')
    .action(verb(async (opts: RepairCliOptions) => {
      for (const p of opts.peer) parseHostPort(p, '--peer');
      const replicas = Number(opts.replicas);
      if (!Number.isInteger(replicas) || replicas < 1) throw new UsageError(`invalid --replicas ${opts.replicas}`);
      if (!opts.discovery && opts.peer.length === 0) throw new UsageError('give --peer host:port or allow discovery');
      const agent = peerAgent();
      const membership = new Membership({
        key: clusterKey(await readClusterSecret({ secretFile: opts.secretFile })),
        dispatcher: agent, seeds: opts.peer,
        discovery: opts.discovery ? { port: Number(opts.discoveryPort), address: opts.discoveryAddress } : undefined,
        heartbeatMs: 1000,
      });
      try {
        await membership.refresh();
        await membership.refresh(); // members learned by gossip get their first heartbeat
        const members = membership.all();
        if (membership.alive().length === 0) throw new Error(`no peer node answered (${members.map((m) => m.address).join(', ') || 'none found'})`);
        const report = await repairCluster({ replicas, members, dryRun: opts.dryRun });
        const down = members.filter((m) => m.state !== 'alive').map((m) => m.address);
        if (opts.json) {
          await writeStdout(JSON.stringify({ nodes: members.length, down, ...report }) + '\n');
        } else {
          const lines = [
            `${members.length - down.length} of ${members.length} node(s) alive${down.length ? ` (down: ${down.join(', ')})` : ''}`,
            `${report.checked} block(s) checked in ${report.namespaces.length} namespace(s): ${report.copied} copied, ` +
              `${report.dropped} surplus removed, ${report.purged} deleted copies purged`,
            ...report.underReplicated.map((u) => `UNDER-REPLICATED ${u.ns}/${u.id}: ${u.copies} of ${replicas} copies`),
            ...report.lost.map((l) => `LOST ${l.ns}/${l.id} (was on ${l.lastHolders.join(', ') || 'unknown nodes'})`),
          ];
          await writeStdout(lines.join('\n') + '\n');
        }
        if (report.lost.length || report.underReplicated.length) {
          if (!opts.json) process.stderr.write(`mosaicfs: ${report.lost.length} block(s) lost, ${report.underReplicated.length} under-replicated\n`);
          throw new ReportedFailure(1);
        }
      } finally {
        membership.stop();
        await agent.close();
      }
    }));
}
