// The page's stream without a browser (docs/ui.md, Limits): api.js's openStream with the real
// stream worker (stream.worker.js, run in this process behind a stand-in Worker that delivers
// messages both ways asynchronously) reading a stand-in WebSocket. Oracle: the entries the
// socket sent. Checks: the rows come out in the socket's order, each once, with the other
// messages (live, lost) in place; the worker sends one message and holds the rest until the
// page takes it (then one message with all that came meanwhile); what it holds is bounded
// (stream.js's Outbox: the oldest go past the cap, counted); rows received before the socket
// dropped are delivered before the drop is told; a dropped stream reconnects by itself (the
// backoff: 0.25-0.5 s, then 0.5-1 s, the schedule to 10 s; the same query, since = the newest
// entry's own timestamp less the resume window, the ids already delivered dropped, the gap's
// entries shown, the rows kept; the window from the longest elapsed or an entry late after a
// newer one, at most 60 s, never at or before an id let go; a slow request that completed
// during the gap shown; from the moment it resumes only when no row had a timestamp; one socket per
// attempt; the gap told, with its count, once its history is over; attempt 1 again
// after data; none after the page closed it; a refused query, 1008, is final; a drop in the
// history starts over from its since); a refused handshake with a token asks the hub and
// opens again; when the worker fails, the stream starts over in the page (onRestart) and the
// page reads the socket itself, every entry once. Bundled here with esbuild.
// Prints "ok<TAB>desc" / "fail<TAB>desc" lines.
// Usage: node selftests/ui/stream_check.mjs TMPDIR
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { rmSync } from 'node:fs';

const require = createRequire(new URL('../../ui/package.json', import.meta.url));
const { build } = require('esbuild');
const tmp = process.argv[2] || '/tmp';
const ok = (c, d, x) => { console.log(`${c ? 'ok' : 'fail'}\t${d}`); if (!c && x !== undefined) console.log(`diag\t${JSON.stringify(x)}`); };
const src = new URL('../../ui/src', import.meta.url).pathname;
const bundle = async (name, contents) => {
	const out = join(tmp, `${name}-${process.pid}.mjs`);
	await build({
		stdin: { contents, resolveDir: src, loader: 'js' }, bundle: true, format: 'esm', platform: 'node', outfile: out,
		logLevel: 'warning', define: { 'import.meta.url': '"http://127.0.0.1/app.js"' },
	});
	return out;
};
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
const until = async (f) => { for (let i = 0; i < 200 && !f(); i++) await tick(10); return f(); };

// The sockets made (in the worker or the page), newest last.
const sockets = [];
globalThis.WebSocket = class {
	constructor(url, protocols) {
		Object.assign(this, { url, protocols, closed: false });
		sockets.push(this);
	}
	close() { this.closed = true; }
	open() { this.onopen?.(); }
	send(msgs) { this.onmessage?.({ data: JSON.stringify(msgs) }); }
	end(code) { this.onclose?.({ code, reason: '' }); }
};
globalThis.location = { href: 'http://127.0.0.1/' };
const store = new Map();
globalThis.sessionStorage = { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v), removeItem: (k) => store.delete(k) };
let fetches = 0;
globalThis.fetch = async () => { fetches++; return { status: 200, ok: true }; };

// The worker's side runs here: its `self` is this stand-in, its messages cross asynchronously.
let toPage = [], fromPage = [], failed = false;
globalThis.self = { postMessage: (m) => toPage.push(m) };
const workerMod = await bundle('worker', "import './stream.worker.js'; export { Outbox } from './stream.js'; export { ResumePoint, resumeSince } from './rows.js';");
const { Outbox, ResumePoint, resumeSince } = await import(workerMod);
rmSync(workerMod);
const workerSide = globalThis.self;
globalThis.Worker = class {
	static made = [];
	constructor() {
		Worker.made.push(this);
		this.timer = setInterval(() => {
			if (failed) return;
			const a = fromPage, b = toPage;
			fromPage = [];
			toPage = [];
			for (const m of a) workerSide.onmessage({ data: structuredClone(m) });
			for (const m of b) this.onmessage({ data: structuredClone(m) });
		}, 2);
	}
	postMessage(m) { fromPage.push(m); }
	terminate() { clearInterval(this.timer); }
	fail() {
		failed = true;
		this.onerror({ preventDefault() {} });
	}
};
const apiMod = await bundle('api', "export { openStream, streamMode, retryDelay } from './api.js';");
const { openStream, streamMode, retryDelay } = await import(apiMod);
rmSync(apiMod);

