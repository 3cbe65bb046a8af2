// The runner checksums each migration's TypeScript source, so a build carries the sources beside the
// compiled modules: the same checksum whether the code runs from src/ (tsx, tests) or from dist/.
import { cpSync, readdirSync } from 'node:fs';

for (const set of ['public', 'tenant']) {
  for (const file of readdirSync(`src/migrations/${set}`)) {
    if (file.endsWith('.ts')) cpSync(`src/migrations/${set}/${file}`, `dist/src/migrations/${set}/${file}`);
  }
}
