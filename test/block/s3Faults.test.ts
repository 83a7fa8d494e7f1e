import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { S3BlockStore } from '../../src/block/s3/S3BlockStore.js';
import type { S3Tuning } from '../../src/block/s3/s3Client.js';
import { S3RequestError } from '../../src/block/s3/s3Errors.js';
import { BlockNotFoundError } from '../../src/errors.js';
import { randomBlock } from '../contract/blockStoreContract.js';
import { S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from '../helpers/s3Server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/** What the proxy does with one request. */
type Action =
  | { kind: 'pass' }
  | { kind: 'status'; status: number; code: string }
  | { kind: 'drop' } // close the connection without a reply
  | { kind: 'hang' } // never answer
  | { kind: 'truncate' } // forward, but cut the body off halfway (Content-Length stays)
  | { kind: 'ignoreRange' } // forward without the Range header: a 200 with the whole object
  | { kind: 'lieRange' }; // forward, but claim a Content-Range wider than the body

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A loopback HTTP proxy in front of s3rver that does to each request what `plan` says. It keeps the
 * Host header, so SigV4 signatures made for the proxy still verify at s3rver.
 */
class FaultProxy {
  plan: (req: Seen, nth: number) => Action = () => ({ kind: 'pass' });
  readonly seen: Seen[] = [];
  active = 0;
  maxActive = 0;
  private readonly server: http.Server;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly upstream: URL) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  count(pred: (s: Seen) => boolean): number {
    return this.seen.filter(pred).length;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const seen: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
    this.seen.push(seen);
    const action = this.plan(seen, this.seen.length);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.act(action, seen, res);
    } finally {
      this.active--;
    }
  }

  private async act(action: Action, seen: Seen, res: http.ServerResponse): Promise<void> {
    switch (action.kind) {
      case 'status': {
        const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${action.code}</Code><Message>injected</Message></Error>`;
        res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
        res.end(xml);
        return;
      }
      case 'drop':
        res.socket?.destroy();
        return;
      case 'hang':
        return; // the socket stays open until close()
      default:
        break;
    }
    const headers = { ...seen.headers };
    if (action.kind === 'ignoreRange') delete headers.range;
    const up = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const r = http.request({ host: this.upstream.hostname, port: this.upstream.port, method: seen.method, path: seen.url, headers }, resolve);
      r.on('error', reject);
      r.end(seen.body);
    });
    const upChunks: Buffer[] = [];
    for await (const c of up) upChunks.push(c as Buffer);
    const body = Buffer.concat(upChunks);
    const outHeaders = { ...up.headers };
    if (action.kind === 'lieRange' && typeof outHeaders['content-range'] === 'string') {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(outHeaders['content-range'])!;
      outHeaders['content-range'] = `bytes ${m[1]}-${Number(m[2]) + 10}/${Number(m[3]) + 10}`;
    }
    res.writeHead(up.statusCode!, outHeaders);
    if (action.kind === 'truncate' && body.length > 1) {
      res.write(body.subarray(0, body.length >> 1));
      await new Promise((r) => setTimeout(r, 20));
      res.socket?.destroy();
      return;
    }
    res.end(body);
  }
}

describe('S3BlockStore under faults (loopback proxy in front of s3rver)', () => {
  let srv: S3TestServer;
  let proxy: FaultProxy;
  let endpoint: string;
  const stores: S3BlockStore[] = [];

  before(async () => {
    srv = await startS3Server();
    proxy = new FaultProxy(new URL(srv.endpoint));
    endpoint = await proxy.listen();
  });
  after(async () => {
    await Promise.allSettled(stores.map((s) => s.close()));
    await proxy?.close();
    await srv?.stop();
  });

  const open = async (tuning: S3Tuning = {}, maxParallel?: number): Promise<S3BlockStore> => {
    proxy.plan = () => ({ kind: 'pass' });
    const s = await S3BlockStore.open(
      { type: 's3', bucket: srv.bucket, endpoint, prefix: `f-${randomBytes(6).toString('hex')}`, maxParallel },
      { volumeDir: '/nonexistent' },
      { credentials: S3RVER_CREDENTIALS, maxAttempts: 4, ...tuning },
    );
    stores.push(s);
    return s;
  };

  /** The first `n` attempts of every distinct request (method + url) get `fail`; later ones pass. */
  const failFirst = (n: number, fail: (i: number) => Action): ((s: Seen) => Action) => {
    const tries = new Map<string, number>();
    return (s) => {
      const k = `${s.method} ${s.url}`;
      const i = tries.get(k) ?? 0;
      tries.set(k, i + 1);
      return i < n ? fail(i) : { kind: 'pass' };
    };
  };

  it('retries 500, 503 SlowDown and dropped connections: every operation still succeeds', async () => {
    const s = await open();
    const faults: Action[] = [
      { kind: 'status', status: 503, code: 'SlowDown' },
      { kind: 'status', status: 500, code: 'InternalError' },
      { kind: 'drop' },
    ];
    const blocks = Array.from({ length: 6 }, () => randomBlock(70_000));
    proxy.plan = failFirst(3, (i) => faults[i]);
    const before = proxy.seen.length;
    await Promise.all(blocks.map((b) => s.put(b.id, b.data)));
    await Promise.all(blocks.map(async (b) => {
      assert.ok((await s.get(b.id)).equals(b.data));
      assert.ok((await s.getRange(b.id, 1000, 5000)).equals(b.data.subarray(1000, 6000)));
      assert.equal(await s.has(b.id), true);
    }));
    const listed = [];
    for await (const info of s.list()) listed.push(info.id);
    assert.deepEqual(listed.sort(), blocks.map((b) => b.id).sort());
    await s.delete(blocks[0].id);
    await assert.rejects(s.get(blocks[0].id), BlockNotFoundError);
    // Each distinct request was really attempted four times (3 injected failures, then the real one).
    const puts = proxy.seen.slice(before).filter((x) => x.method === 'PUT');
    assert.equal(puts.length, blocks.length * 4);
  });

  it('gives up after maxAttempts with an S3RequestError (EIO) that names the operation and status', async () => {
    const s = await open({ maxAttempts: 3 });
    const b = randomBlock(100);
    proxy.plan = () => ({ kind: 'status', status: 503, code: 'SlowDown' });
    const before = proxy.seen.length;
    await assert.rejects(s.put(b.id, b.data), (err: unknown) => {
      assert.ok(err instanceof S3RequestError);
      assert.equal(err.code, 'EIO');
      assert.equal(err.status, 503);
      assert.match(err.message, /PutObject .* \(HTTP 503\)/);
      return true;
    });
    assert.equal(proxy.seen.length - before, 3);
  });

  it('a server that never answers fails with ETIMEDOUT within the configured time', async () => {
    const s = await open({ idleTimeoutMs: 400, maxAttempts: 2 });
    const b = randomBlock(100);
    proxy.plan = () => ({ kind: 'hang' });
    for (const op of [() => s.get(b.id), () => s.put(b.id, b.data), () => s.has(b.id)]) {
      const t0 = Date.now();
      await assert.rejects(op(), (err: unknown) => {
        assert.ok(err instanceof S3RequestError, String(err));
        assert.equal(err.code, 'ETIMEDOUT');
        assert.match(err.message, /timed out/);
        return true;
      });
      const took = Date.now() - t0;
      // Two attempts of 400 ms each plus a short backoff; never the SDK's minutes.
      assert.ok(took >= 700 && took < 4000, `took ${took} ms`);
    }
  });

  it('a reply body cut off halfway is re-fetched, and is an error (never data) when it keeps happening', async () => {
    const s = await open({ maxAttempts: 3 });
    const b = randomBlock(300_000);
    await s.put(b.id, b.data);
    // Once: the store fetches again and returns the right bytes.
    proxy.plan = failFirst(1, () => ({ kind: 'truncate' }));
    assert.ok((await s.get(b.id)).equals(b.data));
    assert.ok((await s.getRange(b.id, 100, 200_000)).equals(b.data.subarray(100, 200_100)));
    // Always: an error after the attempts, for whole and ranged reads.
    proxy.plan = (x) => (x.method === 'GET' ? { kind: 'truncate' } : { kind: 'pass' });
    const before = proxy.count((x) => x.method === 'GET');
    for (const op of [() => s.get(b.id), () => s.getRange(b.id, 0, 100_000)]) {
      await assert.rejects(op(), (err: unknown) => {
        assert.ok(err instanceof S3RequestError, String(err));
        assert.equal(err.code, 'EIO');
        assert.match(err.message, /broke off|Content-Length/);
        return true;
      });
    }
    assert.equal(proxy.count((x) => x.method === 'GET') - before, 6, 'three attempts per read');
  });

  it('a 206 whose Content-Range does not match its body is an error', async () => {
    const s = await open({ maxAttempts: 2 });
    const b = randomBlock(5000);
    await s.put(b.id, b.data);
    proxy.plan = (x) => (x.method === 'GET' ? { kind: 'lieRange' } : { kind: 'pass' });
    await assert.rejects(s.getRange(b.id, 10, 100), (err: unknown) => err instanceof S3RequestError && /Content-Range/.test(err.message));
  });

  it('a server that ignores Range (200 with the whole object) still gives the exact range', async () => {
    const s = await open();
    const b = randomBlock(100_000);
    await s.put(b.id, b.data);
    proxy.plan = (x) => (x.method === 'GET' ? { kind: 'ignoreRange' } : { kind: 'pass' });
    assert.ok((await s.getRange(b.id, 99_000, 5000)).equals(b.data.subarray(99_000)));
    assert.ok((await s.getRange(b.id, 0, 1)).equals(b.data.subarray(0, 1)));
    assert.equal((await s.getRange(b.id, 100_000, 10)).length, 0);
  });

  it('sends Content-MD5 of the exact body with every PUT', async () => {
    const s = await open();
    const before = proxy.seen.length;
    const blocks = [0, 1, 65_536].map(randomBlock);
    for (const b of blocks) await s.put(b.id, b.data);
    const puts = proxy.seen.slice(before).filter((x) => x.method === 'PUT');
    assert.equal(puts.length, 3);
    for (const p of puts) {
      assert.equal(p.headers['content-md5'], createHash('md5').update(p.body).digest('base64'));
    }
  });

  it('keeps at most maxParallel requests in flight', async () => {
    const s = await open({}, 3);
    const blocks = Array.from({ length: 30 }, () => randomBlock(20_000));
    proxy.maxActive = 0;
    await Promise.all(blocks.map((b) => s.put(b.id, b.data)));
    await Promise.all(blocks.map((b) => s.getRange(b.id, 0, 100)));
    assert.ok(proxy.maxActive <= 3, `max in flight ${proxy.maxActive}`);
    assert.ok(proxy.maxActive >= 2, `requests did run in parallel (${proxy.maxActive})`);
  });

  it('lists in pages with continuation tokens', async () => {
    const s = await open({ listPageSize: 4 });
    const blocks = Array.from({ length: 10 }, () => randomBlock(10));
    await Promise.all(blocks.map((b) => s.put(b.id, b.data)));
    const before = proxy.seen.length;
    const listed = [];
    for await (const info of s.list()) listed.push(info.id);
    assert.deepEqual(listed.sort(), blocks.map((b) => b.id).sort());
    const lists = proxy.seen.slice(before).filter((x) => x.method === 'GET' && x.url.includes('list-type=2'));
    assert.equal(lists.length, 3);
    assert.equal(lists.filter((x) => x.url.includes('continuation-token=')).length, 2);
  });
});