// 1. Through the worker: rows in order, messages coalesced while the page has not taken one.
const entry = (id, at) => ({ type: 'entry', entry: { id, protocol: 'http', request_time: at, request: { method: 'GET', path: `/${id}` } } });
// Entry timestamps as the hub sends them (RFC 3339, nanoseconds).
const T1 = '2026-12-07T10:00:00.000000001Z', T2 = '2026-12-07T10:00:00.123456789Z', T3 = '2026-12-07T10:00:01.000000000Z';
// The same instants in Unix nanoseconds, less s seconds (the resume window): Date.UTC, the oracle.
const at = (sec, ns = 0n, less = 0) => String(BigInt(Date.UTC(2026, 11, 7, 10, 0, sec) - less * 1000) * 1000000n + ns);
const got = [];
let restarts = 0, dropped = 0, closedWith = null;
const reconnecting = [], reconnected = [];
const cb = {
	onReconnecting: (attempt, ms, reason) => reconnecting.push({ attempt, ms, reason }),
	onReconnected: (gapMs, gapRows) => reconnected.push(gapMs, gapRows),
	onRows: (rows) => { for (const r of rows) got.push(r.slice(0, r.indexOf('\x1f'))); },
	onDropped: (n) => { dropped += n; },
	onLive: () => got.push('live'),
	onLost: (n, total) => got.push(`lost ${total}`),
	onAgent: () => {},
	onClose: (reason) => { closedWith = reason; },
	onRestart: () => { restarts++; got.length = 0; },
};
const close = openStream({ q: '', since: '0' }, cb);
await until(() => sockets.length === 1);
const ws = sockets[0];
ok(ws.url.startsWith('ws://127.0.0.1/api/v1/stream?') && ws.url.includes('batch=1000'), 'the worker opened the stream\'s socket', ws.url);
ws.open();
const want = [];
// Page messages seen crossing: count the 'ops' ones.
let opsMessages = 0;
const countOps = workerSide.postMessage;
workerSide.postMessage = (m) => { if (m.type === 'ops') opsMessages++; countOps(m); };
for (let i = 0; i < 20; i++) {
	const batch = [entry(`a${i}-0`), entry(`a${i}-1`)];
	want.push(`a${i}-0`, `a${i}-1`);
	if (i === 9) { batch.push({ type: 'live' }); want.push('live'); }
	if (i === 14) { batch.push({ type: 'lost', lost: 3, total: 3 }); want.push('lost 3'); }
	ws.send(batch); // synchronously, all 20 before the page took the first
}
await until(() => got.length === want.length);
ok(JSON.stringify(got) === JSON.stringify(want), `the page got the ${want.length - 2} rows and the live and lost messages in the socket's order, each once`, { got, want });
ok(opsMessages === 2, `20 socket messages while the page had not taken the first: 2 messages to the page (${opsMessages})`);
ok(streamMode() === 'worker', `the page says the worker reads the stream (${streamMode()})`);

// 2. The worker's outbox is bounded: the oldest go, counted.
const box = new Outbox(5);
box.add([{ rows: ['r1', 'r2', 'r3'] }, { type: 'live' }, { rows: ['r4', 'r5', 'r6'] }]);
box.add([{ rows: ['r7', 'r8'] }]);
const t = box.take();
ok(JSON.stringify(t) === JSON.stringify({ ops: [{ type: 'live' }, { rows: ['r4', 'r5', 'r6', 'r7', 'r8'] }], dropped: 3 }) && box.empty,
	'the outbox keeps the newest rows past its cap and counts the rest', t);

