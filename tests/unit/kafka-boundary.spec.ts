import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/**
 * kafkajs is used in one place, libs/platform/src/kafka/ (see its index.ts): everything else reaches Kafka through
 * @idsync/platform, so the client's behaviour (and a move to another client) is in one folder. Tests (*.spec.ts) may
 * still import kafkajs to build its errors or read topics as a bystander.
 */
const ROOT = join(__dirname, '..', '..');
const KAFKA_FOLDER = ['libs', 'platform', 'src', 'kafka'].join(sep) + sep;

/** `import ... from 'kafkajs'`, `export ... from`, `import 'kafkajs'`, `require(...)`, `import(...)`, and subpaths. */
const KAFKAJS_IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]kafkajs(?:\/[^'"]*)?['"]/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'dist' ? [] : sourceFiles(path);
    return /\.(?:ts|mts|cts|js|mjs|cjs)$/.test(entry.name) && !/\.spec\.[a-z]+$/.test(entry.name) ? [path] : [];
  });
}

/** Every production source file under libs/*\/src and services/*\/src, relative to the repository. */
function productionFiles(): string[] {
  return ['libs', 'services'].flatMap((group) =>
    readdirSync(join(ROOT, group), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .flatMap((entry) => {
        const src = join(ROOT, group, entry.name, 'src');
        try {
          return sourceFiles(src);
        } catch {
          return []; // a package without src/
        }
      })
      .map((path) => relative(ROOT, path)),
  );
}

const importsKafkajs = (file: string): boolean => KAFKAJS_IMPORT.test(readFileSync(join(ROOT, file), 'utf8'));

describe('the Kafka boundary', () => {
  it('recognises the ways a file can load kafkajs', () => {
    for (const line of [
      "import { Kafka } from 'kafkajs';",
      'import type { Admin } from "kafkajs";',
      "export { logLevel } from 'kafkajs';",
      "import 'kafkajs';",
      "const k = require('kafkajs');",
      "await import('kafkajs')",
      "from 'kafkajs/src/errors'",
    ]) {
      expect(KAFKAJS_IMPORT.test(line)).toBe(true);
    }
    for (const line of ["import { KafkaClient } from '@idsync/platform';", '// kafkajs registers the transactional id lazily', "import { x } from './kafkajs-notes';"]) {
      expect(KAFKAJS_IMPORT.test(line)).toBe(false);
    }
  });

  it('imports kafkajs only in libs/platform/src/kafka/', () => {
    const files = productionFiles();
    // The walk finds the sources (a wrong root would find nothing and prove nothing).
    expect(files).toContain(join('libs', 'platform', 'src', 'kafka', 'client.ts'));
    expect(files).toContain(join('services', 'cli', 'src', 'context.ts'));
    const users = files.filter(importsKafkajs);
    expect(users.filter((file) => file.startsWith(KAFKA_FOLDER))).not.toEqual([]);
    expect(users.filter((file) => !file.startsWith(KAFKA_FOLDER))).toEqual([]);
  });
});
