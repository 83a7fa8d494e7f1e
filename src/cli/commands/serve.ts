import type { Command } from 'commander';
import { startServer } from '../../server/Server.js';
import { resolveServeSettings, serverOptionsOf, type ServeSettings } from '../../server/serveConfig.js';
import { log } from '../../util/log.js';

type ServeFlags = ServeSettings & { config?: string };

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run a mosaicfs server: many users, each with their own encrypted volume, over HTTP(S).\n' +
      'Settings: flags, else MOSAICFS_SERVE_DATA / _LISTEN / _META / _TLS_CERT / _TLS_KEY / _TOKEN_TTL / _GC_INTERVAL,\n' +
      'else the JSON file of --config (MOSAICFS_SERVE_CONFIG) with keys data, listen, meta, tlsCert, tlsKey,\n' +
      'tokenTtl, gcInterval, store. Stops gracefully on SIGTERM/SIGINT.')
    .option('--data <dir>', 'data folder (users, SQLite metadata, local blocks)')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:7070; port 0 = any free port)')
    .option('--meta <url>', 'postgres:// URL: keep metadata, users and leases in PostgreSQL (several servers may share it)')
    .option('--tls-cert <file>', 'TLS certificate (PEM); with --tls-key the server speaks HTTPS')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--token-ttl <duration>', 'login token lifetime (default 30d)')
    .option('--gc-interval <duration>', 'server-side garbage collection interval (default 1h, 0 = off)')
    .option('--config <file>', 'JSON config file with the same keys')
    .action(async (flags: ServeFlags) => {
      const opts = serverOptionsOf(await resolveServeSettings(flags));
      const server = await startServer(opts);
      process.stdout.write(`mosaicfs server listening on ${server.url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals): void => {
          log.info({ signal }, 'stopping the server');
          resolve();
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      await server.close();
      process.stdout.write('mosaicfs server stopped\n');
    });
}
