import { FsError } from '../../errors.js';

/**
 * Discord answered 401 or 403: the token is wrong or revoked, or the bot lacks access to a
 * channel. The backend stops (Discord bans IPs that keep sending invalid requests), so every later
 * call fails at once with this error. Reported as EIO.
 */
export class DiscordAccessError extends FsError {
  readonly status: number;
  constructor(status: number, detail: string) {
    super('EIO', detail);
    this.name = 'DiscordAccessError';
    this.status = status;
  }
}
