#!/usr/bin/env node
/**
 * `file-transformer <command>`: a thin dispatcher. Each command lives in its own module exporting
 * `run(argv): Promise<number>` (the exit code), loaded only when used so `convert` starts fast.
 */

const COMMANDS: Record<
  string,
  { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }
> = {
  convert: { summary: 'convert one XML catalogue file to JSON', load: () => import('./convert.js') },
  serve: { summary: 'run the service (what `npm start` runs)', load: () => import('./serve.js') },
  scan: {
    summary: 'scan the source bucket and convert what is new (`scan --once` for cron)',
    load: () => import('./scan.js'),
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)}${c.summary}`);
  return [
    'Usage: file-transformer <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run `file-transformer <command> --help` for the options of a command.',
  ].join('\n');
}

// The AWS SDK prints a multi-line warning that its releases after January 2027 need Node 22. The
// lockfile pins releases that run on Node 20, and the warning would break the one-JSON-event-per-line
// log, so it is off unless the operator asks for it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`file-transformer: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`file-transformer: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
