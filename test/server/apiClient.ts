import { randomUUID } from 'node:crypto';
import { deriveLoginKeys } from '../../src/auth/passwordKeys.js';
import { CLIENT_HEADER, ROUTES, type LoginResponse, type PreloginResponse } from '../../src/remote/protocol.js';
import { decodeWire, encodeWire } from '../../src/remote/wireCodec.js';

/** A minimal protocol client for server tests (the real client lives in src/remote). */
export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export async function call(url: string, method: string, path: string, opts: { token?: string; client?: string; json?: unknown; raw?: Uint8Array | string; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.client) headers[CLIENT_HEADER] = opts.client;
  let body: BodyInit | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.raw !== undefined) {
    headers['content-type'] ??= 'application/octet-stream';
    body = opts.raw as BodyInit;
  }
  const res = await fetch(url + path, { method, headers, body });
  const type = res.headers.get('content-type') ?? '';
  const buf = Buffer.from(await res.arrayBuffer());
  const parsed = type.includes('json') && buf.length > 0 ? JSON.parse(buf.toString('utf8')) : buf;
  return { status: res.status, headers: res.headers, body: parsed };
}

export async function login(url: string, user: string, password: string): Promise<Reply & { body: LoginResponse }> {
  const pre = await call(url, 'POST', ROUTES.prelogin, { json: { user } });
  const p = pre.body as PreloginResponse;
  const keys = await deriveLoginKeys(password, Buffer.from(p.salt, 'base64'), p.kdf);
  return call(url, 'POST', ROUTES.login, { json: { user, authKey: keys.authKey.toString('base64') } });
}

/** A logged-in client id of one user. */
export class Session {
  readonly client = randomUUID();
  constructor(readonly url: string, readonly token: string) {}

  static async open(url: string, user: string, password: string): Promise<Session> {
    const r = await login(url, user, password);
    if (r.status !== 200) throw new Error(`login ${user}: ${r.status} ${JSON.stringify(r.body)}`);
    return new Session(url, r.body.token);
  }

  /** Raw meta call: the reply as it came. */
  metaRaw(op: string, args: unknown[]): Promise<Reply> {
    return call(this.url, 'POST', ROUTES.meta, { token: this.token, client: this.client, json: { op, args: encodeWire(args) } });
  }

  /** Meta call that must succeed: its decoded result. */
  async meta<T = any>(op: string, ...args: unknown[]): Promise<T> {
    const r = await this.metaRaw(op, args);
    if (r.status !== 200) throw Object.assign(new Error(`${op}: ${r.status} ${JSON.stringify(r.body)}`), { status: r.status, body: r.body });
    return decodeWire(r.body.result) as T;
  }

  req(method: string, path: string, opts: { json?: unknown; raw?: Uint8Array | string; headers?: Record<string, string> } = {}): Promise<Reply> {
    return call(this.url, method, path, { token: this.token, client: this.client, ...opts });
  }
}
