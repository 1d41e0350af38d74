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
 * Where a stream can resume after a drop (api.js: openStream): the newest entry timestamp it
 * delivered (entryTime: the timestamp the hub orders and `since` compares, RFC 3339 with
 * nanoseconds, which orders as text) and the ids delivered at it. The hub's `since` is
 * inclusive, so a stream reopened with since = ts sends those ids again: digest drops them.
 */
export const resumePoint = (from) => ({ ts: from?.ts || '', ids: new Set(from?.ids || []) });
function delivered(seen, e) {
	const t = entryTime(e);
	if (!t) return true;
	if (t === seen.ts && seen.ids.has(e.id)) return false;
	if (t > seen.ts) {
		seen.ts = t;
		seen.ids = new Set();
	}
	if (t === seen.ts) seen.ids.add(e.id);
	return true;
}

/*
 * One WebSocket message's text (a JSON array of the hub's stream messages, ?batch=; or one
 * message, from a hub without batches) as a list of operations, in the stream's order:
 *   { rows: [row, ...] }                 consecutive entries, made rows (compact, pack)
 *   { type: 'live' | 'lost' | 'agent', ... }   the other messages, as sent
 * Only rows and these small messages leave: the parsed entries (headers, bodies) are garbage
 * in the thread that parsed them. Text that is not JSON gives no operations. With seen (a
 * resumePoint, updated here), an entry already delivered at seen.ts gives no row.
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
			if (x.entry && (!seen || delivered(seen, x.entry))) run.push(pack(compact(x.entry)));
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
