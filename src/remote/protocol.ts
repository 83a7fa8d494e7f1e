/**
 * The HTTP protocol between a mosaicfs client (remote mount, CLI) and `mosaicfs serve`, version 1.
 * Shared by src/server/* and src/remote/*; ARCHITECTURE.md describes it for people.
 *
 * Every route is under /v1. Bodies are JSON (encoded with wireCodec: Buffers and Maps survive)
 * except block bodies, which are raw bytes (application/octet-stream). Authenticated routes take
 * `Authorization: Bearer <token>` and `X-Mosaicfs-Client: <client id>` (a random UUID per mount or
 * CLI process: it owns open-file leases and lets a client skip its own change events).
 *
 * Errors: a non-2xx status with ErrorBody. FsError codes from the MetaStore travel as `code` and
 * the client rethrows them as the same FsError; the status gives the class (see statusOfErrno).
 */
import type { ErrnoCode } from '../errors.js';

export const API_PREFIX = '/v1';
export const CLIENT_HEADER = 'x-mosaicfs-client';
/** A random id per request attempt chain (logs; a retried request keeps it). */
export const REQUEST_HEADER = 'x-mosaicfs-request';
/**
 * A client that sends this header (value "1") with its meta calls wants the server to take the write
 * lease and the open of a regular file it creates, in the same request; the server then answers the
 * create with LEASE_GRANTED_HEADER = the new inode number (RemoteOpenLeases.granted). Without the
 * header a create takes no lease (a client that would never release it must not get one).
 */
export const LEASE_ON_CREATE_HEADER = 'x-mosaicfs-lease-on-create';
export const LEASE_GRANTED_HEADER = 'x-mosaicfs-lease-granted';

/**
 * Sent with an unlink by a client that holds no file open: the server may purge the inode in the
 * same request when that was its last name and no client has it open (one round trip per deleted
 * file instead of two). The answer then carries PURGED_WITH_UNLINK_HEADER: the inode number.
 */
export const PURGE_UNLINKED_HEADER = 'x-mosaicfs-purge-unlinked';
export const PURGED_WITH_UNLINK_HEADER = 'x-mosaicfs-purged';

export const ROUTES = {
  /** GET, no auth: {ok: true, version}. */
  health: '/v1/health',
  /** POST {user} -> PreloginResponse. No auth. Unknown users get stable fake parameters (no enumeration). */
  prelogin: '/v1/auth/prelogin',
  /** POST LoginRequest -> LoginResponse. No auth. 401 wrong credentials, 403 disabled, 429 throttled (Retry-After). */
  login: '/v1/auth/login',
  /** POST, auth -> 204; revokes the token. */
  logout: '/v1/auth/logout',
  /** POST ChangePasswordRequest, auth -> 204 (re-wrapped key, new auth key; other tokens revoked). */
  password: '/v1/auth/password',
  /** GET, auth -> WhoamiResponse. */
  whoami: '/v1/whoami',
  /** POST MetaRequest, auth -> MetaResponse. One MetaStore call in the user's own namespace. */
  meta: '/v1/meta',
  /** PUT (raw body) / GET (Range supported, 206) / HEAD / DELETE /v1/blocks/:id, auth. */
  block: '/v1/blocks/',
  /** GET ?cursor=&limit= -> BlockListPage, auth. */
  blockList: '/v1/blocks',
  /** POST, auth -> 204: make every acknowledged block put durable (BlockStore.sync). */
  blockSync: '/v1/blocks-sync',
  /**
   * POST LeaseRequest, auth -> 204: the client opened the inode (write: for writing). 409 {code:'EBUSY'}
   * when write is asked and another client holds the write lease (the two-writers rule).
   */
  leaseAcquire: '/v1/leases/acquire',
  /** POST LeaseRequest, auth -> 204. */
  leaseRelease: '/v1/leases/release',
  /**
   * POST {ino}, auth -> OpenResponse: record a (read) open of the inode for this client and return
   * its attributes read after that, in one round trip (close-to-open revalidation of an open). The
   * client upgrades to a write lease with leaseAcquire; it gives the open back with leaseRelease.
   */
  open: '/v1/open',
  /** GET, auth: text/event-stream of ChangeEvent (event: change) and keep-alive comments every 15 s. */
  events: '/v1/events',
} as const;

export interface ErrorBody {
  error: { code: ErrnoCode | 'EAUTH' | 'EBADREQ' | 'ETHROTTLED' | 'EINTERNAL' | 'ESHUTDOWN'; message: string };
}

export interface KdfParams {
  name: 'scrypt';
  N: number;
  r: number;
  p: number;
}

