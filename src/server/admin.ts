import { randomBytes, randomUUID } from 'node:crypto';
import { FsError } from '../errors.js';
import { deriveLoginKeys, DEFAULT_LOGIN_KDF, makeAuthVerifier, newLoginSalt } from '../auth/passwordKeys.js';
import { checkScryptParams, generateVolumeKey, unwrapKeyWithKek, wrapKeyWithKek } from '../crypto/keys.js';
import { checkBlockSize, DEFAULT_BLOCK_SIZE } from '../volume/config.js';
import type { KdfParams } from '../remote/protocol.js';
import type { AccountStore, UserRecord } from './AccountStore.js';
import type { UserSpaces } from './UserSpaces.js';

/** Login names: 1-64 chars of [A-Za-z0-9._-], not starting with '.' or '-'. */
export const USER_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function checkUserName(name: string): void {
  if (typeof name !== 'string' || !USER_NAME_RE.test(name)) {
    throw new RangeError(`invalid user name ${JSON.stringify(name)}: 1-64 of A-Z a-z 0-9 . _ - (not starting with . or -)`);
  }
}

export interface NewUserOptions {
  name: string;
  password: string;
  blockSize?: number;
  /** Client-side login KDF (default DEFAULT_LOGIN_KDF; tests lower N). */
  kdf?: KdfParams;
  /** Server-side verifier cost (default that of makeAuthVerifier; tests lower it). */
  verifierN?: number;
  /** Owner of the new volume's root folder (default: the uid/gid of the process running this). */
  uid?: number;
  gid?: number;
}

/**
 * Create a user and their volume. The password is processed here exactly as a client would at
 * login (deriveLoginKeys): only the verifier of the auth key and the volume key wrapped by the KEK
 * are stored, so the server cannot unwrap the key afterwards.
 */
export async function createUser(accounts: AccountStore, spaces: UserSpaces, opts: NewUserOptions): Promise<UserRecord> {
  checkUserName(opts.name);
  if (opts.password.length === 0) throw new RangeError('an empty password is not allowed');
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK_SIZE;
  checkBlockSize(blockSize);
  const kdf = opts.kdf ?? DEFAULT_LOGIN_KDF;
  checkScryptParams(kdf);
  if (await accounts.getUserByName(opts.name)) throw new FsError('EEXIST', `user ${opts.name} exists`);

  const salt = newLoginSalt();
  const keys = await deriveLoginKeys(opts.password, salt, kdf);
  const volumeKey = generateVolumeKey();
  const volumeId = randomUUID();
  const user: UserRecord = {
    id: newUserId(),
    name: opts.name,
    loginSalt: salt.toString('base64'),
    loginKdf: kdf,
    verifier: await makeAuthVerifier(keys.authKey, opts.verifierN),
    volumeId,
    blockSize,
    wrappedKey: wrapKeyWithKek(volumeKey, keys.kek, volumeId),
    disabled: false,
    created: Date.now(),
  };
  volumeKey.fill(0);
  keys.kek.fill(0);
  await spaces.create(user.id, blockSize, { uid: opts.uid ?? process.getuid?.() ?? 0, gid: opts.gid ?? process.getgid?.() ?? 0, volumeId });
  try {
    await accounts.addUser(user);
  } catch (err) {
    await spaces.drop(user.id).catch(() => {});
    throw err;
  }
  return user;
}

/**
 * Admin-side password change: needs the old password (the volume key is re-wrapped, never
 * replaced). All of the user's tokens are revoked.
 */
export async function changePassword(
  accounts: AccountStore,
  name: string,
  oldPassword: string,
  newPassword: string,
  opts: { kdf?: KdfParams; verifierN?: number } = {},
): Promise<void> {
  const user = await requireUser(accounts, name);
  if (newPassword.length === 0) throw new RangeError('an empty password is not allowed');
  const oldKeys = await deriveLoginKeys(oldPassword, Buffer.from(user.loginSalt, 'base64'), user.loginKdf);
  const volumeKey = unwrapKeyWithKek(user.wrappedKey, oldKeys.kek, user.volumeId); // WrongPassphraseError if wrong
  const kdf = opts.kdf ?? user.loginKdf;
  const salt = newLoginSalt();
  const keys = await deriveLoginKeys(newPassword, salt, kdf);
  await accounts.updateCredentials(user.id, {
    loginSalt: salt.toString('base64'),
    loginKdf: kdf,
    verifier: await makeAuthVerifier(keys.authKey, opts.verifierN),
    wrappedKey: wrapKeyWithKek(volumeKey, keys.kek, user.volumeId),
  });
  volumeKey.fill(0);
  await accounts.deleteUserTokens(user.id);
}

export async function setUserDisabled(accounts: AccountStore, name: string, disabled: boolean): Promise<void> {
  const user = await requireUser(accounts, name);
  await accounts.setDisabled(user.id, disabled);
  if (disabled) await accounts.deleteUserTokens(user.id);
}

/** Delete the user, their tokens and their whole namespace (metadata and blocks). */
export async function deleteUser(accounts: AccountStore, spaces: UserSpaces, name: string): Promise<void> {
  const user = await requireUser(accounts, name);
  await accounts.deleteUser(user.id);
  await spaces.drop(user.id);
}

export async function requireUser(accounts: AccountStore, name: string): Promise<UserRecord> {
  const user = await accounts.getUserByName(name);
  if (!user) throw new FsError('ENOENT', `no user named ${name}`);
  return user;
}

function newUserId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(16)].map((b) => alphabet[b % alphabet.length]).join('');
}
