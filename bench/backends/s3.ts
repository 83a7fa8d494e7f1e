// S3 backend throughput: node dist/bench/backends/s3.js [--count 32] [--block-mib 4] [--parallel 16]
// Starts s3rver on loopback and moves the same blocks (a) with the AWS SDK alone (the backend's
// ceiling), (b) through S3BlockStore and (c) through a mosaicfs volume (VFS + data layer) whose
// store is S3, and prints MiB/s and each one's ratio to the SDK alone. Not part of npm test.
import * as http from 'node:http';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3BlockStore } from '../../src/block/s3/S3BlockStore.js';
import { S3RVER_CREDENTIALS, startS3Server } from '../../test/helpers/s3Server.js';
import { makeBlocks, parseBackendBenchArgs, printTable, runPool, storeThroughput, timed, volumeThroughput, type Throughput } from './common.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

async function main(): Promise<void> {
  const args = parseBackendBenchArgs(process.argv.slice(2), { count: 32, blockBytes: 4 * 1024 * 1024, parallel: 16 });
  const server = await startS3Server('bench');
  try {
    const blocks = makeBlocks(args.count, args.blockBytes);
    const bytes = args.count * args.blockBytes;
    console.log(`s3rver at ${server.endpoint}: ${args.count} blocks of ${args.blockBytes / 1048576} MiB, ${args.parallel} in flight`);

    // (a) The SDK alone: plain PutObject/GetObject, keep-alive sockets, nothing of ours.
    const sdk = new S3Client({
      endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3RVER_CREDENTIALS,
      requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { httpAgent: new http.Agent({ keepAlive: true, maxSockets: args.parallel }) },
    });
    const sdkPut = await timed('SDK alone put', bytes, () => runPool(blocks, args.parallel, async (b) => {
      await sdk.send(new PutObjectCommand({ Bucket: server.bucket, Key: `sdk/${b.id}`, Body: b.data, ContentLength: b.data.length }));
    }));
    const sdkGet = await timed('SDK alone get', bytes, () => runPool(blocks, args.parallel, async (b) => {
      const reply = await sdk.send(new GetObjectCommand({ Bucket: server.bucket, Key: `sdk/${b.id}` }));
      const body = await reply.Body!.transformToByteArray();
      if (body.length !== b.data.length) throw new Error('SDK alone: short body');
    }));
    sdk.destroy();

    // (b) S3BlockStore; (c) a volume over it. Separate prefixes, so nothing is already there.
    const open = (prefix: string): Promise<S3BlockStore> => S3BlockStore.open(
      { type: 's3', bucket: server.bucket, endpoint: server.endpoint, prefix, maxParallel: args.parallel },
      { volumeDir: '/nonexistent' },
      { credentials: S3RVER_CREDENTIALS },
    );
    const store = await open('store');
    const viaStore = await storeThroughput('S3BlockStore', store, blocks, args.parallel);
    await store.close();

    const volStore = await open('volume');
    const viaVolume = await volumeThroughput('volume over S3', volStore, { fileBytes: bytes, blockSize: args.blockBytes });
    const viaVolumeWide = await volumeThroughput(`volume over S3, ${args.parallel} uploads`, volStore, {
      fileBytes: bytes, blockSize: args.blockBytes, uploadConcurrency: args.parallel,
    });
    await volStore.close();

    const writes: Throughput[] = [sdkPut, viaStore.put, viaVolume.write, viaVolumeWide.write];
    const reads: Throughput[] = [sdkGet, viaStore.get, viaVolume.read, viaVolumeWide.read];
    printTable('writes', writes, () => sdkPut);
    printTable('reads', reads, () => sdkGet);
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
