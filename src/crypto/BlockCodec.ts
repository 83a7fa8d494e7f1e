/**
 * BlockCodec: turns plaintext into a content-addressed, sealed block and back.
 *  - id   = hex(HMAC-SHA-256(idKey, plaintext))          (equal data dedups; the store learns nothing)
 *  - data = a header, then the plaintext cut into fixed-size segments, each sealed on its own with
 *           AES-256-GCM and bound to the block id, its index, the segment count and the plaintext
 *           length (see AesGcmBlockCodec for the exact format).
 * open() authenticates every byte and checks that the plaintext hashes to the id (full verification,
 * used by fsck). openSegments() authenticates only the segments it is given, so a reader can fetch
 * and decrypt just the part of a block it needs; a tampered, truncated, reordered or substituted
 * segment throws IntegrityError, never returns data.
 */
export interface SealedBlock {
  id: string;
  data: Buffer;
}

/** Where segments [first, last] of a block lie in its sealed bytes. */
export interface SealedRange {
  offset: number;
  length: number;
}

export interface BlockCodec {
  idOf(plaintext: Uint8Array): string;
  seal(plaintext: Uint8Array): SealedBlock;
  /** Seal when the id is already known (skips hashing twice). The id MUST be idOf(plaintext). */
  sealWithId(id: string, plaintext: Uint8Array): Buffer;
  /** Full verification: the whole sealed block, every segment, and the plaintext's HMAC against the id. */
  open(id: string, sealed: Uint8Array): Buffer;
  /** Plaintext bytes per segment (the last segment of a block may be shorter). */
  readonly segmentSize: number;
  /** Number of segments of a block of `plainSize` bytes (at least 1: an empty block has one empty segment). */
  segmentCount(plainSize: number): number;
  /** Size of the sealed form of a plaintext of `plainSize` bytes. */
  sealedSize(plainSize: number): number;
  /**
   * The sealed bytes holding segments [first, last] of a block of `plainSize` bytes: one contiguous
   * range, computable without the block. A range that starts at segment 0 includes the header, so
   * [0, count-1] is the whole sealed block.
   */
  segmentRange(plainSize: number, first: number, last: number): SealedRange;
  /**
   * Authenticate and decrypt the segments in `sealed`, which must be exactly
   * segmentRange(plainSize, first, first + n - 1) of block `id`. Returns one plaintext Buffer per
   * segment. `plainSize` comes from the caller's metadata; a wrong one fails authentication.
   */
  openSegments(id: string, plainSize: number, first: number, sealed: Uint8Array): Buffer[];
}
