// The TypeScript face of the native addon: sockets inside network namespaces and the socket
// options Node lacks. The only code in ambit that touches raw file descriptors.
export { listenInNetns, type NetnsListenOptions } from './listen.js';
export { connectFromNetns, type NetnsConnectOptions } from './connect.js';
export { udpSocketInNetns, type NetnsUdpOptions } from './udp.js';
export { fdOf, originalDst, setMark, getMark, setTransparent, setSendBuffer } from './fd.js';
export { netnsPath, NETNS_DIR } from './netns.js';
export type { SocketAddress } from './addon.js';