export interface PreloginResponse {
  kdf: KdfParams;
  /** base64, 16 bytes: the salt of the client-side password KDF. */
  salt: string;
}

export interface LoginRequest {
  user: string;
  /** base64 of the 32-byte authentication key derived on the client (src/auth/passwordKeys.ts). */
  authKey: string;
}

/** The volume key wrapped on the client with the password-derived KEK (AES-256-GCM, AAD = volume id). */
export interface WrappedKeyWire {
  nonce: string;
  wrapped: string;
  tag: string;
}

export interface VolumeInfo {
  volumeId: string;
  blockSize: number;
  wrappedKey: WrappedKeyWire;
}

export interface LoginResponse {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
  user: string;
  volume: VolumeInfo;
}

export interface ChangePasswordRequest {
  /** New client KDF salt (base64) and params, new auth key, and the volume key re-wrapped with the new KEK. */
  salt: string;
  kdf: KdfParams;
  authKey: string;
  wrappedKey: WrappedKeyWire;
}

export interface WhoamiResponse {
  user: string;
  expiresAt: number;
  server: string;
}

/** Operations of MetaStore a client may call remotely (init, close, GC and admin checks stay on the server). */
export const REMOTE_META_OPS = [
  'sync', 'getSetting', 'getattr', 'lookup', 'pathOf', 'isAncestor', 'create', 'link', 'unlink', 'rmdir',
  'rename', 'readlink', 'readdir', 'setattr', 'truncate', 'listOrphans', 'purgeInode', 'getxattr', 'setxattr',
  'listxattr', 'removexattr', 'readChunks', 'commitSlices', 'replaceChunk', 'getBlock', 'listBlocks',
  'inodesUsingBlock', 'stats', 'commitSlicesWithBlocks',
] as const;
/**
 * commitSlicesWithBlocks(ino, writes, newBlocks, minSize, mtime, bodies): commitSlices preceded, in
 * the same request, by the PUT of small sealed blocks it references — bodies: Array<{id, data}>,
 * every id one of newBlocks, at most COMMIT_BODIES_MAX_BYTES in all. A server that predates it
 * answers 400 "unknown meta op" having done nothing; the client then PUTs and commits separately.
 */
export const COMMIT_BODIES_MAX_BYTES = 1024 * 1024;
export type RemoteMetaOp = (typeof REMOTE_META_OPS)[number];

export interface MetaRequest {
  op: RemoteMetaOp;
  /** The method's arguments, in order, wireCodec-encoded. */
  args: unknown[];
  /**
   * Ask for `attrs` in the answer of a namespace change: the attributes, read right after the
   * change, of the directories it changed and of an unlinked inode (a server that predates this
   * field ignores it and the client simply learns nothing).
   */
  attrs?: boolean;
}

export interface MetaResponse {
  /** The method's result, wireCodec-encoded (undefined results are sent as null). */
  result: unknown;
  /** InodeAttr[] (wireCodec-encoded) when the request asked for `attrs`; inodes that vanished are left out. */
  attrs?: unknown[];
}

export interface OpenRequest {
  ino: number;
}

export interface OpenResponse {
  /** InodeAttr, wireCodec-encoded. */
  attr: unknown;
}

export interface BlockListPage {
  blocks: Array<{ id: string; size: number; mtimeMs?: number }>;
  next: string | null;
}

export interface LeaseRequest {
  ino: number;
  write: boolean;
}

/**
 * What changed, pushed to every client of the same user except the origin. A client drops its
 * cached attributes of `inos`, the entries `entries` (parent + name), the slice lists of `data`,
 * and tells the kernel to do the same.
 */
export interface ChangeEvent {
  /** Client id that made the change. */
  origin: string;
  inos: number[];
  entries: Array<{ parent: number; name: string }>;
  /** Inodes whose contents changed. */
  data: number[];
}

/** HTTP status for an FsError code coming out of the MetaStore. */
export function statusOfErrno(code: string): number {
  switch (code) {
    case 'ENOENT':
      return 404;
    case 'EACCES':
    case 'EPERM':
      return 403;
    case 'EINVAL':
    case 'ENAMETOOLONG':
    case 'ERANGE':
    case 'E2BIG':
      return 400;
    default:
      return 409;
  }
}

/** Largest block body the server accepts: the 10 MiB block size limit plus sealing overhead. */
export const MAX_BLOCK_BODY = 10 * 1024 * 1024 + 256 * 1024;
/** Largest JSON body (a commitSlices of many slices, an xattr of 64 KiB base64-encoded). */
export const MAX_JSON_BODY = 4 * 1024 * 1024;
