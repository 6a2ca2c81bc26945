#!/usr/bin/env node
/**
 * The layer check run by `npm run lint`: reads every import in src/ and fails (exit 1, one line per
 * violation) when an import points up or sideways, or when modules import each other in a cycle.
 * See docs/architecture.md for why the layers are what they are.
 *
 *   hosts      cli, lambda                    (entry points: parse argv / events, call the app or pipeline)
 *   app        app                            (the composition root: builds and starts the parts)
 *   api        api                            (HTTP over the service facade; the webhook feeds discovery)
 *   work       discovery, worker              (find object versions; convert them)
 *   resources  ledger, storage                (the state of work; S3 and the embedded servers)
 *   config     config                         (validated settings, bounded by the converter's limits)
 *   convert    convert                        (the pure streaming transform)
 *   base       src/*.ts                       (contracts, errors, log, metrics, s3-format: shared words)
 *
 * A module may import its own layer and any layer of a lower rank; never a higher rank, and never
 * another layer of the same rank (discovery and worker, ledger and storage, cli and lambda stay
 * independent of each other).
 *
 * Usage: node scripts/check-layers.mjs [root]   (root defaults to the package; src/ is read under it)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Folder under src/ → [layer, rank]. Files directly in src/ are the base. */
const LAYERS = {
  cli: 7,
  lambda: 7,
  app: 6,
  api: 5,
  discovery: 4,
  worker: 4,
  ledger: 3,
  storage: 3,
  config: 2,
  convert: 1,
};
const BASE = 'base';

function layerOf(file) {
  const parts = file.split('/');
  if (parts.length === 1) return { name: BASE, rank: 0 };
  const rank = LAYERS[parts[0]];
  return rank === undefined ? null : { name: parts[0], rank };
}

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry)) out.push(path);
  }
  return out;
}

/** Relative specifiers of static imports, re-exports and dynamic import() calls. */
function importsOf(text) {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of code.matchAll(pattern)) specs.push(m[1]);
  return specs;
}

function resolveImport(fromFile, spec) {
  const base = resolve(dirname(fromFile), spec);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.js$/, '.d.ts'),
    base,
    join(base, 'index.ts'),
  ];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? null;
}

/** Returns the violations (strings) of the tree under `root`/src. */
export function checkLayers(root) {
  const src = join(root, 'src');
  const rel = (file) => relative(src, file).split(sep).join('/');
  const problems = [];
  const graph = new Map();
  for (const file of sourceFiles(src)) {
    const from = rel(file);
    const fromLayer = layerOf(from);
    if (!fromLayer) {
      problems.push(
        `${from}: folder src/${from.split('/')[0]}/ has no layer (add it to scripts/check-layers.mjs)`,
      );
      continue;
    }
    const edges = [];
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolveImport(file, spec);
      if (!target) continue; // tsc reports imports that do not resolve
      if (!target.startsWith(src + sep)) {
        problems.push(`${from}: imports ${spec}, outside src/`);
        continue;
      }
      const to = rel(target);
      edges.push(to);
      const toLayer = layerOf(to);
      if (!toLayer || toLayer.name === fromLayer.name) continue;
      if (toLayer.rank > fromLayer.rank) {
        problems.push(`${from}: ${fromLayer.name} imports ${toLayer.name} (${to}), a higher layer`);
      } else if (toLayer.rank === fromLayer.rank) {
        problems.push(`${from}: ${fromLayer.name} imports ${toLayer.name} (${to}), a sibling layer`);
      }
    }
    graph.set(from, edges);
  }
  for (const cycle of cyclesOf(graph)) problems.push(`import cycle: ${cycle.join(' -> ')}`);
  return problems;
}

/** Strongly connected components with more than one module (Tarjan), each as a readable cycle. */
function cyclesOf(graph) {
  let index = 0;
  const stack = [];
  const info = new Map();
  const cycles = [];
  const visit = (v) => {
    info.set(v, { index, low: index, onStack: true });
    index++;
    stack.push(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!info.has(w)) {
        visit(w);
        info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
      } else if (info.get(w).onStack) {
        info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
      }
    }
    if (info.get(v).low === info.get(v).index) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        info.get(w).onStack = false;
        component.push(w);
      } while (w !== v);
      const selfImport = (graph.get(v) ?? []).includes(v);
      if (component.length > 1 || selfImport) cycles.push([...component.sort(), component[0]]);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!info.has(v)) visit(v);
  return cycles;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = checkLayers(root);
  for (const p of problems) process.stderr.write(`layers: ${p}\n`);
  if (problems.length > 0) {
    process.stderr.write(`layers: ${problems.length} violation(s); the layers are in docs/architecture.md\n`);
    process.exitCode = 1;
  }
}
