// A private sshd on 127.0.0.1:<spare port> with its own host key and one authorized
// key, all in a temp dir: the system sshd and its config are never touched.
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile, chmod } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort, isAlive, run, startDaemon, stopChild, tailFile, sleep } from '../proc.js';

export const SSHD = '/usr/sbin/sshd';
const SFTP_SERVER = '/usr/lib/openssh/sftp-server';

export class LoopbackSshd {
  port = 0;
  readonly clientKey: string;
  private child: ChildProcess | undefined;
  private readonly logFile: string;

  constructor(private readonly dir: string) {
    this.clientKey = path.join(dir, 'client_key');
    this.logFile = path.join(dir, 'sshd.log');
  }

  async start(): Promise<void> {
    if (!existsSync(SSHD)) throw new Error(`${SSHD} missing: run scripts/bench-setup.sh`);
    await mkdir('/run/sshd', { recursive: true }).catch(() => {}); // privilege-separation dir sshd insists on
    const hostKey = path.join(this.dir, 'host_key');
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', this.clientKey]);
    const authorized = path.join(this.dir, 'authorized_keys');
    await run('cp', [`${this.clientKey}.pub`, authorized]);
    await chmod(authorized, 0o600);
    this.port = await freeLoopbackPort();
    const config = path.join(this.dir, 'sshd_config');
    await writeFile(
      config,
      [
        `Port ${this.port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${authorized}`,
        `AllowUsers ${os.userInfo().username}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'UsePAM no',
        `PidFile ${path.join(this.dir, 'sshd.pid')}`,
        `Subsystem sftp ${SFTP_SERVER}`,
        '',
      ].join('\n'),
    );
    // -D: stay in the foreground so we own the pid; -e: log to our file.
    this.child = startDaemon(SSHD, ['-D', '-e', '-f', config], this.logFile);
    await this.waitListening();
  }

  private async waitListening(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (!this.child || !isAlive(this.child)) throw new Error(`sshd exited: ${tailFile(this.logFile)}`);
      const ok = await new Promise<boolean>((resolve) => {
        const sock = connect(this.port, '127.0.0.1');
        sock.once('connect', () => {
          sock.destroy();
          resolve(true);
        });
        sock.once('error', () => resolve(false));
      });
      if (ok) return;
      await sleep(100);
    }
    throw new Error(`sshd not listening on 127.0.0.1:${this.port}: ${tailFile(this.logFile)}`);
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child);
    this.child = undefined;
  }
}
