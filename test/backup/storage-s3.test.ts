/**
 * Issue 7 "Must show": `list` and `--keep` on the S3 engine, against a real S3-compatible server (s3rver
 * in its own process) through the AWS SDK. See storage-cases.ts.
 */
import { describe } from 'vitest';
import { startS3Server } from './s3-server.ts';
import { storageEngineTests } from './storage-cases.ts';

describe('S3 storage', () => {
  storageEngineTests(async () => {
    const s3 = await startS3Server();
    return {
      setup: { storage_engine: 'S3' },
      S3: {
        bucket_name: s3.bucket,
        bucket_backup_path: 'tenantry/nightly',
        region: 'us-east-1',
        endpoint: s3.endpoint,
        force_path_style: 'true',
        access_key_id: s3.accessKeyId,
        secret_access_key: s3.secretAccessKey,
      },
    };
  });
});
