/** Largest file size and offset (JS numbers are exact up to 2^53). Beyond it: EFBIG. */
export const MAX_FILE_SIZE = 2 ** 53;
/** Symlinks followed while resolving one path before ELOOP (Linux MAXSYMLINKS). */
export const MAX_SYMLINKS = 40;
/** Longest path accepted by resolve(), in bytes including the terminating NUL (PATH_MAX). */
export const PATH_MAX = 4096;
/** xattr limits: name bytes (ERANGE beyond) and value bytes (E2BIG beyond). */
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;
/** A day, in seconds: relatime refreshes an atime older than this. */
export const RELATIME_MAX_AGE_SEC = 24 * 60 * 60;