// 3. Rows received before the socket dropped come before the reconnection is told; then the
// stream reconnects by itself, with the same query, from the moment it resumes (the history
// was over: the rows stay), one socket at a time, the gap told once data flows again.
got.length = 0;
ws.send([entry('b0', T1)]);
ws.send([entry('b1', T2), entry('b1b', T2)]);
let gotAtDrop = null;
cb.onReconnecting = (attempt, ms, reason) => { gotAtDrop ??= [...got]; reconnecting.push({ attempt, ms, reason }); };
const t0 = Date.now();
ws.end(1006);
await until(() => reconnecting.length === 1);
ok(JSON.stringify(gotAtDrop) === '["b0","b1","b1b"]' && !closedWith && reconnecting[0].attempt === 1 && reconnecting[0].reason === 'closed (1006)',
	`rows before the drop, then "reconnecting (attempt 1)", not a close (${gotAtDrop}; ${closedWith})`, reconnecting);
// The hub is down: the handshake fails (never opened), the hub does not answer a fetch either.
const realFetch = globalThis.fetch;
globalThis.fetch = async () => { throw new Error('connection refused'); };
await until(() => sockets.length === 2);
const firstWait = Date.now() - t0;
ok(firstWait >= 240 && firstWait < 1000, `the first attempt after 0.25 to 0.5 s (${firstWait} ms)`);
const u1 = new URL(sockets[1].url);
ok(u1.searchParams.get('q') === null && u1.searchParams.get('since') === at(0, 123456789n, 1) && u1.searchParams.get('batch') === '1000',
	`it resumes the same query from the newest entry's own timestamp less the 1 s margin (no entry late or long), in Unix ns (${sockets[1].url})`);
const t1 = Date.now();
sockets[1].end(1006);
await until(() => sockets.length === 3);
const secondWait = Date.now() - t1;
ok(reconnecting.length === 2 && reconnecting[1].attempt === 2 && secondWait >= 490 && secondWait < 1600,
	`the handshake failed: attempt 2 after 0.5 to 1 s (${secondWait} ms)`, reconnecting);
await tick(300);
ok(sockets.length === 3, `one socket per attempt: none more while one is being opened (${sockets.length} sockets for the stream and 2 attempts)`);
globalThis.fetch = realFetch;
sockets[2].open();
// The hub's history from T2 less 1 s (inclusive): the three entries delivered already again,
// one more at T2 and one later made during the gap; then live.
sockets[2].send([entry('b0', T1), entry('b1', T2), entry('b1b', T2), entry('g0', T2), entry('g1', T3), { type: 'live' }, entry('b2', T3)]);
await until(() => reconnected.length === 2);
ok(reconnected.length === 2 && reconnected[0] >= firstWait + secondWait - 50 && restarts === 0 &&
	JSON.stringify(got) === '["b0","b1","b1b","g0","g1","live","b2"]',
	`back: the duplicates dropped, the gap's entries shown in order, then live (${got.join(' ')}), nothing started over`, got);
ok(reconnected[1] === 2, `the gap told once its history was over: ${reconnected[0]} ms, ${reconnected[1]} entries from the gap`, reconnected);
// The backoff: 0.5 s doubling to 10 s, each drawn in [half, all] of it.
const lo = [1, 2, 3, 4, 5, 6, 7, 12].map((n) => retryDelay(n, () => 0));
const hi = [1, 2, 3, 4, 5, 6, 7, 12].map((n) => retryDelay(n, () => 1));
ok(JSON.stringify(hi) === '[500,1000,2000,4000,8000,10000,10000,10000]' && JSON.stringify(lo) === '[250,500,1000,2000,4000,5000,5000,5000]',
	`the backoff schedule: ${hi.join(' ')} ms at most, half at least`, { lo, hi });
// A second drop after data flowed: attempt 1 again. Closing the page's stream while it waits
// ends it: no socket afterwards.
sockets[2].end(1001);
await until(() => reconnecting.length === 3);
ok(reconnecting[2].attempt === 1, `data flowed: the next drop starts again at attempt 1 (${reconnecting[2].attempt})`);
close();
await tick(1200);
ok(sockets.length === 3 && !closedWith, `closed while waiting to reconnect: no new socket (${sockets.length}), no close told`);

// 3b. A query the hub refuses (close code 1008) is final: told, not retried.
const closeBad = openStream({ q: 'bad ==', since: '0' }, cb);
await until(() => sockets.length === 4);
sockets[3].open();
sockets[3].onclose({ code: 1008, reason: 'column 5: expected a value' });
await tick(800);
ok(closedWith === 'column 5: expected a value' && sockets.length === 4 && reconnecting.length === 3,
	`a refused query (1008) is told and not retried (${closedWith})`);
