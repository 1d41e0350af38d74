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
 * One WebSocket message's text (a JSON array of the hub's stream messages, ?batch=; or one
 * message, from a hub without batches) as a list of operations, in the stream's order:
 *   { rows: [row, ...] }                 consecutive entries, made rows (compact)
 *   { type: 'live' | 'lost' | 'agent', ... }   the other messages, as sent
 * Only rows and these small messages leave: the parsed entries (headers, bodies) are garbage
 * in the thread that parsed them. Text that is not JSON gives no operations.
 */
export function digest(text) {
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
			if (x.entry) run.push(compact(x.entry));
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
