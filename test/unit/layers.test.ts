import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEPCRUISE = path.join(ROOT, 'node_modules/.bin/depcruise');
const CONFIG = path.join(ROOT, '.dependency-cruiser.mjs');

const run = promisify(execFile);

/** Runs the real config over `dir`'s src/; resolves to depcruise's exit code and output. */
async function cruise(dir: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run(DEPCRUISE, ['--config', CONFIG, 'src'], { cwd: dir });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

const dirs: string[] = [];

/** A tiny src/ tree in a fresh directory: path → file text. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cellgroups-layers-'));
  dirs.push(dir);
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } }),
  );
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the layering check (npm run lint:layers)', () => {
  it('passes a tree whose imports only look down', async () => {
    const dir = tree({
      'src/errors.ts': 'export class Oops extends Error {}\n',
      'src/cells/cell.ts': "import { Oops } from '../errors.js';\nexport const c = Oops;\n",
      'src/groups/group.ts': "import { c } from '../cells/cell.js';\nexport const g = c;\n",
      'src/api/app.ts': "import { g } from '../groups/group.js';\nexport const a = g;\n",
    });
    const { code, output } = await cruise(dir);
    expect(output).toContain('no dependency violations');
    expect(code).toBe(0);
  }, 30_000);

  it('fails on an upward import, a sideways one and a cycle', async () => {
    const dir = tree({
      // cells reaching up into groups
      'src/cells/setup.ts': "import { g } from '../groups/group.js';\nexport const s = g;\n",
      'src/groups/group.ts': 'export const g = 1;\n',
      // groups and quotas share a floor but must not import each other
      'src/quotas/store.ts': "import { g } from '../groups/group.js';\nexport const q = g;\n",
      // a cycle inside one layer
      'src/online/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/online/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
    });
    const { code, output } = await cruise(dir);
    expect(code).not.toBe(0);
    expect(output).toContain('layer-cells-looks-down: src/cells/setup.ts → src/groups/group.ts');
    expect(output).toContain(
      'layer-groups-quotas-apart: src/quotas/store.ts → src/groups/group.ts',
    );
    expect(output).toMatch(/no-cycles: src\/online\/[ab]\.ts/);
  }, 30_000);
});
