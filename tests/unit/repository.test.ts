// The repository stands on its own: no tracked file points outside it (a folder beside
// the checkout) or to the team's issue tracker, since a clone has neither. The file list
// is read from git at run time, so a file added later is checked too.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));

/** Every tracked file but the lockfile (its package URLs are not ours to word). */
const trackedFiles = () =>
  execFileSync('git', ['ls-files', '-z'], { cwd: repo, encoding: 'utf8' })
    .split('\0')
    .filter((path) => path && path !== 'package-lock.json');

// Each pattern is split so that this file does not match itself.
const forbidden: [string, RegExp][] = [
  ['a path outside the repository', new RegExp(['\\.\\./', 'shared'].join(''))],
  ['an issue by number', new RegExp(['\\bIssue', ' \\d'].join(''), 'i')],
  ['an issue reference', new RegExp(['\\bissue', ' #'].join(''), 'i')],
  ['an issue reference', new RegExp(['\\bthe', " issue's\\b"].join(''), 'i')],
  ["the team's guide", new RegExp(['\\bthe', ' guide\\b'].join(''), 'i')],
];

/** `path:line: what` for every forbidden reference in `files`. */
function references(files: string[]): string[] {
  const found: string[] = [];
  for (const path of files) {
    let text: string;
    try {
      text = readFileSync(join(repo, path), 'utf8');
    } catch {
      continue; // deleted in the work tree but not yet from the index
    }
    if (text.includes('\0')) continue; // binary
    text.split('\n').forEach((line, index) => {
      for (const [what, pattern] of forbidden) if (pattern.test(line)) found.push(`${path}:${index + 1}: ${what}`);
    });
  }
  return found;
}

describe('the repository', () => {
  it('lists its tracked files through git', () => {
    const files = trackedFiles();
    expect(files).toEqual(expect.arrayContaining(['README.md', 'package.json', 'server/config.ts']));
  });

  it("no tracked file names a path outside the repository or the team's issues", () => {
    expect(references(trackedFiles())).toEqual([]);
  });

  it('the check finds each kind of reference', () => {
    const samples = [
      ['..', 'shared/API.md'].join('/'),
      ['Issue', '6 asks'].join(' '),
      ['see issue', '#12'].join(' '),
      ['in the', "issue's setting"].join(' '),
      ['as the', 'guide says'].join(' '),
    ];
    for (const sample of samples)
      expect(
        forbidden.some(([, pattern]) => pattern.test(sample)),
        sample,
      ).toBe(true);
    expect(forbidden.some(([, pattern]) => pattern.test('a guided tour, issued tokens, docs/api.md'))).toBe(false);
  });
});
