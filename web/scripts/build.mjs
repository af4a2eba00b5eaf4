#!/usr/bin/env node
// Build the UI into web/dist when its sources changed, and only then.
//
//   node web/scripts/build.mjs           build if the sources' digest differs from dist's
//   node web/scripts/build.mjs --check   exit 0 if dist is current, 1 if not (no build)
//   node web/scripts/build.mjs --force   build anyway
//   node web/scripts/build.mjs --deps    also make sure node_modules is installed (for the
//                                        type check, lint and unit tests), build if needed
//
// The digest covers every file the build reads (package-lock.json, configs, index.html,
// public/, src/); it is written to dist/.source-digest after a build. Dependencies come
// from `npm ci` (the committed lockfile), run when node_modules is missing or older than
// the lockfile. After Vite, each asset gets a gzip twin (name.gz), which the server sends
// to clients that accept gzip. Used by scripts/demo, scripts/test and the Python
// package build (hatch_build.py), so a wheel or sdist always carries a current UI.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';

const web = fileURLToPath(new URL('..', import.meta.url));
const dist = join(web, 'dist');
const stamp = join(dist, '.source-digest');
const INPUTS = ['package.json', 'package-lock.json', 'index.html', 'vite.config.ts', 'tsconfig.json', 'public', 'src'];

function files(path) {
  if (!existsSync(path)) return [];
  if (statSync(path).isFile()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => files(join(path, name)));
}

export function sourceDigest() {
  const hash = createHash('sha256');
  for (const input of INPUTS) {
    for (const file of files(join(web, input))) {
      if (file.endsWith('.test.ts') || file.endsWith('.test.tsx')) continue; // tests do not change the build
      hash.update(relative(web, file).replaceAll('\\', '/'));
      hash.update('\0');
      hash.update(readFileSync(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

function current(digest) {
  return existsSync(join(dist, 'index.html')) && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === digest;
}

function run(command, args) {
  execFileSync(command, args, { cwd: web, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
}

function gzipAssets() {
  for (const file of files(join(dist, 'assets'))) {
    if (!/\.(js|css|svg|json|html)$/.test(file)) continue;
    const data = readFileSync(file);
    writeFileSync(`${file}.gz`, gzipSync(data, { level: constants.Z_BEST_COMPRESSION }));
  }
}

const args = new Set(process.argv.slice(2));
const digest = sourceDigest();
if (args.has('--check')) {
  process.exit(current(digest) ? 0 : 1);
}
function ensureDependencies() {
  const modules = join(web, 'node_modules', '.package-lock.json');
  if (!existsSync(modules) || statSync(modules).mtimeMs < statSync(join(web, 'package-lock.json')).mtimeMs) {
    console.error('web: installing dependencies (npm ci, from package-lock.json)');
    run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  }
}

if (args.has('--deps')) ensureDependencies();
if (!args.has('--force') && current(digest)) {
  console.error('web: the UI build is current');
  process.exit(0);
}
ensureDependencies();
console.error('web: building the UI (vite build)');
run(join(web, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn']);
gzipAssets();
writeFileSync(stamp, `${digest}\n`);
console.error(`web: built into ${relative(process.cwd(), dist) || dist}`);
