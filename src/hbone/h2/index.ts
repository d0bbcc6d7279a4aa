// HTTP/2 for HBONE, in TypeScript (docs/hbone.md, "The HTTP/2 layer"): the session over a verified
// TLS socket, its streams, and the wire constants the rest of src/hbone needs.
export { H2Session, H2UnavailableError, DEFAULT_SESSION_OPTIONS, type H2SessionOptions, type IncomingStream } from './session.js';
export { H2Stream } from './stream.js';
export { ErrorCode, errorName } from './frame.js';
export type { HeaderMap } from './headers.js';
