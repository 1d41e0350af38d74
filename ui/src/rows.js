// From the stream's text to the list's rows: what the Web Worker (stream.worker.js) does off
// the main thread, and what the page does itself when it cannot start the worker. Imported by
// both bundles (build.mjs), so the two ways give the same rows.
import { endpoints, entryTime, fmtBytes, fmtMs, summarize } from './summary.js';

// A row's strings are cut at CUT characters (a row is one line; the details have it all), and
// copied when cut: a slice of a long string would keep all of it alive.
const CUT = 200;
const cut = (x) => (typeof x === 'string' && x.length > CUT ? `${x.slice(0, CUT).split('').join('')}…` : x);

// What the list shows of an entry, its strings made once as it arrives (not at each render):
// at most a dozen strings of at most CUT characters, whatever the entry holds.
export function compact(e) {
	const s = summarize(e);
	return {
		id: cut(e.id), protocol: cut(e.protocol), version: cut(e.version), time: entryTime(e).slice(11, 23),
		method: cut(s.method), what: cut(s.what), status: cut(s.status), bad: s.bad, ends: cut(endpoints(e)),
		elapsed: fmtMs(e.elapsed_ms), sizes: `${fmtBytes(e.request_size)}/${fmtBytes(e.response_size)}`,
	};
}

/*
 * A row as the list keeps it: one string, its fields joined by SEP, in FIELDS' order. The list
 * holds up to 200,000 rows (docs/ui.md: Limits); as objects of a dozen strings each that is
 * 2.6 million objects for the page's garbage collector to mark on every major collection (and
 * strings copied from the worker are not shared between rows); as one string a row it is
 * 200,000. Only the rows in view are unpacked, at each render. A field's own SEP characters
 * (a binary Redis key) are shown as U+241F, the symbol for it: the details have the bytes.
 */
export const SEP = '\x1f';
const FIELDS = ['id', 'protocol', 'version', 'time', 'method', 'what', 'status', 'bad', 'ends', 'elapsed', 'sizes'];
const field = (x) => (x === undefined || x === null ? '' : String(x).replaceAll(SEP, '\u241f'));
export const pack = (r) => FIELDS.map((k) => (k === 'bad' ? (r.bad ? '1' : '') : field(r[k]))).join(SEP);
export function unpack(s) {
	const v = s.split(SEP), r = {};
	FIELDS.forEach((k, i) => { r[k] = k === 'bad' ? v[i] === '1' : v[i]; });
	return r;
}
// The id of a packed row, and whether a packed row is the entry id (without unpacking).
export const rowId = (s) => s.slice(0, s.indexOf(SEP));
export const isRow = (s, id) => s.length > id.length && s.startsWith(id) && s[id.length] === SEP;

/*
 * Where a stream can resume after a drop (api.js: openStream), kept by whoever reads the socket.
 * Not just the newest entry timestamp delivered (entryTime: the timestamp the hub orders and
 * `since` compares, RFC 3339 with nanoseconds, which orders as text): an entry that reaches the
 * hub after the drop can be older than that (a long request that completes after shorter ones,
 * another agent's clock), so the stream resumes a window earlier (resumeSince, below) and the
 * entries the hub sends again from that window are dropped by id. It keeps the ids (with their
 * timestamps and elapsed times, in arrival order) of the last `cap` entries delivered:
 * RESUME_IDS, 10 s at 5,000 entries/s (docs/ui.md: Where it resumes). `floor`: the newest
 * timestamp among the ids let go; the stream never resumes at or before it, so every entry the
 * hub can send again is one whose id is still kept.
 * `from`: the point a previous socket left (point(), passed on through the worker).
 */
export const RESUME_IDS = 50000;
export class ResumePoint {
	constructor(from, cap = RESUME_IDS) {
		this.cap = cap;
		this.ts = from?.ts || '';
		this.floor = from?.floor || '';
		this.ids = new Set();
		this.ring = new Array(cap);
		this.times = new Array(cap);
		this.elapsed = new Float64Array(cap);
		this.head = 0;
		this.n = 0;
		const f = from?.ids || [];
		for (let i = 0; i < f.length; i++) this.keep(f[i], from.times[i], from.elapsed[i]);
	}
	keep(id, t, elapsedMs) {
		if (this.n === this.cap) {
			const old = this.times[this.head];
			if (old > this.floor) this.floor = old;
			this.ids.delete(this.ring[this.head]);
			this.head = (this.head + 1) % this.cap;
			this.n--;
		}
		const at = (this.head + this.n) % this.cap;
		this.ring[at] = id;
		this.times[at] = t;
		this.elapsed[at] = elapsedMs > 0 ? elapsedMs : 0;
		this.n++;
		this.ids.add(id);
	}
	// Whether e is new (and then kept): false for an entry this stream delivered already.
	delivered(e) {
		const t = entryTime(e);
		if (!t) return true;
		if (this.ids.has(e.id)) return false;
		if (t > this.ts) this.ts = t;
		this.keep(e.id, t, e.elapsed_ms);
		return true;
	}
	// What the next socket needs, as plain arrays (it crosses postMessage), oldest first.
	point() {
		const p = { ts: this.ts, floor: this.floor, ids: [], times: [], elapsed: [] };
		for (let i = 0; i < this.n; i++) {
			const at = (this.head + i) % this.cap;
			p.ids.push(this.ring[at]);
			p.times.push(this.times[at]);
			p.elapsed.push(this.elapsed[at]);
		}
		return p;
	}
}

