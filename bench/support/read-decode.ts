/**
 * The limit the converter is measured against: `node read-decode.js FILE` reads the file as the CLI does
 * (1 MiB reads) and decodes every byte as UTF-8 into JS strings, doing nothing else. No converter that
 * looks at every character of its input in Node can be much faster than this.
 */
import { createReadStream } from 'node:fs';

const [file] = process.argv.slice(2);
if (!file) throw new Error('usage: read-decode <file>');
let characters = 0;
for await (const text of createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
  characters += (text as string).length;
}
process.stdout.write(`${characters}\n`);
