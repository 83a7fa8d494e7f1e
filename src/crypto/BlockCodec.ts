/**
 * BlockCodec: turns plaintext into a content-addressed, sealed block and back.
 *  - id   = hex(HMAC-SHA-256(idKey, plaintext))          (equal data dedups; the store learns nothing)
 *  - data = version(1) || nonce(12) || AES-256-GCM(encKey, nonce, plaintext, aad = id) || tag(16)
 * open() authenticates every byte and checks that the plaintext hashes to the id: a tampered,
 * truncated or substituted block throws IntegrityError, never returns data.
 */
export interface SealedBlock {
  id: string;
  data: Buffer;
}

export interface BlockCodec {
  idOf(plaintext: Uint8Array): string;
  seal(plaintext: Uint8Array): SealedBlock;
  /** Seal when the id is already known (skips hashing twice). */
  sealWithId(id: string, plaintext: Uint8Array): Buffer;
  open(id: string, sealed: Uint8Array): Buffer;
  /** Bytes seal() adds to a plaintext (header + tag). */
  readonly overhead: number;
}
