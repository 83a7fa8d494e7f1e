import { AesGcmBlockCodec } from '../../crypto/AesGcmBlockCodec.js';
import { VolumeError } from '../../errors.js';
import { BLOCK_SIZE_ALIGN } from '../../volume/config.js';

/** Discord's default per-file upload limit (10 MiB since 2025-01-16, for bots too). */
export const DISCORD_ATTACHMENT_LIMIT = 10 * 1024 * 1024;

// Only the sealed size is needed; it does not depend on the keys.
const codec = new AesGcmBlockCodec({ idKey: Buffer.alloc(32), encKey: Buffer.alloc(32) });

/** The largest block size whose sealed blocks fit one Discord attachment. */
export function maxDiscordBlockSize(limit = DISCORD_ATTACHMENT_LIMIT): number {
  let size = Math.floor(limit / BLOCK_SIZE_ALIGN) * BLOCK_SIZE_ALIGN;
  while (size > 0 && codec.sealedSize(size) > limit) size -= BLOCK_SIZE_ALIGN;
  return size;
}

/** Throws VolumeError unless a sealed block of `blockSize` plaintext bytes fits one attachment. */
export function checkDiscordBlockSize(blockSize: number, limit = DISCORD_ATTACHMENT_LIMIT): void {
  const sealed = codec.sealedSize(blockSize);
  if (sealed > limit) {
    throw new VolumeError(
      `block size ${blockSize} is too large for Discord: a sealed block is ${sealed} bytes and an attachment may be at most ${limit}; use at most ${maxDiscordBlockSize(limit)}`,
    );
  }
}
