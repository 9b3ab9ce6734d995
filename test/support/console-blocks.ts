/**
 * Shell sessions written in Markdown, as the README shows them: in a fenced
 * block, a line starting with `$ ` is a command (a trailing `\` continues it
 * on the next line) and the lines after it are its output. A line `…` stands
 * for any number of lines. Tests run the commands and compare.
 */

export const ELLIPSIS = '…';

export interface Step {
  readonly command: string;
  readonly expected: string[];
}

/** The commands and outputs of a Markdown file's ```<language> blocks, in order. */
export function sessionSteps(markdown: string, language: string): Step[] {
  const steps: { command: string; expected: string[] }[] = [];
  for (const block of markdown.matchAll(
    new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, 'gm'),
  )) {
    const lines = (block[1] ?? '').replace(/\n$/, '').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] ?? '';
      if (line.startsWith('$ ')) {
        let command = line.slice(2);
        while (command.endsWith('\\') && i + 1 < lines.length) {
          command = `${command.slice(0, -1).trimEnd()} ${(lines[++i] ?? '').trim()}`;
        }
        steps.push({ command, expected: [] });
      } else {
        const step = steps.at(-1);
        if (!step) throw new Error(`output before any command in a session block: ${line}`);
        step.expected.push(line);
      }
    }
  }
  return steps;
}

/** Replaces each distinct uuid by its order of first appearance, across the whole run. */
export class Uuids {
  private readonly seen = new Map<string, number>();
  normalize(text: string): string {
    return text.replace(
      /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g,
      (uuid) => {
        let n = this.seen.get(uuid);
        if (n === undefined) {
          n = this.seen.size + 1;
          this.seen.set(uuid, n);
        }
        return `<uuid ${n}>`;
      },
    );
  }
}

/** Whether `actual` matches `expected`, where an expected `…` line matches any number of lines. */
export function matchLines(expected: readonly string[], actual: readonly string[]): boolean {
  const memo = new Map<string, boolean>();
  const match = (e: number, a: number): boolean => {
    const key = `${e},${a}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (e === expected.length) result = a === actual.length;
    else if (expected[e] === ELLIPSIS)
      result = match(e + 1, a) || (a < actual.length && match(e, a + 1));
    else result = a < actual.length && expected[e] === actual[a] && match(e + 1, a + 1);
    memo.set(key, result);
    return result;
  };
  return match(0, 0);
}

export function lines(text: string): string[] {
  const all = text.split('\n').map((line) => line.trimEnd());
  while (all.length > 0 && all.at(-1) === '') all.pop();
  return all;
}
