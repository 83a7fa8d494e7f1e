export { initVolume, openVolume, META_FILE, BLOCKS_DIR, type Volume, type InitOptions, type OpenOptions } from './Volume.js';
export { readConfig, checkBlockSize, CONFIG_FILE, DEFAULT_BLOCK_SIZE, type VolumeConfig, type StoreConfig } from './config.js';
export { acquireLock, readLock, LOCK_FILE, type LockInfo, type VolumeLock } from './lock.js';
export { resolveSecret, SecretError, PASSPHRASE_ENV, type VolumeSecret, type SecretOptions } from './secret.js';
export { PromptCancelledError } from './tty.js';
