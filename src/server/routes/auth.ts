import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { checkAuthVerifier, fakeLoginSalt, makeAuthVerifier, DEFAULT_LOGIN_KDF } from '../../auth/passwordKeys.js';
import { checkScryptParams } from '../../crypto/keys.js';
import {
  ROUTES, type ChangePasswordRequest, type LoginRequest, type LoginResponse, type PreloginResponse, type WhoamiResponse,
} from '../../remote/protocol.js';
import type { UserRecord } from '../AccountStore.js';
import { authenticate, newToken, tokenHash, type ServerContext } from '../context.js';
import { badRequest, HttpError } from '../httpErrors.js';
import { intIn, object, str } from '../validate.js';

const b64 = (bytes: number) => (v: unknown, what: string): string => {
  const s = str(v, what);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || Buffer.from(s, 'base64').length !== bytes) throw badRequest(`${what} must be ${bytes} bytes of base64`);
  return s;
};
const userName = (v: unknown, what: string): string => {
  const s = str(v, what);
  if (s.length > 256) throw badRequest(`${what} is too long`);
  return s;
};
const preloginBody = object({ user: userName });
const loginBody = object({ user: userName, authKey: b64(32) });
const kdfParams = (v: unknown, what: string) => {
  const k = object({ name: str, N: intIn(2, 1 << 22), r: intIn(1, 32), p: intIn(1, 16) })(v, what);
  if (k.name !== 'scrypt') throw badRequest(`${what}.name must be "scrypt"`);
  try {
    checkScryptParams(k);
  } catch (err) {
    throw badRequest(`${what}: ${(err as Error).message}`);
  }
  return { name: 'scrypt' as const, N: k.N, r: k.r, p: k.p };
};
const wrappedKey = object({ nonce: b64(12), wrapped: b64(32), tag: b64(16) });
const passwordBody = object({ salt: b64(16), kdf: kdfParams, authKey: b64(32), wrappedKey });

export function registerAuthRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(ROUTES.health, async () => ({ ok: true, version: 1 }));

  app.post(ROUTES.prelogin, async (req): Promise<PreloginResponse> => {
    const { user } = preloginBody(req.body, 'body');
    const rec = await ctx.accounts.getUserByName(user);
    if (rec) return { kdf: rec.loginKdf, salt: rec.loginSalt };
    return { kdf: DEFAULT_LOGIN_KDF, salt: fakeLoginSalt(ctx.serverSecret, user).toString('base64') };
  });

  // A verifier no authKey matches: unknown users cost the same scrypt as known ones.
  const decoy = makeAuthVerifier(Buffer.alloc(32, 0xa5));

  app.post(ROUTES.login, async (req, reply): Promise<LoginResponse> => {
    const body = loginBody(req.body, 'body');
    const keys = [`user:${body.user}`, `ip:${req.ip}`];
    const wait = ctx.throttle.waitMs(keys);
    if (wait > 0) {
      const seconds = Math.max(1, Math.ceil(wait / 1000));
      throw new HttpError(429, 'ETHROTTLED', `too many failed logins: retry in ${seconds} s`, { 'retry-after': String(seconds) });
    }
    const user = await ctx.accounts.getUserByName(body.user);
    const ok = await checkAuthVerifier(Buffer.from(body.authKey, 'base64'), user?.verifier ?? (await decoy));
    if (!user || !ok) {
      ctx.throttle.failed(keys);
      req.log.info({ user: body.user }, 'login failed');
      throw new HttpError(401, 'EAUTH', 'wrong user name or password');
    }
    ctx.throttle.succeeded(keys);
    if (user.disabled) throw new HttpError(403, 'EAUTH', 'this account is disabled');
    const token = newToken();
    const created = Date.now();
    const expiresAt = created + ctx.tokenTtlMs;
    await ctx.accounts.addToken({ hash: tokenHash(token), userId: user.id, expiresAt, created });
    req.log.info({ user: user.name }, 'login');
    reply.header('cache-control', 'no-store');
    return { token, expiresAt, user: user.name, volume: volumeInfo(user) };
  });

  app.post(ROUTES.logout, async (req, reply) => {
    const s = await authenticate(ctx, req);
    await ctx.accounts.deleteToken(s.tokenHash);
    if (s.clientId) {
      await ctx.coordinator.dropClient(s.user.id, s.clientId);
      ctx.touches.forget(s.user.id, s.clientId);
    }
    return reply.code(204).send();
  });

  app.post(ROUTES.password, async (req, reply) => {
    const s = await authenticate(ctx, req);
    const body: ChangePasswordRequest = passwordBody(req.body, 'body');
    await ctx.accounts.updateCredentials(s.user.id, {
      loginSalt: body.salt,
      loginKdf: body.kdf,
      verifier: await makeAuthVerifier(Buffer.from(body.authKey, 'base64'), s.user.verifier.N),
      wrappedKey: body.wrappedKey,
    });
    // Revoke every other session: drop all, keep the caller's.
    await ctx.accounts.deleteUserTokens(s.user.id);
    await ctx.accounts.addToken({ hash: s.tokenHash, userId: s.user.id, expiresAt: s.expiresAt, created: Date.now() });
    return reply.code(204).send();
  });

  app.get(ROUTES.whoami, async (req): Promise<WhoamiResponse> => {
    const s = await authenticate(ctx, req);
    return { user: s.user.name, expiresAt: s.expiresAt, server: os.hostname() };
  });
}

export function volumeInfo(user: UserRecord): LoginResponse['volume'] {
  return { volumeId: user.volumeId, blockSize: user.blockSize, wrappedKey: user.wrappedKey };
}
