// Bundles the web UI (src/) into one directory floe-hub serves (docs/ui.md):
//   node ui/build.mjs OUTDIR
// Everything the page loads is in OUTDIR: no CDN, the UI works air-gapped.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) {
	console.error('usage: node ui/build.mjs OUTDIR');
	process.exit(2);
}
mkdirSync(out, { recursive: true });
await build({
	entryPoints: [join(here, 'src/main.jsx')],
	bundle: true,
	minify: true,
	sourcemap: true,
	format: 'esm',
	target: ['chrome110', 'firefox115'],
	jsx: 'automatic',
	jsxImportSource: 'preact',
	outfile: join(out, 'app.js'),
	logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(join(here, 'src', f), join(out, f));
