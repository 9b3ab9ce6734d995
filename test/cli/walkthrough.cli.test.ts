import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, ProcessGroup, ROOT, TempCheckout } from '../support/checkout.js';
import { ELLIPSIS, lines, matchLines, sessionSteps, Uuids } from '../support/console-blocks.js';

/**
 * The README's walkthrough, run as written: every ```console block, where a
 * line starting with `$ ` is a command (a trailing `\` continues it on the
 * next line) and the lines after it are its output. The commands run in
 * order in a copy of the checkout with no dist/ and no data/; `npm start`
 * runs in the background, as in a second terminal. Output is compared
 * after replacing what differs from run to run: uuids (by order of first
 * appearance), the port, the checkout's path. A line `…` in the README
 * stands for any number of lines.
 */

/** The README's path and port, which the run's own stand for. */
const README_DIR = '/home/you/cellgroups';
const README_PORT = '8774';
/** Commands that keep running: started in the background, stopped at the end. */
const BACKGROUND = new Set(['npm start']);
const STEP_MS = 180_000;

function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('the README walkthrough', () => {
  const steps = sessionSteps(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), 'console');
  let checkout: TempCheckout;
  const background: ProcessGroup[] = [];

  beforeAll(() => {
    checkout = new TempCheckout('cgt-walkthrough-');
  });
  afterAll(async () => {
    for (const server of background) {
      server.signal('SIGTERM');
      if (!(await server.gone())) server.kill();
    }
    checkout.remove();
  });

  it('has commands, and the tools they use are installed', () => {
    expect(steps.map((s) => s.command.split(' ')[0])).toContain('npm');
    const missing = ['curl', 'python3'].filter(
      (tool) => steps.some((s) => s.command.includes(tool)) && !hasCommand(tool),
    );
    expect(missing, `the walkthrough needs ${missing.join(' and ')}: install them`).toEqual([]);
  });

  it(
    'prints what the README shows, command by command, on a fresh data directory',
    async () => {
      const expectedUuids = new Uuids();
      const actualUuids = new Uuids();
      let port: string | undefined;
      const normalize = (text: string) => {
        let out = text.split(checkout.dir).join(README_DIR);
        if (port !== undefined)
          out = out.split(`127.0.0.1:${port}`).join(`127.0.0.1:${README_PORT}`);
        return lines(actualUuids.normalize(out));
      };

      for (const step of steps) {
        const expected = lines(expectedUuids.normalize(step.expected.join('\n')));
        const command =
          port === undefined
            ? step.command
            : step.command.split(`127.0.0.1:${README_PORT}`).join(`127.0.0.1:${port}`);

        if (BACKGROUND.has(step.command)) {
          // The README's port may be taken: the server gets a free one, and its address
          // stands for the README's in what follows.
          const server = new ProcessGroup('sh', ['-c', `exec 2>&1; ${command}`], {
            cwd: checkout.dir,
            env: cleanEnv({ OS_DEFAULT__OSAPI_COMPUTE_LISTEN_PORT: '0' }),
          });
          background.push(server);
          port = await server.until(
            'listening line',
            () => /compute API listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(server.stdout)?.[1],
            STEP_MS,
          );
          // Its output so far, then whatever it logs while the walkthrough goes on.
          const actual = normalize(server.stdout);
          if (!matchLines([...expected, ELLIPSIS], actual)) {
            expect(actual.join('\n'), `output of \`${step.command}\``).toBe(expected.join('\n'));
          }
          continue;
        }

        const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
          execFile(
            'sh',
            ['-c', `exec 2>&1; ${command}`],
            { cwd: checkout.dir, env: cleanEnv(), timeout: STEP_MS },
            (error, stdout) => {
              resolve({ code: error ? Number(error.code ?? 255) : 0, output: stdout });
            },
          );
        });
        const actual = normalize(output);
        expect(code, `\`${step.command}\` exited ${code}:\n${output}`).toBe(0);
        if (!matchLines(expected, actual)) {
          expect(actual.join('\n'), `output of \`${step.command}\``).toBe(expected.join('\n'));
        }
      }
      expect(port, 'the walkthrough starts the server').toBeDefined();
    },
    steps.length * STEP_MS,
  );
});
