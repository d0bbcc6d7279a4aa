// The apps room's door: the programs the lab runs as pods and internet hosts, and the load client.
export { startEchoServer, podName, type EchoServerOptions, type EchoReport, type RunningApp, type TlsFiles } from './echo.js';
export { startHttpsServer, type HttpsServerOptions, type SiteReport } from './https-server.js';
export { runLoad, type LoadMode, type LoadOptions, type LoadStats, type LoadTarget } from './load.js';
export { listenAddress, parsePort, type ListenAddress } from './listen.js';
export { exitOnSignal } from './lifecycle.js';
