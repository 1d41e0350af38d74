// The live stream, off the page's main thread (built as worker.js beside app.js: build.mjs):
// the worker opens the stream's WebSocket, parses each message (a batch of up to 1,000
// entries, a megabyte or more) and makes the rows, so that the main thread, which draws the
// frames, gets no socket message at all: only ready rows, at most one message in flight.
//
// From the page (api.js):  { type: 'open', id, url, protocols, from }   open stream id (from:
//                                                          its resume point, stream.js)
//                          { type: 'close', id }                  close it
//                          { type: 'ack', id }                    the last 'ops' were taken
// To the page:             { type: 'ops', id, ops, dropped }      rows.js's operations, in order
//                          { type: 'closed', id, opened, reason, code, resume }   it closed
import { Outbox, readSocket } from './stream.js';

const streams = new Map(); // id -> { box, waiting, close }

function send(id, s) {
	if (s.waiting || s.box.empty) return;
	s.waiting = true;
	self.postMessage({ type: 'ops', id, ...s.box.take() });
}

function open({ id, url, protocols, from }) {
	const s = { box: new Outbox(), waiting: false, close: null };
	streams.set(id, s);
	s.close = readSocket(url, protocols, {
		onOps: (ops) => {
			s.box.add(ops);
			send(id, s);
		},
		// What came before the close goes first, not waiting for the page's ack.
		onClose: (how) => {
			streams.delete(id);
			s.waiting = false;
			send(id, s);
			self.postMessage({ type: 'closed', id, ...how });
		},
	}, from);
}

self.onmessage = ({ data: m }) => {
	const s = streams.get(m.id);
	if (m.type === 'open') open(m);
	else if (m.type === 'close' && s) {
		streams.delete(m.id);
		s.close();
	} else if (m.type === 'ack' && s) {
		s.waiting = false;
		send(m.id, s);
	}
};
