import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type GetObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { BlockNotFoundError } from '../../errors.js';
import { Semaphore } from '../../data/Semaphore.js';
import type { S3StoreConfig } from '../../volume/config.js';
import { assertBlockId, assertByteRange, type BlockInfo, type BlockStore } from '../BlockStore.js';
import type { StoreContext } from '../openBlockStore.js';
import { KeyLayout } from './keyLayout.js';
import { discard, parseContentRange, readExactBody } from './readBody.js';
import { createS3Client, S3_DEFAULTS, type S3Tuning } from './s3Client.js';
import { isInvalidRange, isNoSuchKey, S3BodyError, S3RequestError } from './s3Errors.js';

/** Base of the jittered exponential backoff between re-reads of a broken reply body. */
const BODY_RETRY_BASE_MS = 50;

/**
 * Blocks as objects in an S3 bucket (AWS or any S3-compatible server), keyed as KeyLayout says.
 * Every request holds one of maxParallel slots (the socket pool is as large), so a burst of puts
 * cannot open unbounded connections. The SDK retries failed requests (5xx, 503 SlowDown,
 * throttling, resets, timeouts); a reply body that breaks off or does not match its headers is
 * re-fetched here, and when retries run out the error is an S3RequestError (EIO or ETIMEDOUT),
 * never short data. S3 acknowledges a PUT only once it is durable, so sync() has nothing to do.
 */
export class S3BlockStore implements BlockStore {
  readonly name: string;
  private readonly slots: Semaphore;
  private readonly inflightPuts = new Map<string, Promise<void>>();
  private readonly bodyAttempts: number;
  private readonly listPageSize: number | undefined;

