/**
 * S3 storage through the AWS SDK v3: AWS itself, or any S3-compatible server via `endpoint` (+ path-style
 * addressing). A PutObject is atomic (readers see the old object or the whole new one). Single PutObject
 * uploads cap an archive at 5 GB; larger databases need multipart upload (@aws-sdk/lib-storage).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { StorageConfig } from '../config.ts';
import { BackupError } from '../errors.ts';
import type { BackupStorage, StoredObject } from './storage.ts';

type S3Config = Extract<StorageConfig, { engine: 'S3' }>;

export class S3Storage implements BackupStorage {
  readonly description: string;
  private readonly client: S3Client;

  constructor(private readonly config: S3Config) {
    this.description = `s3://${config.bucket}/${config.prefix}${config.endpoint ? ` at ${config.endpoint}` : ''}`;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle,
      credentials: config.credentials,
      // We keep our own SHA-256 per archive; the SDK's default extra CRC checksums (aws-chunked uploads)
      // are not understood by several S3-compatible servers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
    });
  }

  private key(name: string): string {
    return `${this.config.prefix}${name}`;
  }

  private failure(action: string, error: unknown): BackupError {
    const detail =
      error instanceof S3ServiceException
        ? `${error.name}${error.$metadata.httpStatusCode ? ` (HTTP ${error.$metadata.httpStatusCode})` : ''}: ${error.message}`
        : error instanceof Error
          ? `${(error as NodeJS.ErrnoException).code ?? error.name}: ${error.message}`
          : String(error);
    return new BackupError(`S3 ${action} failed on ${this.description}: ${detail}`);
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.config.bucket }));
    } catch (error) {
      throw this.failure('bucket check (check [S3] bucket_name, endpoint, region and credentials)', error);
    }
  }

  async list(): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.config.bucket,
            Prefix: this.config.prefix,
            ContinuationToken: token,
          }),
        );
        for (const item of page.Contents ?? []) {
          const name = item.Key?.slice(this.config.prefix.length);
          // Objects in "sub-folders" of the prefix are not ours.
          if (!name || name.includes('/')) continue;
          objects.push({ name, sizeBytes: item.Size ?? 0, modifiedAt: item.LastModified ?? new Date(0) });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (error) {
      throw this.failure('list', error);
    }
    return objects;
  }

  async putFile(name: string, file: string): Promise<void> {
    const { size } = await stat(file);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.config.bucket,
          Key: this.key(name),
          Body: createReadStream(file),
          ContentLength: size,
        }),
      );
    } catch (error) {
      throw this.failure(`upload of ${name}`, error);
    }
  }

  async putText(name: string, text: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.config.bucket, Key: this.key(name), Body: text }),
      );
    } catch (error) {
      throw this.failure(`upload of ${name}`, error);
    }
  }

  async getFile(name: string, file: string): Promise<void> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(name) }),
      );
      await pipeline(response.Body as Readable, createWriteStream(file));
    } catch (error) {
      throw this.failure(`download of ${name}`, error);
    }
  }

  async getText(name: string): Promise<string | undefined> {
    try {
      const response = await this.client.send(
        new GetObjectCommand({ Bucket: this.config.bucket, Key: this.key(name) }),
      );
      return (await response.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw this.failure(`download of ${name}`, error);
    }
  }

  async delete(names: string[]): Promise<void> {
    // One DeleteObject per name: DeleteObjects needs a Content-MD5/CRC header that several S3-compatible
    // servers handle differently, and retention deletes a handful of objects at a time.
    for (const name of names) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: this.key(name) }));
      } catch (error) {
        throw this.failure(`delete of ${name}`, error);
      }
    }
  }
}
