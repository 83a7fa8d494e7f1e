/**
 * The peer mesh wire protocol (HTTP between clients and `mosaicfs node`s, UDP for discovery).
 * Every HTTP request carries AUTH_HEADER (see auth.ts); bodies are raw block bytes or JSON.
 *
 *   PUT    /v1/ns/:ns/blocks/:id            store (507 when the node is full)
 *   GET    /v1/ns/:ns/blocks/:id            read (Range: bytes=a-b -> 206)
 *   HEAD   /v1/ns/:ns/blocks/:id            presence (200/404)
 *   DELETE /v1/ns/:ns/blocks/:id[?tombstone=0]  delete and record a tombstone (0: drop a surplus copy, no tombstone)
 *   GET    /v1/ns/:ns/blocks?after=ID&limit=N   one page of the listing in id order -> ListPage
 *   GET    /v1/ns/:ns/tombstones?since=SEQ  -> TombstonePage
 *   POST   /v1/ns/:ns/sync                  fsync everything stored so far
 *   GET    /v1/namespaces                   -> { namespaces: string[] }
 *   GET    /v1/status                       -> NodeStatus
 *   GET    /v1/peers                        -> { peers: PeerInfo[] } (the node's membership view)
 *   GET    /v1/catalog?ns=NS                -> CatalogPage (which nodes held which blocks at the last scrub)
 */
export const API_PREFIX = '/v1';
export const AUTH_HEADER = 'x-mosaicfs-auth';
export const BODY_HASH_HEADER = 'x-mosaicfs-body-sha256';
/** Set by nodes on their requests to each other: the caller's address, so membership spreads both ways. */
export const FROM_HEADER = 'x-mosaicfs-from';
/** A sealed 10 MiB block plus its segment tags, with room to spare. */
export const MAX_BLOCK_BODY = 11 * 1024 * 1024;
export const DEFAULT_NAMESPACE = 'default';
export const NAMESPACE_RE = /^[a-z0-9]{1,64}$/;
export const DEFAULT_DISCOVERY_PORT = 7946;
export const DEFAULT_REPLICAS = 2;
export const DEFAULT_SECRET_ENV = 'MOSAICFS_CLUSTER_SECRET';
export const LIST_PAGE_MAX = 5000;

export interface NodeStatus {
  id: string;
  address: string;
  capacity: number;
  used: number;
  free: number;
  blocks: number;
}

export interface ListedBlock {
  id: string;
  size: number;
  mtimeMs: number;
}

export interface ListPage {
  blocks: ListedBlock[];
  /** Pass as `after` for the next page; null at the end. */
  next: string | null;
}

export interface Tombstone {
  id: string;
  /** When the block was deleted (epoch ms): a copy stored before this is stale. */
  deletedAt: number;
  seq: number;
}

export interface TombstonePage {
  tombstones: Tombstone[];
  /** Pass as `since` next time. */
  cursor: number;
}

export type PeerState = 'alive' | 'suspect' | 'dead';

export interface PeerInfo {
  id: string | null;
  address: string;
  state: PeerState;
}

export interface CatalogPage {
  ns: string;
  /** [block id, node ids that held it at the last scrub]. */
  entries: [string, string[]][];
}

export function blockPath(ns: string, id: string): string {
  return `${API_PREFIX}/ns/${ns}/blocks/${id}`;
}

export function nsPath(ns: string, what: 'blocks' | 'tombstones' | 'sync'): string {
  return `${API_PREFIX}/ns/${ns}/${what}`;
}
