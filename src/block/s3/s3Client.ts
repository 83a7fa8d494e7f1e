import * as http from 'node:http';
import * as https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3StoreConfig } from '../../volume/config.js';

/** Knobs that are not part of the volume config (tests and benchmarks turn them). */
export interface S3Tuning {
  /** Time allowed to open a connection, ms (default 5000). */
  connectTimeoutMs?: number;
  /**
   * The longest silence on a connection during an attempt, ms (default 30000): sending the body,
   * waiting for the reply, or reading its body. A hung server fails the attempt after this long
   * (and the attempt is retried); a slow but moving transfer is never cut.
   */
  idleTimeoutMs?: number;
  /** Attempts per request including the first (default 5): 5xx, 503 SlowDown, throttling, resets and timeouts are retried with jittered exponential backoff. */
  maxAttempts?: number;
  /** Keys per ListObjectsV2 page (default 1000, the S3 maximum); tests use small pages. */
  listPageSize?: number;
  /** Explicit credentials (tests, benchmarks); default: the AWS SDK's chain (environment, profile, SSO, IMDS...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export const S3_DEFAULTS = { maxParallel: 16, connectTimeoutMs: 5000, idleTimeoutMs: 30_000, maxAttempts: 5 } as const;

/**
 * The SDK client for a store: keep-alive sockets (at least maxParallel), timeouts that turn a hung
 * server into a TimeoutError (retried, then reported), and the SDK's standard retry strategy.
 * Checksums: we send Content-MD5 ourselves and ask the SDK for checksums only where an operation
 * requires them, so S3-compatible servers that do not know the newer x-amz-checksum-* headers work.
 */
export function createS3Client(cfg: S3StoreConfig, tuning: S3Tuning, maxParallel: number): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: maxParallel };
  return new S3Client({
    endpoint: cfg.endpoint,
    // A custom endpoint (MinIO, Ceph, s3rver) needs some region to sign with; AWS itself resolves
    // the region from the environment/profile when none is configured.
    region: cfg.region ?? (cfg.endpoint ? 'us-east-1' : undefined),
    // Custom endpoints are usually reached by address, where virtual-host style cannot work.
    forcePathStyle: cfg.forcePathStyle ?? cfg.endpoint !== undefined,
    credentials: tuning.credentials,
    maxAttempts: tuning.maxAttempts ?? S3_DEFAULTS.maxAttempts,
    retryMode: 'standard',
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Constructor options of the SDK's default NodeHttpHandler (no import of a transitive package).
    requestHandler: {
      connectionTimeout: tuning.connectTimeoutMs ?? S3_DEFAULTS.connectTimeoutMs,
      socketTimeout: tuning.idleTimeoutMs ?? S3_DEFAULTS.idleTimeoutMs,
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
    },
  });
}
