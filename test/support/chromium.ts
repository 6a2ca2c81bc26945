/**
 * The one way browser tests get a Chromium, so `npm test` passes on a fresh machine with no system
 * browser: `CHROMIUM_PATH` if set, else Debian's `/usr/bin/chromium` if installed, else the Chromium
 * that `npm install` brought inside `@sparticuz/chromium` (a brotli-compressed headless shell,
 * decompressed once per machine into the temp directory). playwright-core never downloads a browser.
 *
 *   const browser = await launchChromium();
 *   const page = await browser.newPage();
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export type ChromiumSource = 'CHROMIUM_PATH' | 'debian' | '@sparticuz/chromium';

export interface ChromiumBinary {
  source: ChromiumSource;
  executablePath: string;
  /** Command-line switches this build needs on top of playwright's own. */
  args: string[];
}

/** Switches for a full desktop build running headless as root in a container, kept quiet (no network). */
const DESKTOP_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The Chromium browser tests use: the first of `CHROMIUM_PATH`, Debian's, the npm package's. */
export async function defaultChromium(): Promise<ChromiumBinary> {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`);
    return { source: 'CHROMIUM_PATH', executablePath: fromEnv, args: DESKTOP_ARGS };
  }
  if (existsSync(DEBIAN_CHROMIUM))
    return { source: 'debian', executablePath: DEBIAN_CHROMIUM, args: DESKTOP_ARGS };
  return packagedChromium();
}

/** Every Chromium this machine has (the npm package's always), so one test can check each launches. */
export async function availableChromiums(): Promise<ChromiumBinary[]> {
  const found: ChromiumBinary[] = [];
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv && existsSync(fromEnv))
    found.push({ source: 'CHROMIUM_PATH', executablePath: fromEnv, args: DESKTOP_ARGS });
  if (existsSync(DEBIAN_CHROMIUM))
    found.push({ source: 'debian', executablePath: DEBIAN_CHROMIUM, args: DESKTOP_ARGS });
  found.push(await packagedChromium());
  return found;
}

/** Launches headless Chromium (the default one unless told which); the caller closes it. */
export async function launchChromium(binary?: ChromiumBinary): Promise<Browser> {
  const { executablePath, args } = binary ?? (await defaultChromium());
  return chromium.launch({ executablePath, args, headless: true });
}

/**
 * `@sparticuz/chromium`'s binary, decompressed into a directory named after the package version.
 * The package inflates into `os.tmpdir()` and reuses whatever `chromium` it finds there, so each
 * extraction happens in a private staging directory that is then renamed into place: test files
 * running in parallel never exec a half-written binary, and a stale extraction of another version is
 * never picked up.
 */
async function packagedChromium(): Promise<ChromiumBinary> {
  const packageDir = await sparticuzPackageDir();
  const { version } = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as {
    version: string;
  };
  const { default: Sparticuz } = await import('@sparticuz/chromium');
  // playwright adds its own --headless; the package's `--headless='shell'` would be a second one.
  const args = Sparticuz.args.filter((arg) => !arg.startsWith('--headless'));
  const home = join(tmpdir(), `file-transformer-chromium-${version}`);
  const executablePath = join(home, 'chromium');
  if (existsSync(executablePath)) return { source: '@sparticuz/chromium', executablePath, args };

  await mkdir(dirname(home), { recursive: true });
  const staging = await mkdtemp(`${home}.staging-`);
  const previousTmp = process.env.TMPDIR;
  process.env.TMPDIR = staging;
  try {
    await Sparticuz.executablePath(join(packageDir, 'bin'));
  } finally {
    if (previousTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previousTmp;
  }
  try {
    await rename(staging, home);
  } catch (err) {
    // Another test process finished first: use its copy.
    if (!existsSync(executablePath)) throw err;
    await rm(staging, { recursive: true, force: true });
  }
  return { source: '@sparticuz/chromium', executablePath, args };
}

/** The installed package's directory (its `exports` hide package.json from require.resolve). */
async function sparticuzPackageDir(): Promise<string> {
  let dir = dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium'));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'bin'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('@sparticuz/chromium: package directory not found');
    dir = parent;
  }
  return dir;
}
