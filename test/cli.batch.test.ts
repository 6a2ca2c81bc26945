/**
 * `file-transformer convert ... --output-dir DIR` (the batch mode for backfills), as users run it: the
 * built CLI in a child process, on real files in a temp directory, converting on real threads.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliText } from './support/cli.js';
import { smallCatalogue } from './support/small-catalogue.js';

const root = mkdtempSync(join(tmpdir(), 'cli-batch-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function cli(args: string[], cwd: string, env: Record<string, string> = {}, stdin = '') {
  return runCliText(['convert', ...args], { cwd, env, stdin });
}

/** A fresh working directory with the given files. */
function workdir(files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(root, 'w-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

const ids = (path: string): string[] =>
  (JSON.parse(readFileSync(path, 'utf8')) as { product_id: string }[]).map((p) => p.product_id);

const REJECTS = `<items>
<item id="1"><category>A</category><description>a</description></item>
<item><category>B</category></item>
</items>`;

describe('file-transformer convert --output-dir', () => {
  it('converts many files in parallel, reports the bad ones, and exits with the worst status', async () => {
    const dir = workdir({
      'a.xml': smallCatalogue(100, 3),
      'b.xml.gz': gzipSync(smallCatalogue(200, 2)),
      'rejects.xml': REJECTS,
      'broken.xml': '<items>\n<item id="1">\n</items>',
    });
    const r = await cli(['a.xml', 'b.xml.gz', 'rejects.xml', 'broken.xml', '--output-dir', 'out'], dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const out = join(dir, 'out');
    expect(ids(join(out, 'a.xml.json'))).toEqual(['100', '101', '102']);
    expect(ids(join(out, 'b.xml.gz.json'))).toEqual(['200', '201']);
    expect(ids(join(out, 'rejects.xml.json'))).toEqual(['1']);
    // Reports only where there is something to report; nothing half-written, no temp files.
    expect(readdirSync(out).sort()).toEqual([
      'a.xml.json',
      'b.xml.gz.json',
      'broken.xml.report.json',
      'rejects.xml.json',
      'rejects.xml.report.json',
    ]);
    const rejected = JSON.parse(readFileSync(join(out, 'rejects.xml.report.json'), 'utf8'));
    expect(rejected).toMatchObject({ source: 'rejects.xml', itemsWritten: 1, itemsRejected: 1, error: null });
    const broken = JSON.parse(readFileSync(join(out, 'broken.xml.report.json'), 'utf8'));
    expect(broken.error.line).toBe(3);
    expect(r.stderr).toMatch(
      /^failed: broken\.xml: not well-formed XML.*\(line 3\) \(report: out\/broken\.xml\.report\.json\)$/m,
    );
    expect(r.stderr).toMatch(
      /converted 3 of 4 files to out; 6 items written, 1 rejected \(in 1 file: see their \.report\.json\); 1 failed; .* files\/s/,
    );
    // Not a terminal: no progress bar redraws.
    expect(r.stderr).not.toContain('\r');
  });

  it('expands globs the shell left alone (* and **), and exits 0 when every file converted', async () => {
    const dir = workdir({
      'feeds/x/one.xml': smallCatalogue(1, 1),
      'feeds/y/z/two.xml': smallCatalogue(2, 1),
      'feeds/three.xml': smallCatalogue(3, 1),
      'feeds/notes.txt': 'not a catalogue',
      'feeds/.hidden.xml': smallCatalogue(9, 1),
    });
    const r = await cli(['feeds/**/*.xml', '-d', 'out', '--threads', '2'], dir);
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'out')).sort()).toEqual(['one.xml.json', 'three.xml.json', 'two.xml.json']);
    expect(r.stderr).toContain('converted 3 of 3 files to out; 3 items written, 0 rejected;');
    expect(r.stderr).toContain('on 2 threads');

    const flat = await cli(['feeds/*.xml', '-d', 'flat'], dir);
    expect(flat.code).toBe(0);
    expect(readdirSync(join(dir, 'flat'))).toEqual(['three.xml.json']);

    const none = await cli(['feeds/*.json', '-d', 'none'], dir);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no files match feeds/*.json');
    expect(existsSync(join(dir, 'none'))).toBe(false);
  });

  it('reads - from stdin as DIR/stdin.json, and on the main thread with --threads 0 gives the same output', async () => {
    const dir = workdir({ 'a.xml': smallCatalogue(5, 2) });
    const r = await cli(['-', 'a.xml', '-d', 'out'], dir, {}, smallCatalogue(40, 4));
    expect(r.code).toBe(0);
    expect(ids(join(dir, 'out', 'stdin.json'))).toEqual(['40', '41', '42', '43']);
    const main = await cli(['a.xml', '-d', 'main', '--threads', '0'], dir);
    expect(main.code).toBe(0);
    expect(main.stderr).toContain('on the main thread');
    expect(readFileSync(join(dir, 'main', 'a.xml.json'), 'utf8')).toBe(
      readFileSync(join(dir, 'out', 'a.xml.json'), 'utf8'),
    );
  });

  it('removes a stale report when a file now converts cleanly, and keeps the old output when it fails', async () => {
    const dir = workdir({ 'a.xml': REJECTS });
    expect((await cli(['a.xml', '-d', 'out'], dir)).code).toBe(0);
    expect(existsSync(join(dir, 'out', 'a.xml.report.json'))).toBe(true);
    writeFileSync(join(dir, 'a.xml'), smallCatalogue(7, 1));
    expect((await cli(['a.xml', '-d', 'out'], dir)).code).toBe(0);
    expect(readdirSync(join(dir, 'out'))).toEqual(['a.xml.json']);
    writeFileSync(join(dir, 'a.xml'), '<items>');
    expect((await cli(['a.xml', '-d', 'out'], dir)).code).toBe(1);
    expect(ids(join(dir, 'out', 'a.xml.json'))).toEqual(['7']);
  });

  it('refuses two inputs that would write the same output, and a bad CONVERT_THREADS, in one line', async () => {
    const dir = workdir({ 'x/a.xml': smallCatalogue(1), 'y/a.xml': smallCatalogue(2) });
    const clash = await cli(['x/a.xml', 'y/a.xml', '-d', 'out'], dir);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toContain('x/a.xml and y/a.xml would both write a.xml.json');
    const bad = await cli(['x/a.xml', '-d', 'out'], dir, { CONVERT_THREADS: 'many' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      'file-transformer convert: configuration error: CONVERT_THREADS: expected a whole number from 0 to 256, got "many"\n',
    );
    const missing = await cli(['x/a.xml', 'nope.xml', '-d', 'out'], dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^failed: nope\.xml: cannot read it: ENOENT/m);
    expect(ids(join(dir, 'out', 'a.xml.json'))).toEqual(['1', '2', '3']);
  });
});
