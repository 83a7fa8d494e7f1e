import { VolumeError } from '../../errors.js';
import { assertBlockId, BLOCK_ID_RE } from '../BlockStore.js';

const NAMESPACE_RE = /^[a-z0-9]{1,64}$/;
/** What follows the store's base in a block key: `ab/<id>` (the fan-out pair is the id's first two hex digits). */
const TAIL_RE = /^([0-9a-f]{2})\/([0-9a-f]{64})$/;

/**
 * Where blocks live in a bucket: `${prefix}/${namespace}/${id[0..2]}/${id}`, empty segments left
 * out (no prefix and no namespace: `ab/<id>`). The fan-out pair keeps listings of one pair small
 * and lets tools split work by pair; S3 itself needs none. Listing filters on the exact shape, so
 * the store without a namespace never reports a namespace's blocks (`prefix/ns/ab/<id>` has one
 * segment too many) and a namespace named like a pair never sees the parent's blocks.
 */
export class KeyLayout {
  /** The base every key starts with: '' or ending in '/'. */
  readonly base: string;

  constructor(prefix: string | undefined, namespace: string | undefined) {
    const cleanPrefix = (prefix ?? '').replace(/^\/+|\/+$/g, '');
    if (namespace !== undefined && !NAMESPACE_RE.test(namespace)) {
      throw new VolumeError(`invalid store namespace ${JSON.stringify(namespace)} (expected [a-z0-9]{1,64})`);
    }
    const parts = [cleanPrefix, namespace ?? ''].filter((p) => p.length > 0);
    this.base = parts.length > 0 ? `${parts.join('/')}/` : '';
  }

  /** The object key of a block; the id is validated first, so it can never shape the key. */
  keyOf(id: string): string {
    assertBlockId(id);
    return `${this.base}${id.slice(0, 2)}/${id}`;
  }

  /** The block id a listed key names, or undefined when the key is not one of this store's blocks. */
  idOfKey(key: string): string | undefined {
    if (!key.startsWith(this.base)) return undefined;
    const m = TAIL_RE.exec(key.slice(this.base.length));
    if (!m || !m[2].startsWith(m[1]) || !BLOCK_ID_RE.test(m[2])) return undefined;
    return m[2];
  }
}
