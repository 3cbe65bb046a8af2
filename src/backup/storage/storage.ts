/**
 * Where backups live. LOCAL (a folder) and S3 implement the same small interface, so the backup, list,
 * restore and retention code never knows which one it talks to.
 */

export interface StoredObject {
  name: string;
  sizeBytes: number;
  modifiedAt: Date;
}

export interface BackupStorage {
  /** e.g. `local folder /var/backups` or `s3://bucket/prefix/`, for messages. */
  readonly description: string;
  /** Fails with a clear message when the storage cannot be used (folder not writable, bucket missing). */
  check(): Promise<void>;
  list(): Promise<StoredObject[]>;
  /** Stores a local file as `name`; a reader never sees a partial object. */
  putFile(name: string, file: string): Promise<void>;
  putText(name: string, text: string): Promise<void>;
  /** Copies `name` into the local `file`. */
  getFile(name: string, file: string): Promise<void>;
  /** The object's text, or undefined when it does not exist. */
  getText(name: string): Promise<string | undefined>;
  delete(names: string[]): Promise<void>;
}
