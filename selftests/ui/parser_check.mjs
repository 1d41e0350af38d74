// api.js's parser() without a browser (docs/ui.md, Limits): the page's order of operations
// and the worker's bounded backlog. A stand-in Worker answers each text late, by a random
// delay, so answers come back out of the order posted; texts past the backlog (16 Mi
// characters in the worker) are parsed in the page. Oracle: the rows come out in the order
// the entries were posted, each once, with both paths used; then the worker fails and the
// texts it held are parsed by the page, still in order. Bundled here with esbuild (api.js
// imports rows.js), run by test_ui.sh. Prints "ok<TAB>desc" / "fail<TAB>desc" lines.
// Usage: node selftests/ui/parser_check.mjs TMPDIR
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const { build } = require('esbuild');
const tmp = process.argv[2] || '/tmp';
const ok = (c, d, x) => { console.log(`${c ? 'ok' : 'fail'}\t${d}`); if (!c && x !== undefined) console.log(`diag\t${JSON.stringify(x)}`); };
const out = join(tmp, `parser-${process.pid}.mjs`);
await build({
	stdin: { contents: "export { parser } from './api.js'; export { digest } from './rows.js';", resolveDir: new URL('../../ui/src', import.meta.url).pathname, loader: 'js' },
	bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'warning',
	define: { 'import.meta.url': '"http://127.0.0.1/app.js"' },
});

let inWorker = 0, maxInWorker = 0, posted = 0, failNow = false;
const timers = new Set();
globalThis.Worker = class {
	postMessage(m) {
		posted++;
		inWorker++;
		maxInWorker = Math.max(maxInWorker, inWorker);
		const t = setTimeout(async () => {
			timers.delete(t);
			inWorker--;
			this.onmessage({ data: { n: m.n, ops: digest(m.text) } });
		}, 5 + Math.random() * 40);
		timers.add(t);
		if (failNow) {
			// The script failed: it answers nothing more.
			for (const x of timers) clearTimeout(x);
			timers.clear();
			inWorker = 0;
			this.onerror({ preventDefault() {} });
		}
	}
	terminate() {}
};
const { parser, digest } = await import(out);
rmSync(out);
const p = parser();
const got = [];
p.handle(1, (ops) => { for (const o of ops) if (o.rows) for (const r of o.rows) got.push(r.slice(0, r.indexOf('\x1f'))); });
const want = [];
// Until every row posted came out (or 10 s: a loaded machine's timers are late).
const settle = async () => { for (let i = 0; i < 200 && got.length < want.length; i++) await new Promise((r) => setTimeout(r, 50)); };
// Texts of 3 entries; every third one 6 Mi characters a path, 18 Mi a text: past the backlog.
const text = (i) => JSON.stringify(Array.from({ length: 3 }, (_, k) => {
	want.push(`e${i}-${k}`);
	return { type: 'entry', entry: { id: `e${i}-${k}`, protocol: 'http', request: { path: i % 3 === 2 ? 'x'.repeat(6 << 20) : `/p${i}` } } };
}));
for (let i = 0; i < 30; i++) p.post(1, text(i));
const local = 30 - posted;
await settle();
ok(p.mode === 'worker' && local === 10 && posted === 20, `20 texts parsed in the worker, the 10 past its backlog in the page (${posted} / ${local})`);
ok(JSON.stringify(got) === JSON.stringify(want), `the ${want.length} rows come out in the order posted, each once (${got.length})`, { got: got.slice(0, 12), want: want.slice(0, 12) });
// The worker fails with texts in it: the page parses them, in order.
got.length = 0;
want.length = 0;
for (let i = 30; i < 40; i++) {
	if (i === 35) failNow = true;
	p.post(1, text(i));
}
await settle();
ok(p.mode === 'page' && JSON.stringify(got) === JSON.stringify(want), `after the worker failed: the page parsed what it held and what came after, in order (${got.length} rows)`, { mode: p.mode, got: got.length });
