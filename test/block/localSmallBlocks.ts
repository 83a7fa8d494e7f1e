import { createHash } from 'node:crypto';

/** Deterministic block number i (1 to 9 KiB), so a child process and the test agree on the bytes. */
export function smallBlockOf(i: number): { id: string; data: Buffer } {
  const data = Buffer.alloc(1024 + (i % 9) * 1024, `block ${i} `);
  return { id: createHash('sha256').update(data).digest('hex'), data };
}
