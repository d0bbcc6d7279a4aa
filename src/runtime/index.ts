// How ambit's daemons work with the Node runtime itself (the garbage collector), apart from
// sockets and system calls (those are in sys/).
export { RelayGc, relayGc, DEFAULT_RELAY_GC_BYTES } from './young-gc.js';
export { RELAY_COMMANDS, RELAY_NODE_FLAGS, missingRelayFlags, tuneRelayHeap } from './heap.js';
export { installLeanAsyncBind, bindAddsAsyncResource } from './async-bind.js';
