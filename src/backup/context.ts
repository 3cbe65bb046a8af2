/** What every backup action needs: the database, the storage and where the client programs are. */
import type { BackupStorage } from './storage/storage.ts';

export interface BackupContext {
  /** URL of the database backed up / replaced (the live one). */
  url: string;
  storage: BackupStorage;
  pgBinDir: string | undefined;
  verbose: boolean;
  /** Progress messages (shown with --verbose). */
  log(message: string): void;
}
