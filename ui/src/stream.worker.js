// The stream's parser, in a Web Worker (built as worker.js beside app.js: build.mjs): the page
// posts each WebSocket message's text with its number, and gets back the operations
// (rows.js: digest) with the same number. JSON.parse of a batch (up to 1,000 entries, a
// megabyte or more) and the rows' strings are made here, so the page's main thread, which
// draws the frames, only stores ready rows.
import { digest } from './rows.js';

self.onmessage = (ev) => {
	const { n, text } = ev.data;
	self.postMessage({ n, ops: digest(text) });
};
