import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { deriveLoginKeys } from '../auth/passwordKeys.js';
import { unwrapKeyWithKek } from '../crypto/keys.js';
import { VolumeError, WrongPassphraseError } from '../errors.js';
import { configDir as defaultConfigDir, deleteSession, loadSession, normalizeUrl, saveSession, type SavedSession } from './credentials.js';
import { HttpClient } from './HttpClient.js';
import { ROUTES, type LoginRequest, type LoginResponse, type PreloginResponse } from './protocol.js';
import { ServerUnreachableError, ThrottledError } from './remoteErrors.js';

/** Wrong user name or password (the server does not say which). */
export class LoginFailedError extends Error {
  constructor(message = 'login failed: wrong user name or password') {
    super(message);
    this.name = 'LoginFailedError';
  }
}

export interface LoginOptions {
  url: string;
  user: string;
  password: string;
  configDir?: string;
  /** CA certificate (PEM file) for an https server with a private CA; remembered in the saved session. */
  caFile?: string;
  /** Client id to use for the login requests (a mounted session passes its own). */
  clientId?: string;
  /** How long to keep trying an unreachable server (default 5 s: a typo should fail fast). */
  retryForMs?: number;
}

/**
 * prelogin -> password KDF (authKey + KEK, src/auth/passwordKeys.ts) -> login -> unwrap the volume
 * key with the KEK -> save the session (token + volume key, mode 0600). The password and the KEK
 * never leave this process; the server gets only the authKey.
 */
export async function login(opts: LoginOptions): Promise<SavedSession> {
  const url = normalizeUrl(opts.url);
  const caFile = opts.caFile ? path.resolve(opts.caFile) : undefined;
  const ca = caFile ? await fs.readFile(caFile) : undefined;
  const http = new HttpClient({ url, ca, clientId: opts.clientId, retryForMs: opts.retryForMs ?? 5_000 });
  try {
    await checkServer(http);
    const pre = await http.json<PreloginResponse>('POST', ROUTES.prelogin, { user: opts.user }, { auth: false });
    const keys = await deriveLoginKeys(opts.password, Buffer.from(pre.salt, 'base64'), pre.kdf);
    try {
      const req: LoginRequest = { user: opts.user, authKey: keys.authKey.toString('base64') };
      const res = await http.request({ method: 'POST', path: ROUTES.login, json: req, auth: false, accept: [401, 403, 429] });
      if (res.status === 401) throw new LoginFailedError();
      if (res.status === 403) throw new LoginFailedError(`login refused: user ${opts.user} is disabled`);
      if (res.status === 429) throw new ThrottledError(retryAfterSec(res.headers['retry-after']));
      const body = JSON.parse(res.body.toString('utf8')) as LoginResponse;
      let volumeKey: Buffer;
      try {
        volumeKey = unwrapKeyWithKek(body.volume.wrappedKey, keys.kek, body.volume.volumeId);
      } catch (err) {
        if (err instanceof WrongPassphraseError) {
          throw new VolumeError('the server accepted the password but the volume key does not unwrap with it (was the password changed elsewhere?)');
        }
        throw err;
      }
      const session: SavedSession = {
        url, user: body.user, token: body.token, expiresAt: body.expiresAt, volumeId: body.volume.volumeId,
        blockSize: body.volume.blockSize, volumeKey: volumeKey.toString('base64'), ...(caFile ? { caFile } : {}),
      };
      volumeKey.fill(0);
      await saveSession(session, opts.configDir ?? defaultConfigDir());
      return session;
    } finally {
      keys.kek.fill(0);
      keys.authKey.fill(0);
    }
  } finally {
    await http.close();
  }
}

/** Revoke the saved token on the server (if it still answers) and delete the saved session. */
export async function logout(opts: { url: string; user?: string; configDir?: string; clientId?: string }): Promise<SavedSession> {
  const dir = opts.configDir ?? defaultConfigDir();
  const s = await loadSession(opts.url, opts.user, dir);
  const ca = s.caFile ? await fs.readFile(s.caFile).catch(() => undefined) : undefined;
  const http = new HttpClient({ url: s.url, token: s.token, ca, clientId: opts.clientId, retryForMs: 3_000 });
  try {
    // 401: already expired or revoked, which is what we want anyway.
    await http.request({ method: 'POST', path: ROUTES.logout, accept: [401] });
  } finally {
    await http.close();
    await deleteSession(s.url, s.user, dir);
  }
  return s;
}

async function checkServer(http: HttpClient): Promise<void> {
  let res;
  try {
    res = await http.request({ method: 'GET', path: ROUTES.health, auth: false, accept: [404] });
  } catch (err) {
    if (err instanceof ServerUnreachableError) throw new VolumeError(`cannot reach a mosaicfs server at ${http.url}: ${err.message}`);
    throw err;
  }
  let ok = false;
  try {
    ok = res.status === 200 && (JSON.parse(res.body.toString('utf8')) as { ok?: unknown }).ok === true;
  } catch {
    ok = false;
  }
  if (!ok) throw new VolumeError(`${http.url} does not look like a mosaicfs server (no /v1/health)`);
}

function retryAfterSec(h: string | string[] | undefined): number {
  const v = Number(Array.isArray(h) ? h[0] : h);
  return Number.isFinite(v) && v > 0 ? Math.ceil(v) : 1;
}
