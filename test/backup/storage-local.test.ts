/** Issue 7 "Must show": `list` and `--keep` on the LOCAL engine (a folder). See storage-cases.ts. */
import path from 'node:path';
import { describe } from 'vitest';
import { storageEngineTests } from './storage-cases.ts';

describe('LOCAL storage', () => {
  storageEngineTests(async (folder) => ({
    setup: { storage_engine: 'LOCAL' },
    local_storage: { path: path.join(folder, 'store') },
  }));
});