  private constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly keys: KeyLayout,
    maxParallel: number,
    tuning: S3Tuning,
  ) {
    this.name = `s3://${bucket}/${keys.base}`;
    this.slots = new Semaphore(maxParallel);
    this.bodyAttempts = tuning.maxAttempts ?? S3_DEFAULTS.maxAttempts;
    this.listPageSize = tuning.listPageSize;
  }

  /** Opens without touching the network: a wrong bucket or missing credentials show up on the first request. */
  static async open(cfg: S3StoreConfig, ctx: StoreContext, tuning: S3Tuning = {}): Promise<S3BlockStore> {
    if (!cfg.bucket) throw new TypeError('S3 store: bucket is required');
    const maxParallel = cfg.maxParallel ?? S3_DEFAULTS.maxParallel;
    const keys = new KeyLayout(cfg.prefix, ctx.namespace);
    const client = createS3Client(cfg, tuning, maxParallel);
    return new S3BlockStore(client, cfg.bucket, keys, maxParallel, tuning);
  }

  async put(id: string, data: Uint8Array): Promise<void> {
    const key = this.keys.keyOf(id);
    // Concurrent puts of one id share one upload (same id, same bytes).
    const running = this.inflightPuts.get(id);
    if (running) return running;
    const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const job = this.request('PutObject', key, () => this.client.send(new PutObjectCommand({
      Bucket: this.bucket,
      Key: key,
      Body: body,
      ContentLength: body.length,
      // The server rejects a body that arrives cut or altered (BadDigest) instead of storing it.
      ContentMD5: createHash('md5').update(body).digest('base64'),
      ContentType: 'application/octet-stream',
    }))).then(() => undefined).finally(() => this.inflightPuts.delete(id));
    this.inflightPuts.set(id, job);
    return job;
  }

  async get(id: string): Promise<Buffer> {
    const key = this.keys.keyOf(id);
    return this.fetch(id, key, undefined, async (reply) => readExactBody(reply.Body, reply));
  }

  async getRange(id: string, offset: number, length: number): Promise<Buffer> {
    const key = this.keys.keyOf(id);
    assertByteRange(offset, length);
    if (length === 0) {
      // "bytes=N-(N-1)" is not a range; what remains to say is whether the block exists.
      if (!(await this.has(id))) throw new BlockNotFoundError(id);
      return Buffer.alloc(0);
    }
    const range = `bytes=${offset}-${offset + length - 1}`;
    return this.fetch(id, key, range, (reply) => rangeOfReply(reply, offset, length));
  }

  async has(id: string): Promise<boolean> {
    const key = this.keys.keyOf(id);
    try {
      await this.request('HeadObject', key, () => this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })), true);
      return true;
    } catch (err) {
      if (err instanceof BlockNotFoundError) return false;
      throw err;
    }
  }

  async delete(id: string): Promise<void> {
    const key = this.keys.keyOf(id);
    // S3 answers 204 for an absent key as well: deleting is idempotent on the server.
    await this.request('DeleteObject', key, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async *list(): AsyncIterable<BlockInfo> {
    let token: string | undefined;
    do {
      const page = await this.request('ListObjectsV2', this.keys.base, () => this.client.send(new ListObjectsV2Command({
        Bucket: this.bucket,
        Prefix: this.keys.base || undefined,
        ContinuationToken: token,
        MaxKeys: this.listPageSize,
      })));
      for (const obj of page.Contents ?? []) {
        const id = obj.Key === undefined ? undefined : this.keys.idOfKey(obj.Key);
        if (id === undefined) continue;
        yield { id, size: obj.Size ?? 0, mtimeMs: obj.LastModified?.getTime() };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** S3 acknowledges a PUT once the object is durable: nothing is pending. */
  async sync(): Promise<void> {}

  async close(): Promise<void> {
    await Promise.allSettled([...this.inflightPuts.values()]);
    this.client.destroy();
  }

  /**
   * One SDK call in a slot, its failure turned into a typed error: an absent key is
   * BlockNotFoundError when `notFoundIsAbsent` (the id is the key's last segment), anything else
   * an S3RequestError. The SDK has already retried what was worth retrying.
   */
  private async request<T>(operation: string, key: string, call: () => Promise<T>, notFoundIsAbsent = false): Promise<T> {
    return this.slots.run(async () => {
      try {
        return await call();
      } catch (err) {
        throw this.typed(operation, key, err, notFoundIsAbsent);
      }
    });
  }

  private typed(operation: string, key: string, err: unknown, notFoundIsAbsent: boolean): Error {
    if (notFoundIsAbsent && isNoSuchKey(err)) return new BlockNotFoundError(key.slice(key.lastIndexOf('/') + 1));
    return new S3RequestError(operation, key, err);
  }

  /**
   * A GET (whole or ranged) and the reading of its body in one slot. A body that breaks off or
   * contradicts its headers is fetched again (with backoff) up to the attempt limit; the SDK only
   * retries up to the reply's headers.
   */
  private async fetch(id: string, key: string, range: string | undefined, read: (reply: GetObjectCommandOutput) => Promise<Buffer>): Promise<Buffer> {
    return this.slots.run(async () => {
      for (let attempt = 1; ; attempt++) {
        let reply: GetObjectCommandOutput;
        try {
          reply = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range }));
        } catch (err) {
          if (isNoSuchKey(err)) throw new BlockNotFoundError(id);
          // A range that starts at or past the end: the contract's empty tail.
          if (range !== undefined && isInvalidRange(err)) return Buffer.alloc(0);
          throw new S3RequestError('GetObject', key, err);
        }
        try {
          return await read(reply);
        } catch (err) {
          discard(reply.Body);
          if (!(err instanceof S3BodyError)) throw err;
          if (attempt >= this.bodyAttempts) throw new S3RequestError('GetObject', key, err);
          await sleep(Math.random() * BODY_RETRY_BASE_MS * 2 ** attempt);
        }
      }
    });
  }
}

/**
 * The bytes [offset, offset + length) clipped to the object, out of a reply to a Range GET. The
 * reply may be a 206 for exactly that range, a 206 for a wider range (s3rver answers `bytes=0-0`
 * with the whole object), or a 200 with the whole object (a server that ignores Range, as HTTP
 * allows); anything that does not cover the asked range is an S3BodyError.
 */
async function rangeOfReply(reply: GetObjectCommandOutput, offset: number, length: number): Promise<Buffer> {
  let start = 0;
  let total: number | undefined;
  if (reply.ContentRange !== undefined) {
    const cr = parseContentRange(reply.ContentRange);
    // s3rver answers a range on an empty object with `bytes 0-0/0` and a body it never sends.
    if (cr.total === 0 || (cr.total !== undefined && offset >= cr.total)) {
      discard(reply.Body);
      return Buffer.alloc(0);
    }
    start = cr.start;
    total = cr.total;
    const body = await readExactBody(reply.Body, reply);
    if (body.length !== cr.end - cr.start + 1) {
      throw new S3BodyError(`reply body is ${body.length} bytes but Content-Range says ${reply.ContentRange}`);
    }
    return slice(body, start, total, offset, length);
  }
  const body = await readExactBody(reply.Body, reply);
  return slice(body, start, body.length, offset, length);
}

function slice(body: Buffer, start: number, total: number | undefined, offset: number, length: number): Buffer {
  const end = Math.min(offset + length, total ?? Number.POSITIVE_INFINITY);
  const from = offset - start;
  const to = end - start;
  if (from < 0 || to > body.length) {
    throw new S3BodyError(`reply covers bytes ${start}-${start + body.length - 1}, not the asked ${offset}-${end - 1}`);
  }
  if (from === 0 && to === body.length) return body;
  // Copy a small part out of a large reply, so the rest can be freed.
  const part = body.subarray(from, to);
  return part.length * 2 < body.length ? Buffer.from(part) : part;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
