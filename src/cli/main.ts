/**
 * The `aitbc-node` binary (bin/aitbc-node.js). The CLI lives in src/cli, not
 * src/daemon/cli: it is a client of the daemon's HTTP API, not part of the
 * daemon's wiring. It never imports the daemon's composition root; of
 * src/daemon it uses only entry.ts (the commands that run daemon code, each
 * loaded when its command runs) and config/load.ts (`config check`), a rule
 * .dependency-cruiser.cjs enforces. Client commands so load a few modules and
 * start quickly.
 */
import { runCli } from './program.js'
import { processIo } from './output.js'

const io = processIo()
const { code, failed } = await runCli(process.argv, io)
// A command that ended normally may leave work running (the daemon, agent run, simulate-chain).
if (failed) process.exit(code)
else process.exitCode = code
