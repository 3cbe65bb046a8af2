/** The storage engine a BackupConfig names. The S3 engine (and the AWS SDK) is loaded only when used. */
import type { StorageConfig } from '../config.ts';
import { LocalStorage } from './local.ts';
import type { BackupStorage } from './storage.ts';

export async function openStorage(config: StorageConfig): Promise<BackupStorage> {
  switch (config.engine) {
    case 'LOCAL':
      return new LocalStorage(config.path);
    case 'S3': {
      const { S3Storage } = await import('./s3.ts');
      return new S3Storage(config);
    }
  }
}
