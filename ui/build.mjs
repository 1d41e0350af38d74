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
const common = {
	bundle: true,
	minify: true,
	sourcemap: true,
	target: ['chrome110', 'firefox115'],
	jsx: 'automatic',
	jsxImportSource: 'preact',
	logLevel: 'warning',
};
// The page (a module script) and the stream's parser, a Web Worker the page starts from
// worker.js beside app.js (api.js: parser()). The worker is a classic script (an IIFE): no
// module worker is needed for one file with its imports bundled in.
await build({ ...common, entryPoints: [join(here, 'src/main.jsx')], format: 'esm', outfile: join(out, 'app.js') });
await build({ ...common, entryPoints: [join(here, 'src/stream.worker.js')], format: 'iife', outfile: join(out, 'worker.js') });
for (const f of ['index.html', 'app.css']) copyFileSync(join(here, 'src', f), join(out, f));
