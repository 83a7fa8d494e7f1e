/**
 * BlockStore: immutable, content-addressed blobs. The bytes it holds are already sealed
 * (encrypted and authenticated) by the client's data layer; a BlockStore never sees plaintext
 * and never interprets what it stores. Backends: local folder now; S3, Discord, LAN peers,
 * remote proxy and compositions (replicate, tiered, cache) later. Every backend passes the
 * shared contract suite in test/contract/blockStoreContract.ts.
 *
 * Ids are lowercase hex strings of 64 characters (the keyed hash of the block's plaintext).
 */
export interface BlockInfo {
  id: string;
  /** Stored size in bytes. */
  size: number;
  /** When the block was stored (epoch ms), where the backend knows it. */
  mtimeMs?: number;
}

export interface BlockStore {
  /** Human-readable description for logs and `df` (e.g. "local:/path/blocks"). */
  readonly name: string;
  /**
   * Store a block. Idempotent: putting an id that exists is allowed and leaves one copy.
   * On return the block can be read back and survives a crash of this process; it is durable
   * against power loss once sync() returns.
   */
  put(id: string, data: Uint8Array): Promise<void>;
  /** The exact bytes that were put. Throws BlockNotFoundError if absent. */
  get(id: string): Promise<Buffer>;
  /**
   * Bytes [offset, offset + length) of a block, clipped to its end: the result is shorter when the
   * range runs past the end, and empty when it starts at or past the end. One request to the
   * backend (a positioned read, an HTTP Range GET). Throws BlockNotFoundError if absent, TypeError
   * for a malformed id, RangeError unless offset and length are non-negative safe integers.
   */
  getRange(id: string, offset: number, length: number): Promise<Buffer>;
  has(id: string): Promise<boolean>;
  /** Delete a block. Idempotent: deleting an absent block is not an error. */
  delete(id: string): Promise<void>;
  /** Every stored block, in no particular order. */
  list(): AsyncIterable<BlockInfo>;
  /** Make every put() that has returned durable against power loss. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

export const BLOCK_ID_RE = /^[0-9a-f]{64}$/;

/** Throws RangeError unless offset and length can describe a byte range (for getRange). */
export function assertByteRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`invalid byte range: offset ${offset}, length ${length}`);
  }
}

/** Throws unless id is a well-formed block id (keeps ids from ever becoming paths like '../x'). */
export function assertBlockId(id: string): void {
  if (typeof id !== 'string' || !BLOCK_ID_RE.test(id)) {
    throw new TypeError(`invalid block id: ${JSON.stringify(id)}`);
  }
}
