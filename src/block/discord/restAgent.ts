import { createRequire } from 'node:module';
import type { RESTOptions } from '@discordjs/rest';

type RestDispatcher = NonNullable<RESTOptions['agent']> & { close(): Promise<void> };

/**
 * A connection pool from the SAME undici that @discordjs/rest bundles (v6; ours is v7).
 *
 * Without an explicit agent, @discordjs/rest's `request()` uses undici's process-wide global
 * dispatcher, which is whichever undici loaded first: in the CLI and the mount daemon that is our
 * undici 7 (the peers client), and undici 7 cannot send undici 6's multipart FormData — every
 * upload failed with "action is not a function". Passing the REST client its own version's Agent
 * keeps the two apart.
 */
export function discordRestAgent(): RestDispatcher {
  const restRequire = createRequire(createRequire(import.meta.url).resolve('@discordjs/rest'));
  const { Agent } = restRequire('undici') as { Agent: new (opts?: object) => RestDispatcher };
  return new Agent({ connections: 64, keepAliveTimeout: 10_000 });
}
