// How the relaying daemons work with the Node runtime itself (the garbage collector, V8's heap,
// AsyncResource), apart from sockets and system calls (those are in sys/). docs/hbone.md,
// "Relays and the Node runtime", has the why and the figures.
export { RelayGc, relayGc, DEFAULT_RELAY_GC_BYTES } from './young-gc.js';
export { RELAY_COMMANDS, RELAY_NODE_FLAGS, RELAY_FLAGS_ADVICE, missingRelayFlags, pinYoungGeneration, tuneRelayingDaemon } from './heap.js';
export { installLeanAsyncBind, bindAddsAsyncResource } from './async-bind.js';
export { canPipeNatively, NATIVE_AFTER_READS, NATIVE_MAX_READ, NATIVE_MIN_READS_PER_SEC, setNativeMaxRead, smallReadRun, noteRelayRead, relaysBusy, setRelaysBusy, nativePipeAvailable, pipeNatively, pipeNativelyWhenQuiet, nativeMoveCounts, relayMode, setNativePipeEnabled, type NativeHalf } from './native-pipe.js';
export { copyInJs, COALESCE_MAX, COALESCE_MIN, TUNNEL_BUFFER_BUDGET, TUNNEL_BUFFER_BYTES, tunnelBuffersGranted, type JsCopy } from './copy.js';
export { relayDirection, type RelayDirection, type RelayDirectionOptions } from './direction.js';
