/**
 * Fix * / comments, 'single' and "double" quotes, `backticks` and ${interpolation} over two lines \ with a backslash and a long tail and a long tail and a long tail and a long tail and a long tail and a long tail
 *
 * Why: <say why this change is needed>.
 *
 * `up` and `down` are SQL text: the runner sends each as one query inside its transaction, with
 * search_path set to the target schema, so write unqualified names. Keep down the exact inverse of up.
 * A revision that needs logic (reading results, catching an error) exports functions instead:
 * `export const up: MigrationFunction = async (db) => { … }` (see src/migrations/migration-set.ts).
 */
export const description =
  'Fix */ comments, \'single\' and "double" quotes, `backticks` and ${interpolation} over two lines \\ with a backslash and a long tail and a long tail and a long tail and a long tail and a long tail and a long tail';
export const follows = null;

export const up = `
SELECT 1;
`;

export const down = `
SELECT 1;
`;
