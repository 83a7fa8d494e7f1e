// sshfs of a local folder through our own sshd on the loopback interface.
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LoopbackSshd } from './loopbackSshd.js';
import { ProcessMountTarget, type MountCommand } from './ProcessMountTarget.js';

export class SshfsTarget extends ProcessMountTarget {
  readonly label = 'sshfs';
  readonly description =
    'sshfs -f 127.0.0.1:<local folder> via a private sshd (sftp-server), options: IdentityFile, no host key check; caching/ciphers default';
  private sshd: LoopbackSshd | undefined;

  protected override async prepare(): Promise<void> {
    const dir = path.join(this.tempDir, 'ssh');
    await mkdir(dir, { mode: 0o700 });
    this.sshd = new LoopbackSshd(dir);
    await this.sshd.start();
  }

  protected mountCommand(): MountCommand {
    if (!this.sshd) throw new Error('sshd not started');
    return {
      cmd: 'sshfs',
      args: [
        `${os.userInfo().username}@127.0.0.1:${this.backingDir}`,
        this.mountPoint,
        '-f',
        '-p', String(this.sshd.port),
        '-o', `IdentityFile=${this.sshd.clientKey}`,
        '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null',
        '-o', 'BatchMode=yes',
        '-o', 'LogLevel=ERROR',
      ],
    };
  }

  protected override async cleanup(): Promise<void> {
    await this.sshd?.stop();
  }
}
