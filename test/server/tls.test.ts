import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as http from 'node:http';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ROOT_INO, S_IFDIR, S_IFMT } from '../../src/meta/MetaStore.js';
import { HttpClient } from '../../src/remote/HttpClient.js';
import { login } from '../../src/remote/loginFlow.js';
import { ROUTES, type MetaRequest } from '../../src/remote/protocol.js';
import { RemoteMetaStore } from '../../src/remote/RemoteMetaStore.js';
import { ServerUnreachableError } from '../../src/remote/remoteErrors.js';
import { openRemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX } from '../../src/vfs/types.js';
import { startTestServer, type TestServer } from '../helpers/serverFixture.js';
import { createTempDir, removeTempDir } from '../helpers/tmp.js';

const run = promisify(execFile);

interface TestPki {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A throwaway CA and a server certificate it signed for IP 127.0.0.1 (no DNS name), with openssl. */
async function makePki(dir: string): Promise<TestPki> {
  const f = (name: string) => path.join(dir, name);
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=mosaicfs test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  await fs.writeFile(f('server.ext'), [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1',
  ].join('\n') + '\n');
  await ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', f('server.ext'), '-out', f('server.pem'));
  return { caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') };
}

const TLS_ERROR_CODES = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);

function errCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return String(e?.code ?? e?.cause?.code ?? '');
}

describe('server over TLS (self-signed CA, IP SAN 127.0.0.1)', () => {
  let pkiDir: string | undefined;
  let configDir: string | undefined;
  let pki: TestPki;
  let ts: TestServer | undefined;
  let ca: Buffer;
  /** Authenticated requests that reached the server (every one reads its token first). */
  let tokenReads = 0;

  before(async () => {
    await run('openssl', ['version']); // fails the suite loudly if openssl is missing
    pkiDir = await createTempDir('mosaicfs-pki-');
    configDir = await createTempDir('mosaicfs-config-');
    pki = await makePki(pkiDir);
    ca = await fs.readFile(pki.caFile);
    ts = await startTestServer({ tls: { certFile: pki.certFile, keyFile: pki.keyFile } });
    await ts.addUser('alice', 'alice-tls-password');
    const accounts = ts.server.backend.accounts;
    const getToken = accounts.getToken.bind(accounts);
    accounts.getToken = (...args) => {
      tokenReads++;
      return getToken(...args);
    };
  });

  after(async () => {
    await ts?.stop();
    if (configDir) await removeTempDir(configDir);
    if (pkiDir) await removeTempDir(pkiDir);
  });

  it('listens on https and answers health to a client that trusts the CA', async () => {
    assert.match(ts!.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const client = new HttpClient({ url: ts!.url, ca, retryForMs: 2_000 });
    try {
      const res = await client.request({ method: 'GET', path: ROUTES.health, auth: false });
      assert.equal(res.status, 200);
      assert.equal((JSON.parse(res.body.toString('utf8')) as { ok?: unknown }).ok, true);
    } finally {
      await client.close();
    }
  });

  it('a client without the CA is refused at the handshake: no request reaches the server', async () => {
    const client = new HttpClient({ url: ts!.url, token: 'A'.repeat(43), retryForMs: 2_000 });
    const before = tokenReads;
    try {
      const req: MetaRequest = { op: 'getattr', args: [ROOT_INO] };
      await assert.rejects(client.json('POST', ROUTES.meta, req), (err: unknown) => {
        assert.ok(TLS_ERROR_CODES.has(errCode(err)), `expected a certificate error, got ${errCode(err)}: ${(err as Error).message}`);
        return true;
      });
    } finally {
      await client.close();
    }
    assert.equal(tokenReads, before, 'the meta route must not have run');
    // login without --ca fails the same way, before any password work reaches the server
    await assert.rejects(
      login({ url: ts!.url, user: 'alice', password: 'alice-tls-password', configDir: configDir!, retryForMs: 1_000 }),
      (err: unknown) => TLS_ERROR_CODES.has(errCode(err)),
    );
  });

  it('login over https with the CA, then the remote MetaStore reads the root', async () => {
    const session = await login({ url: ts!.url, user: 'alice', password: 'alice-tls-password', configDir: configDir!, caFile: pki.caFile });
    assert.equal(session.url, ts!.url);
    assert.equal(session.caFile, pki.caFile);
    const before = tokenReads;
    const client = new HttpClient({ url: session.url, token: session.token, ca: await fs.readFile(session.caFile!), retryForMs: 2_000 });
    try {
      const root = await new RemoteMetaStore(client).getattr(ROOT_INO);
      assert.equal(root.ino, ROOT_INO);
      assert.equal(root.mode & S_IFMT, S_IFDIR);
    } finally {
      await client.close();
    }
    assert.equal(tokenReads, before + 1);
  });

  it('a session opened from the saved login (CA remembered) writes and reads a file over https', async () => {
    const s = await openRemoteSession({ url: ts!.url, user: 'alice', configDir: configDir!, retryForMs: 2_000 });
    try {
      const data = Buffer.from('hello over TLS\n'.repeat(1000));
      const { fh, attr } = await s.vfs.create(ROOT_CTX, ROOT_INO, 'tls.txt', 0o644, fsc.O_WRONLY | fsc.O_CREAT);
      await s.vfs.write(ROOT_CTX, fh, 0, data);
      await s.vfs.fsync(ROOT_CTX, fh, false);
      await s.vfs.release(ROOT_CTX, fh);
      const rd = await s.vfs.open(ROOT_CTX, attr.ino, fsc.O_RDONLY);
      assert.deepEqual(await s.vfs.read(ROOT_CTX, rd.fh, 0, data.length + 1), data);
      await s.vfs.release(ROOT_CTX, rd.fh);
    } finally {
      await s.close();
    }
  });

  it('plain http to the TLS port gets no answer from the server', async () => {
    const plainUrl = ts!.url.replace(/^https:/, 'http:');
    const before = tokenReads;
    const outcome = await new Promise<string>((resolve) => {
      const req = http.get(`${plainUrl}${ROUTES.health}`, (res) => {
        res.resume();
        resolve(`status ${res.statusCode}`);
      });
      req.setTimeout(5_000, () => req.destroy(new Error('timeout')));
      req.once('error', (err) => resolve(`error ${errCode(err) || err.message}`));
    });
    // Either the TLS layer drops the connection or answers a bare 400: never a health answer.
    assert.ok(/^error (ECONNRESET|EPIPE)/.test(outcome) || outcome === 'status 400', outcome);

    const client = new HttpClient({ url: plainUrl, token: 'A'.repeat(43), retryForMs: 300 });
    try {
      const req: MetaRequest = { op: 'getattr', args: [ROOT_INO] };
      // The TLS side drops the cleartext request: a broken connection, retried, then EIO.
      await assert.rejects(client.json('POST', ROUTES.meta, req), ServerUnreachableError);
    } finally {
      await client.close();
    }
    assert.equal(tokenReads, before);
  });
});
