// Runs before any other module of the CLI loads (main.ts imports it first). A relaying daemon's
// young generation must be pinned before start-up grows it: RSS at 1,000 req/s was 67-68 MB
// pinned here and 74 MB pinned only in the command's action, after module loading had grown it.
// A command line that merely mentions a relaying sub-command gets the same memory-only setting;
// everything else (the lean bind, the flag check) happens in the action (tuneRelayingDaemon).
import { RELAY_COMMANDS, pinYoungGeneration } from '../runtime/index.js';

if (process.argv.slice(2).some((a) => RELAY_COMMANDS.includes(a))) pinYoungGeneration();