closeBad();
closedWith = null;

// 3c. Dropped before the history was over: it starts over from its range (the rows go), so
// nothing shows twice.
const closeHist = openStream({ q: 'h', since: '42' }, cb);
await until(() => sockets.length === 5);
sockets[4].open();
sockets[4].send([entry('h0')]);
await until(() => got.at(-1) === 'h0');
sockets[4].end(1006);
await until(() => sockets.length === 6);
const u6 = new URL(sockets[5].url);
ok(restarts === 1 && u6.searchParams.get('since') === '42' && u6.searchParams.get('q') === 'h',
	`dropped in the history: it starts over from since=42, the rows reset (restarts ${restarts})`, sockets[5].url);
closeHist();
await until(() => sockets[5].closed);
ok(sockets[5].closed, 'closing the stream closes the socket of the attempt');
restarts = 0;

// 4. A handshake refused with a token set: the page asks the hub (a fetch) and opens again.
sessionStorage.setItem('floe.token', 'tok');
closedWith = null;
const close2 = openStream({ q: 'x', since: '0' }, cb);
await until(() => sockets.length === 7);
sockets[6].end(1006); // never opened
await until(() => sockets.length === 8);
ok(sockets.length === 8 && fetches === 1 && sockets[7].protocols?.[1]?.startsWith('floe.bearer.') && !closedWith,
	'a refused handshake: the hub is asked and the stream opened again with the token', { sockets: sockets.length, fetches, closedWith });

// 5. The worker fails: the stream starts over in the page, which reads the socket itself.
sockets[7].open();
got.length = 0;
sockets[7].send([entry('c0')]);
await until(() => got.length === 1);
ok(Worker.made.length === 1, 'one worker for the page, whatever the number of streams');
Worker.made[0].fail();
await until(() => sockets.length === 9);
const pageWs = sockets[8];
pageWs.open();
pageWs.send([entry('c0'), entry('c1')]);
await until(() => got.length === 2);
ok(restarts === 1 && streamMode() === 'page' && JSON.stringify(got) === '["c0","c1"]',
	`the worker failed: the stream started over in the page (restarts ${restarts}, mode ${streamMode()}, rows ${got.join(' ')})`, { restarts, mode: streamMode(), got });
ok(dropped === 0, 'nothing dropped on the way');
close2();
ok(pageWs.closed, 'closing the stream closes the page\'s socket');

// 6. The resume point moves on across drops, and rows without a timestamp give none: a stream
// that delivered only such rows resumes from the moment it reconnects, the gap not shown.
// A new stream (query q, since=7), its first socket open, what was got so far forgotten:
// [the index of that socket, the stream's close].
const freshStream = async (q) => {
	const n = sockets.length;
	got.length = 0;
	reconnected.length = 0;
	const closeIt = openStream({ q, since: '7' }, cb);
	await until(() => sockets.length === n + 1);
	sockets[n].open();
	return [n, closeIt];
};
const [n0, close3] = await freshStream('r');
sockets[n0].send([entry('r0', T1), { type: 'live' }, entry('r1', T3), entry('r2', T3)]);
await until(() => got.length === 4);
sockets[n0].end(1006);
await until(() => sockets.length === n0 + 2);
sockets[n0 + 1].open();
sockets[n0 + 1].send([entry('r0', T1), entry('r1', T3), entry('r2', T3), { type: 'live' }, entry('r3')]);
await until(() => reconnected.length === 2);
ok(new URL(sockets[n0 + 1].url).searchParams.get('since') === at(1, 0n, 1) && reconnected[1] === 0 && JSON.stringify(got) === '["r0","live","r1","r2","live","r3"]',
	`resumed from the newest timestamp (${new URL(sockets[n0 + 1].url).searchParams.get('since')}), nothing twice, 0 from the gap (${got.join(' ')})`, { got, reconnected });
