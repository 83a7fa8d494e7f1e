/**
 * A client talking to a server that predates POST /v1/open and commitSlicesWithBlocks (simulated by
 * a proxy on 127.0.0.1 in front of a real server that answers what an older server answers: 404
 * "no route" and 400 "unknown meta op") falls back to the separate requests, and loses nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ROOT_INO } from '../../src/meta/MetaStore.js';
import type { HttpRequest } from '../../src/remote/HttpClient.js';
import { login } from '../../src/remote/loginFlow.js';
import { ROUTES } from '../../src/remote/protocol.js';
import { routeLabel } from '../../src/remote/RequestCounter.js';
import { openRemoteSession, type RemoteSession } from '../../src/remote/session.js';
import { ROOT_CTX as root } from '../../src/vfs/types.js';
import { startRemoteFixture, type RemoteFixture } from './remoteFixture.js';

/** Forwards to `target`, answering the newer requests as an older server does. */
function olderServerProxy(target: string): Promise<{ url: string; refused: string[]; close: () => Promise<void> }> {
  const refused: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const refuse = (status: number, message: string) => {
        refused.push(message);
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'EBADREQ', message } }));
      };
      if (req.url === ROUTES.open) return refuse(404, `no route POST ${ROUTES.open}`);
      if (req.url === ROUTES.meta && body.length > 0) {
        const op = (JSON.parse(body.toString('utf8')) as { op?: string }).op;
        if (op === 'commitSlicesWithBlocks') return refuse(400, `unknown meta op "${op}"`);
      }
      const up = http.request(target + req.url, { method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({ url, refused, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) });
    });
  });
}

describe('remote client against an older server', () => {
  let fx: RemoteFixture;
  let proxy: Awaited<ReturnType<typeof olderServerProxy>>;
  let a: RemoteSession | undefined;
  const sent: string[] = [];

  before(async () => {
    fx = await startRemoteFixture();
    proxy = await olderServerProxy(fx.server.url);
    await login({ url: proxy.url, user: fx.user, password: fx.password, configDir: fx.configDir });
    a = await openRemoteSession({ url: proxy.url, user: fx.user, configDir: fx.configDir, events: false, onRequest: (r: HttpRequest) => sent.push(routeLabel(r)) });
  });
  after(async () => {
    await a?.close();
    await proxy?.close();
    await fx?.stop();
  });

  it('small files: PUT then commitSlices; opens: acquire and getattr; the data arrives whole', async () => {
    const files = [randomBytes(4096), randomBytes(100)];
    const inos: number[] = [];
    for (const [i, data] of files.entries()) {
      const { fh, attr } = await a!.vfs.create(root, ROOT_INO, `old-${i}`, 0o644, fsc.O_WRONLY | fsc.O_CREAT);
      await a!.vfs.write(root, fh, 0, data);
      await a!.vfs.release(root, fh);
      inos.push(attr.ino);
    }
    const count = (what: string) => sent.filter((x) => x === what).length;
    assert.equal(count('POST /v1/meta commitSlicesWithBlocks'), 1, `tried once, then not again: ${sent.join(', ')}`);
    assert.equal(count('PUT /v1/blocks/:id'), 2, sent.join(', '));
    assert.equal(count('POST /v1/meta commitSlices'), 2, sent.join(', '));

    sent.length = 0;
    for (const [i, data] of files.entries()) {
      const o = await a!.vfs.open(root, inos[i]!, fsc.O_RDONLY);
      assert.equal(o.attr.size, data.length);
      await a!.vfs.release(root, o.fh);
    }
    assert.equal(count('POST /v1/open'), 1, `tried once: ${sent.join(', ')}`);
    assert.equal(count('POST /v1/leases/acquire'), 2, sent.join(', '));
    assert.deepEqual(proxy.refused.map((m) => m.split(' ')[0]), ['unknown', 'no']);

    // What the server stored, read by a session straight to it (nothing cached from the writer).
    const b = await fx.open({ events: false });
    for (const [i, data] of files.entries()) {
      const o = await b.vfs.open(root, inos[i]!, fsc.O_RDONLY);
      assert.deepEqual(await b.vfs.read(root, o.fh, 0, 8192), data);
      await b.vfs.release(root, o.fh);
    }
  });
});
