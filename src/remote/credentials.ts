import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { VolumeError } from '../errors.js';

/**
 * Saved sessions of `mosaicfs login`: one JSON file per (server, user) under
 * `${MOSAICFS_CONFIG_DIR ?? $XDG_CONFIG_HOME/mosaicfs ?? ~/.config/mosaicfs}/sessions/`, the folder
 * 0700 and the file 0600. It holds the bearer token AND the unwrapped volume key, like an SSH private
 * key: whoever can read the file can read the user's files (until logout, which revokes the token
 * and deletes the file). This is what lets `mount` run without asking for the password.
 */
export interface SavedSession {
  /** Server origin (http(s)://host:port). */
  url: string;
  user: string;
  token: string;
  /** Epoch ms. */
  expiresAt: number;
  volumeId: string;
  blockSize: number;
  /** base64 of the 32-byte volume key. */
  volumeKey: string;
  /** Absolute path of a CA certificate (PEM) for an https server with a private CA. */
  caFile?: string;
}

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MOSAICFS_CONFIG_DIR) return path.resolve(env.MOSAICFS_CONFIG_DIR);
  if (env.XDG_CONFIG_HOME) return path.join(path.resolve(env.XDG_CONFIG_HOME), 'mosaicfs');
  return path.join(os.homedir(), '.config', 'mosaicfs');
}

/** The origin of a server URL (what sessions are keyed by): http://HOST:PORT. */
export function normalizeUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new VolumeError(`not a server URL: ${JSON.stringify(url)} (expected http://host:port or https://host:port)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new VolumeError(`not an http(s) server URL: ${url}`);
  return u.origin;
}

export function sessionsDir(dir = configDir()): string {
  return path.join(dir, 'sessions');
}

export function sessionFile(url: string, user: string, dir = configDir()): string {
  const id = createHash('sha256').update(`${normalizeUrl(url)}|${user}`).digest('hex').slice(0, 16);
  return path.join(sessionsDir(dir), `${id}.json`);
}

export async function saveSession(s: SavedSession, dir = configDir()): Promise<string> {
  const folder = sessionsDir(dir);
  await fs.mkdir(folder, { recursive: true, mode: 0o700 });
  await fs.chmod(folder, 0o700);
  const file = sessionFile(s.url, s.user, dir);
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, JSON.stringify({ ...s, url: normalizeUrl(s.url) }, null, 2) + '\n', { mode: 0o600 });
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
  return file;
}

/**
 * The saved session for a server (and user). Without a user, the one session saved for that server;
 * VolumeError when there are several (say which user) or none (not logged in).
 */
export async function loadSession(url: string, user?: string, dir = configDir()): Promise<SavedSession> {
  const origin = normalizeUrl(url);
  const notLoggedIn = () => new VolumeError(`not logged in to ${origin}: run mosaicfs login ${origin} --user NAME`);
  if (user !== undefined) {
    const s = await readSession(sessionFile(origin, user, dir));
    if (!s) throw notLoggedIn();
    return s;
  }
  const found = (await listSessions(dir)).filter((s) => s.url === origin);
  if (found.length === 0) throw notLoggedIn();
  if (found.length > 1) {
    throw new VolumeError(`several sessions for ${origin} (${found.map((s) => s.user).join(', ')}): say which user`);
  }
  return found[0];
}

export async function listSessions(dir = configDir()): Promise<SavedSession[]> {
  let names: string[];
  try {
    names = await fs.readdir(sessionsDir(dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SavedSession[] = [];
  for (const n of names.filter((n) => n.endsWith('.json')).sort()) {
    const s = await readSession(path.join(sessionsDir(dir), n));
    if (s) out.push(s);
  }
  return out;
}

export async function deleteSession(url: string, user: string, dir = configDir()): Promise<boolean> {
  try {
    await fs.unlink(sessionFile(url, user, dir));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

async function readSession(file: string): Promise<SavedSession | null> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let s: SavedSession;
  try {
    s = JSON.parse(text) as SavedSession;
  } catch {
    throw new VolumeError(`saved session ${file} is corrupt: run mosaicfs login again`);
  }
  if (typeof s.url !== 'string' || typeof s.user !== 'string' || typeof s.token !== 'string' || typeof s.volumeKey !== 'string'
    || typeof s.volumeId !== 'string' || typeof s.blockSize !== 'number') {
    throw new VolumeError(`saved session ${file} is incomplete: run mosaicfs login again`);
  }
  return s;
}
