/** The one error type of the backup modules; the CLI turns `usage` into exit 2, the rest into exit 1. */
export class BackupError extends Error {
  override name = 'BackupError';
  constructor(
    message: string,
    readonly kind: 'usage' | 'failed' = 'failed',
  ) {
    super(message);
  }
}
