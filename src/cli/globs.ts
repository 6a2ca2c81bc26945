/**
 * Glob patterns on the command line, for when the shell did not expand them (quoted, Windows
 * shells, `npm run` scripts, or more matches than the shell allows). As in sh: `*` and `?` stay within
 * one path segment and do not match a leading dot, `[abc]`/`[!abc]`/`[a-z]` match one character, and
 * `**` as a whole segment matches any number of directories. Matches are files only, sorted.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

const MAGIC = /[*?[]/;

export function isGlob(pattern: string): boolean {
  return MAGIC.test(pattern);
}

/** A regular expression for one path segment of a glob. */
function segmentRegExp(segment: string): RegExp {
  let re = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  // A leading dot is matched only by a pattern that starts with one, as in the shell.
  const hidden = segment.startsWith('.') ? '' : '(?!\\.)';
  return new RegExp(`^${hidden}${re}$`);
}

async function entries(dir: string): Promise<{ name: string; isDirectory: boolean }[]> {
  try {
    const list = await readdir(dir || '.', { withFileTypes: true });
    return list.map((e) => ({ name: e.name, isDirectory: e.isDirectory() }));
  } catch {
    return [];
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/** The files matching `pattern`, sorted (empty when none). */
export async function expandGlob(pattern: string): Promise<string[]> {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  if (absolute) segments.shift();
  const found = new Set<string>();

  const walk = async (base: string, rest: string[]): Promise<void> => {
    if (rest.length === 0) {
      if (await isFile(base)) found.add(base);
      return;
    }
    const [head, ...tail] = rest as [string, ...string[]];
    const joined = (name: string) => (base === '' ? name : join(base, name));
    if (head === '**') {
      await walk(base, tail);
      for (const e of await entries(base)) {
        if (e.isDirectory && !e.name.startsWith('.')) await walk(joined(e.name), rest);
      }
      return;
    }
    if (!isGlob(head)) {
      await walk(joined(head), tail);
      return;
    }
    const re = segmentRegExp(head);
    for (const e of await entries(base)) {
      if (!re.test(e.name)) continue;
      if (tail.length > 0 && !e.isDirectory) continue;
      await walk(joined(e.name), tail);
    }
  };
  await walk(absolute ? '/' : '', segments);
  return [...found].sort();
}
