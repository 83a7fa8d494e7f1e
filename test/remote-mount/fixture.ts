/**
 * A remote mount for suites written against MountedVolume: a fresh `mosaicfs serve` child with one
 * user, `mosaicfs login` into a temp config dir, then `mosaicfs mount -f URL MNT`. Everything is
 * stopped and removed through `after`.
 */
import { MountedVolume } from '../helpers/mountFixture.js';
import type { AfterHook } from '../helpers/tmp.js';
import { ServerProcess } from './serverProcess.js';

export const REMOTE_TEST_USER = { name: 'tester', password: 'remote mount test password' };

export async function startRemoteMount(after: AfterHook, mountArgs: string[] = []): Promise<{ fx: MountedVolume; server: ServerProcess }> {
  const server = await ServerProcess.start(after, [REMOTE_TEST_USER]);
  const fx = await MountedVolume.create({
    after,
    mountArgs,
    remote: { url: server.url, user: REMOTE_TEST_USER.name, password: REMOTE_TEST_USER.password },
  });
  return { fx, server };
}