sockets[n0 + 1].end(1006);
await until(() => sockets.length === n0 + 3);
ok(new URL(sockets[n0 + 2].url).searchParams.get('since') === at(1, 0n, 1), 'a row without a timestamp leaves the resume point where it was');
close3();
const close4 = openStream({ q: 'u', since: '7' }, cb);
await until(() => sockets.length === n0 + 4);
sockets[n0 + 3].open();
sockets[n0 + 3].send([{ type: 'live' }, entry('u0')]);
await until(() => got.at(-1) === 'u0');
const tu = Date.now();
sockets[n0 + 3].end(1006);
await until(() => sockets.length === n0 + 5);
sockets[n0 + 4].open();
sockets[n0 + 4].send([{ type: 'live' }]);
await until(() => reconnected.length === 4);
ok(BigInt(new URL(sockets[n0 + 4].url).searchParams.get('since')) >= BigInt(tu) * 1000000n && reconnected[3] === null,
	`rows without timestamps: resumed from the moment it reconnects, the gap told as not shown (${sockets[n0 + 4].url})`, reconnected);
close4();

// 7. The resume window (rows.js: resumeSince), from what was delivered: the longest elapsed,
// or how late an entry came after a newer one, and 1 s; at most 60 s; never at or before the
// timestamp of an id let go (the floor), so that every entry sent again is dropped by id.
const ts = (sec, ms = 0) => new Date(Date.UTC(2026, 11, 7, 10, 0, sec, ms)).toISOString().replace('Z', '000000Z');
const ent = (id, sec, ms, elapsed) => ({ id, request_time: ts(sec, ms), elapsed_ms: elapsed });
const sinceOf = (list, cap) => { const p = new ResumePoint(null, cap); for (const e of list) p.delivered(e); return [p, resumeSince(p.point())]; };
const [, sLong] = sinceOf([ent('l0', 0, 0, 4000), ent('l1', 3, 0, 5)]);
ok(sLong === at(3, 0n, 5), `a 4 s request delivered: resumes 5 s before the newest (${sLong})`);
const [, sLate] = sinceOf([ent('o0', 3, 0, 1), ent('o1', 0, 500, 1)]);
ok(sLate === at(0, 500000000n, 1), `an entry 2.5 s older than one delivered before it: resumes 3.5 s before the newest (${sLate})`);
const [, sMax] = sinceOf([ent('m0', 0, 0, 600000), ent('m1', 30, 0, 1)]);
ok(sMax === at(30, 0n, 60), `a 10-minute request: the window stops at 60 s (${sMax})`);
const [pCap, sCap] = sinceOf([1, 2, 3, 4, 5].map((k) => ent(`k${k}`, k, 0, k === 5 ? 10000 : 1)), 3);
ok(sCap === String(BigInt(at(2)) + 1n) && [...pCap.ids].join() === 'k3,k4,k5',
	`3 ids kept: an 11 s window would reach before the newest id let go (2 s): it resumes 1 ns after it (${sCap})`, [...pCap.ids]);
const again = new ResumePoint(pCap.point(), 3);
const back = [3, 4, 5].map((k) => again.delivered(ent(`k${k}`, k, 0, 1)));
ok(back.every((x) => !x) && again.floor === ts(2) && again.delivered(ent('k2b', 2, 500, 1)),
	'resumed: the kept ids sent again are dropped, an older entry not delivered is shown', back);
// Through the page's stream: a request in flight at the drop completes during it; the hub back
// sends it (its timestamp is older than the newest delivered), after the window's entries again.
const [n7, close7] = await freshStream('s');
const slow = (id, sec, ms, elapsed) => ({ type: 'entry', entry: { ...ent(id, sec, ms, elapsed), protocol: 'http', request: { method: 'GET', path: '/chunked' } } });
sockets[n7].send([{ type: 'live' }, slow('p0', 3, 0, 2), slow('s1', 0, 0, 4000)]);
await until(() => got.length === 3);
sockets[n7].end(1006);
await until(() => sockets.length === n7 + 2);
sockets[n7 + 1].open();
sockets[n7 + 1].send([slow('s1', 0, 0, 4000), slow('s2', 0, 500, 9000), slow('p0', 3, 0, 2), slow('g', 12, 0, 2), { type: 'live' }]);
await until(() => reconnected.length === 2);
ok(new URL(sockets[n7 + 1].url).searchParams.get('since') === at(3, 0n, 5) && JSON.stringify(got) === '["live","p0","s1","s2","g","live"]' && reconnected[1] === 2,
	`the slow request that completed during the gap is shown, nothing twice, 2 from the gap (${got.join(' ')})`, { got, reconnected, url: sockets[n7 + 1].url });
close7();