// An RFC 3339 timestamp (as the hub writes them: up to nanoseconds, Z or an offset) in Unix
// nanoseconds, a BigInt; null when it is not one.
export function tsNs(t) {
	const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(t || '');
	const s = m ? Date.parse(m[1] + m[3].toUpperCase()) : NaN;
	if (Number.isNaN(s)) return null;
	return BigInt(s) * 1000000n + BigInt((m[2] || '').padEnd(9, '0'));
}

/*
 * The window a stream resumes before the newest timestamp it delivered: how late, recently, an
 * entry came after one with a later timestamp (the spread between arrival order and timestamp
 * order: another agent's clock, the hub's 200 ms live ordering), or how long a request took
 * (one in flight at the drop started about that long before it), whichever is more, and
 * WINDOW_MARGIN_MS (the batching, the drop itself); at most WINDOW_MAX_MS. "Recently": the
 * entries whose ids are kept (RESUME_IDS), which bound it further (the floor).
 */
export const WINDOW_MARGIN_MS = 1000;
export const WINDOW_MAX_MS = 60000;
export function resumeWindowMs(p) {
	let newest = '', newestNs = 0n, late = 0, longest = 0;
	for (let i = 0; i < p.times.length; i++) {
		const t = p.times[i];
		if (p.elapsed[i] > longest) longest = p.elapsed[i];
		if (t > newest) {
			newest = t;
			newestNs = null;
		} else if (t < newest) {
			newestNs ??= tsNs(newest);
			const ns = tsNs(t);
			if (ns !== null && newestNs !== null) late = Math.max(late, Number(newestNs - ns) / 1e6);
		}
	}
	return Math.min(WINDOW_MAX_MS, Math.max(late, longest) + WINDOW_MARGIN_MS);
}
// The `since` a stream resumes from (the hub's since is inclusive): the window before the newest
// timestamp, in Unix nanoseconds, and never at or before the floor. '' without a timestamp.
export function resumeSince(p) {
	if (!p?.ts) return '';
	const newest = tsNs(p.ts);
	if (newest === null) return p.ts;
	let since = newest - BigInt(Math.round(resumeWindowMs(p) * 1e6));
	const floor = p.floor ? tsNs(p.floor) : null;
	if (floor !== null && since <= floor) since = floor + 1n;
	return String(since);
}

/*
 * One WebSocket message's text (a JSON array of the hub's stream messages, ?batch=; or one
 * message, from a hub without batches) as a list of operations, in the stream's order:
 *   { rows: [row, ...] }                 consecutive entries, made rows (compact, pack)
 *   { type: 'live' | 'lost' | 'agent', ... }   the other messages, as sent
 * Only rows and these small messages leave: the parsed entries (headers, bodies) are garbage
 * in the thread that parsed them. Text that is not JSON gives no operations. With seen (a
 * ResumePoint, updated here), an entry it delivered already gives no row.
 */
export function digest(text, seen) {
	let m;
	try {
		m = JSON.parse(text);
	} catch {
		return [];
	}
	const ops = [];
	let run = [];
	for (const x of Array.isArray(m) ? m : [m]) {
		if (!x) continue;
		if (x.type === 'entry') {
			if (x.entry && (!seen || seen.delivered(x.entry))) run.push(pack(compact(x.entry)));
			continue;
		}
		if (run.length) ops.push({ rows: run });
		run = [];
		if (x.type === 'live') ops.push({ type: 'live' });
		else if (x.type === 'lost') ops.push({ type: 'lost', lost: x.lost, total: x.total });
		else if (x.type === 'agent') ops.push({ type: 'agent', agent: x.agent, error: x.error });
	}
	if (run.length) ops.push({ rows: run });
	return ops;
}
