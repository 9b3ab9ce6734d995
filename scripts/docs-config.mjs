// Writes docs/configuration-reference.md from src/config/options.ts (through
// the build: `npm run docs:config` builds first). A unit test fails while the
// committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REFERENCE_FILE, renderConfigReference } from '../dist/config/reference.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(path.join(root, REFERENCE_FILE), renderConfigReference());
console.log(`wrote ${REFERENCE_FILE}`);
