/**
 * Backend settings shared by the end-to-end tests: the environment the CLI (and the daemons it
 * starts) read secrets from, and `mosaicfs init` flags exactly as docs/BACKENDS.md writes them.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3RVER_CREDENTIALS } from '../helpers/s3Server.js';
import type { S3rverProcess } from './s3rverProcess.js';

/** AWS credentials the usual way (environment), for this process and every CLI child. */
export function s3Env(): void {
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  delete process.env.AWS_PROFILE;
}

/** The s3 spec and its flags (for --store, --replica or --slow). */
export function s3Spec(s3: S3rverProcess, prefix: string): { spec: string; flags: string[] } {
  return { spec: `s3://${s3.bucket}/${prefix}`, flags: ['--s3-endpoint', s3.endpoint, '--s3-path-style'] };
}

export function s3StoreFlags(s3: S3rverProcess, prefix: string): string[] {
  const { spec, flags } = s3Spec(s3, prefix);
  return ['--store', spec, ...flags];
}

/**
 * Peers: static list only, and even if discovery were on, probes would go to loopback only (never
 * the LAN's broadcast address).
 */
export function peersFlags(addresses: string[], secretFile: string, replicas = 2): string[] {
  process.env.MOSAICFS_DISCOVERY_ADDRESS = '127.255.255.255';
  return [...addresses.flatMap((a) => ['--peer', a]), '--replicas', String(replicas), '--cluster-secret-file', secretFile, '--no-discovery'];
}

/** Object keys under `prefix/` in the s3rver bucket, listed with the AWS SDK. */
export async function listS3Keys(s3: S3rverProcess, prefix: string): Promise<string[]> {
  const client = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  try {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
      for (const o of page.Contents ?? []) keys.push(o.Key!);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  } finally {
    client.destroy();
  }
}
