// What each page of the web UI downloads before it can draw, gzipped: its HTML, its entry
// script and every chunk that one imports, its stylesheets. `node scripts/ui-size.mjs`
// after `npm run build`; the browser test keeps the first page under its budget.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export function pageSizes(dir = join(root, 'dist', 'ui')) {
  const manifest = JSON.parse(readFileSync(join(dir, '.vite', 'manifest.json'), 'utf8'));
  const gz = (file) => gzipSync(readFileSync(join(dir, file)), { level: 9 }).length;
  const out = {};
  for (const [html, entry] of Object.entries(manifest)) {
    if (!entry.isEntry) continue;
    const files = new Set([html]);
    const visit = (key) => {
      const e = manifest[key];
      files.add(e.file);
      for (const css of e.css ?? []) files.add(css);
      for (const k of e.imports ?? []) visit(k);
    };
    visit(html);
    const sizes = Object.fromEntries([...files].map((f) => [f, gz(f)]));
    out[html] = { files: sizes, gzipped: Object.values(sizes).reduce((a, b) => a + b, 0) };
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [page, { files, gzipped }] of Object.entries(pageSizes())) {
    console.log(`${page}: ${(gzipped / 1024).toFixed(1)} KiB gzipped`);
    for (const [f, n] of Object.entries(files)) console.log(`  ${f.padEnd(34)} ${n} B`);
  }
}
