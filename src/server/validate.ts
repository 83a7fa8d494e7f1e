import { BLOCK_ID_RE } from '../block/BlockStore.js';
import { FsError } from '../errors.js';
import { NAME_MAX } from '../meta/names.js';
import { badRequest } from './httpErrors.js';

/**
 * Argument validators for remote MetaStore calls: each checks one decoded wire value and returns
 * it typed, or throws a 400 EBADREQ naming what is wrong (ENAMETOOLONG for over-long names, as
 * POSIX reports it).
 */
export type Check<T> = (value: unknown, what: string) => T;

const MAX_STRING_BYTES = 64 * 1024;
export const MAX_XATTR_VALUE = 64 * 1024;
const MAX_ARRAY = 100_000;

export const uint: Check<number> = (v, what) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badRequest(`${what} must be a non-negative safe integer`);
  return v;
};

export const ino: Check<number> = (v, what) => {
  const n = uint(v, what);
  if (n === 0) throw badRequest(`${what} must be an inode number (>= 1)`);
  return n;
};

export function intIn(min: number, max: number): Check<number> {
  return (v, what) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw badRequest(`${what} must be an integer in [${min}, ${max}]`);
    return v;
  };
}

export const bool: Check<boolean> = (v, what) => {
  if (typeof v !== 'boolean') throw badRequest(`${what} must be a boolean`);
  return v;
};

/** A string without NUL, at most 64 KiB of UTF-8. */
export const str: Check<string> = (v, what) => {
  if (typeof v !== 'string') throw badRequest(`${what} must be a string`);
  if (v.includes('\0')) throw badRequest(`${what} must not contain NUL`);
  if (Buffer.byteLength(v, 'utf8') > MAX_STRING_BYTES) throw badRequest(`${what} is too long`);
  return v;
};

/** A directory entry name: a string without NUL of at most 255 bytes. */
export const name: Check<string> = (v, what) => {
  const s = str(v, what);
  if (Buffer.byteLength(s, 'utf8') > NAME_MAX) throw new FsError('ENAMETOOLONG', `${what} is longer than ${NAME_MAX} bytes`);
  return s;
};

/** An xattr name: a string without NUL of at most 255 bytes (ERANGE beyond, as setxattr(2) says). */
export const xattrName: Check<string> = (v, what) => {
  const s = str(v, what);
  if (Buffer.byteLength(s, 'utf8') > NAME_MAX) throw new FsError('ERANGE', `${what} is longer than ${NAME_MAX} bytes`);
  return s;
};

export const blockId: Check<string> = (v, what) => {
  if (typeof v !== 'string' || !BLOCK_ID_RE.test(v)) throw badRequest(`${what} must be a block id (64 lowercase hex digits)`);
  return v;
};

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, what) => (v === null ? null : check(v, what));
}

export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, what) => (v === undefined || v === null ? undefined : check(v, what));
}

export function arrayOf<T>(check: Check<T>, max = MAX_ARRAY): Check<T[]> {
  return (v, what) => {
    if (!Array.isArray(v)) throw badRequest(`${what} must be an array`);
    if (v.length > max) throw badRequest(`${what} has more than ${max} items`);
    return v.map((item, i) => check(item, `${what}[${i}]`));
  };
}

export function buffer(maxBytes: number): Check<Buffer> {
  return (v, what) => {
    if (!Buffer.isBuffer(v)) throw badRequest(`${what} must be bytes ({"$b64": ...})`);
    if (v.length > maxBytes) throw new FsError('E2BIG', `${what} is larger than ${maxBytes} bytes`);
    return v;
  };
}

type Shape = Record<string, Check<unknown>>;
type ShapeOf<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** A plain object with exactly these fields (optional ones via optional()); unknown fields are refused. */
export function object<S extends Shape>(shape: S): Check<ShapeOf<S>> {
  return (v, what) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v) || v instanceof Map) {
      throw badRequest(`${what} must be an object`);
    }
    const obj = v as Record<string, unknown>;
    for (const k of Object.keys(obj)) if (!(k in shape)) throw badRequest(`${what} has an unknown field ${JSON.stringify(k)}`);
    const out: Record<string, unknown> = {};
    for (const [k, check] of Object.entries(shape)) {
      const value = check(obj[k], `${what}.${k}`);
      if (value !== undefined) out[k] = value;
    }
    return out as ShapeOf<S>;
  };
}

export const timespec = object({ sec: intIn(-(2 ** 53 - 1), 2 ** 53 - 1), nsec: intIn(0, 999_999_999) });

export const slice = object({ chunkOff: uint, len: uint, blockId, blockOff: uint });
export const newBlock = object({ id: blockId, size: uint, storedSize: uint });
export const chunkWrite = object({ chunk: uint, slices: arrayOf(slice) });

export const leaseRequest = object({ ino, write: bool });
export const openRequest = object({ ino });
