/**
 * `file-transformer convert` as users run it: the built CLI (dist/, built by `npm test`) in a child
 * process, on real files in a temp directory.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { runCliText } from './support/cli.js';

const MAIN = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../samples/seed-sample.xml', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cli-convert-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], stdin?: Buffer | string) {
  return runCliText(['convert', ...args], { cwd: dir, stdin });
}

const file = (name: string, content: string | Buffer): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};

const MIXED = `<items>
<item id="1"><category>A</category><description>a</description><prices><price><currency>EUR</currency><value>1</value></price></prices></item>
<item><category>B</category></item>
</items>`;

describe('file-transformer convert', () => {
  it('converts a file to --output, writes --report, exits 0 with a one-line summary', async () => {
    const input = file('mixed.xml', MIXED);
    const r = await cli([input, '--output', 'out.json', '--report', 'report.json']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('converted 1 item, 1 rejected (report: report.json)\n');
    const products = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(products.map((p: { product_id: string }) => p.product_id)).toEqual(['1']);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(report).toMatchObject({
      source: input,
      itemsSeen: 2,
      itemsWritten: 1,
      itemsRejected: 1,
      error: null,
    });
    expect(report.rejections).toEqual([
      { line: 3, id: null, field: 'id', reason: 'item has no id attribute' },
    ]);
  });

  it('writes to stdout without --output, and lists rejections on stderr without --report', async () => {
    const r = await cli([file('mixed2.xml', MIXED)]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveLength(1);
    expect(r.stderr).toContain('converted 1 item, 1 rejected');
    expect(r.stderr).toContain('rejected: line 3: item has no id attribute');
  });

  it('reads stdin with -', async () => {
    const r = await cli(['-'], readFileSync(SAMPLE));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)[0].product_images.image_1).toBe('https://sample.com/img/2445456_Image_1.jpg');
  });

  it('detects gzip input, from a file and from stdin', async () => {
    const zipped = gzipSync(readFileSync(SAMPLE));
    const plain = await cli([SAMPLE]);
    const fromFile = await cli([file('sample.xml.gz', zipped)]);
    const fromStdin = await cli(['-'], zipped);
    expect(fromFile.code).toBe(0);
    expect(fromFile.stdout).toBe(plain.stdout);
    expect(fromStdin.stdout).toBe(plain.stdout);
  });

  it('exits 1 on a failed file, says why and where, and leaves no output file (nor temp files)', async () => {
    const sub = mkdtempSync(join(dir, 'fail-'));
    const input = file('broken.xml', '<items>\n<item id="1">\n</items>');
    const r = await cli([input, '-o', join(sub, 'out.json'), '-r', join(sub, 'report.json')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('failed: not well-formed XML: end tag does not match the start tag <item>');
    expect(r.stderr).toContain('(line 3)');
    expect(existsSync(join(sub, 'out.json'))).toBe(false);
    expect(readdirSync(sub)).toEqual(['report.json']);
    const report = JSON.parse(readFileSync(join(sub, 'report.json'), 'utf8'));
    expect(report.error).toEqual({ message: expect.stringContaining('end tag does not match'), line: 3 });
  });

  it('writes nothing to stdout when the file fails', async () => {
    const many = `<items>${'<item id="1"/>'.repeat(20000)}<oops></items>`;
    const r = await cli(['-'], many);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
  });

  it('keeps an existing output file untouched when the run fails', async () => {
    const out = file('keep.json', 'previous');
    const r = await cli([file('bad2.xml', '<nope/>'), '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('the root element is <nope>, expected <items>');
    expect(readFileSync(out, 'utf8')).toBe('previous');
  });

  it('leaves no file behind when interrupted (Ctrl-C) mid-way', async () => {
    const sub = mkdtempSync(join(dir, 'int-'));
    const child = spawn(process.execPath, [MAIN, 'convert', '-', '-o', join(sub, 'out.json')], { cwd: dir });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    child.stdin.write('<items>'); // stdin stays open: the conversion is waiting for more
    while (readdirSync(sub).length === 0) await new Promise((r) => setTimeout(r, 20)); // temp file is open
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toContain('interrupted, no output written');
    expect(readdirSync(sub)).toEqual([]);
  });

  it('--strict fails the file at the first rejected item', async () => {
    const r = await cli([file('strict.xml', MIXED), '--strict']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('item rejected in strict mode: item has no id attribute');
  });

  it('applies --max-image-type and --max-bytes', async () => {
    const xml = '<items><item id="1"><images><image type="5" url="u"/></images></item></items>';
    const strictTypes = await cli([file('types.xml', xml), '--max-image-type', '4']);
    expect(strictTypes.stderr).toContain('0 items');
    expect(strictTypes.stderr).toContain('image type "5" is not a whole number from 1 to 4');
    const small = await cli([file('types2.xml', xml), '--max-bytes', '10']);
    expect(small.code).toBe(1);
    expect(small.stderr).toContain('input is larger than the limit of 10 bytes');
    const suffix = await cli([file('types3.xml', xml), '--max-bytes', '1K']);
    expect(suffix.code).toBe(0);
  });

  it('applies --max-item-bytes: a longer item is rejected with its line, the rest converts', async () => {
    const xml = `<items>\n<item id="long"><description>${'d'.repeat(2000)}</description></item>\n<item id="2"/>\n</items>`;
    const r = await cli([file('items.xml', xml), '--max-item-bytes', '1K']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('converted 1 item, 1 rejected');
    expect(r.stderr).toContain('rejected: line 2 (id long): item is larger than the limit of 1024 bytes');
    const roomy = await cli([file('items2.xml', xml), '--max-item-bytes', '1M']);
    expect(roomy.stderr).toContain('converted 2 items, 0 rejected');
  });

  it.each([
    [['--bogus', 'x.xml'], "Unknown option '--bogus'"],
    [[], 'missing the input file'],
    [['a.xml', 'b.xml'], '2 inputs need --output-dir DIR'],
    [['a.xml', '-d', 'out', '-o', 'x.json'], 'leave out --output and --report'],
    [['-', '-', '-d', 'out'], 'stdin (-) can be read only once'],
    [['x.xml', '--max-bytes', 'lots'], '--max-bytes needs a whole number'],
    [['x.xml', '--max-image-type', '0'], '--max-image-type must be from 1 to 100000'],
    [['x.xml', '--max-image-type', '100001'], '--max-image-type must be from 1 to 100000'],
    [['x.xml', '--max-item-bytes', '0'], '--max-item-bytes must be at least 1'],
  ])('exits 2 on usage errors (%j) with a hint to --help', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('--help');
  });

  it('exits 1 when the input file does not exist', async () => {
    const r = await cli(['no-such-file.xml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read no-such-file.xml');
  });

  it('--help explains the command, with an example and the exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: file-transformer convert <input|-> [options]');
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--output-dir DIR');
    expect(r.stdout).toContain('Exit codes:');
  });
});
