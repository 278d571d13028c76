/**
 * Module boundaries of DESIGN.md: daemon -> coordinator, ops, p2p, agent; coordinator -> ops, p2p;
 * ops -> p2p; p2p -> nothing of ours; agent -> ops' process runner only; cli -> the daemon's
 * entry.ts and config/load.ts only (it is a client of the API, not part of the daemon's wiring).
 */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'p2p-is-a-leaf',
      severity: 'error',
      from: { path: '^src/p2p' },
      to: { path: '^src/(daemon|coordinator|ops|cli)' },
    },
    {
      name: 'ops-only-uses-p2p',
      severity: 'error',
      from: { path: '^src/ops' },
      to: { path: '^src/(daemon|coordinator|cli)' },
    },
    {
      name: 'agent-is-a-client',
      comment: 'src/agent is what agent authors import: it speaks HTTP to daemons and uses only the process runner of ops',
      severity: 'error',
      from: { path: '^src/agent' },
      to: { path: '^src/(daemon|coordinator|p2p|cli|ops/(?!local/run-process))' },
    },
    {
      name: 'cli-is-a-client',
      comment: 'src/cli may import of src/daemon only entry.ts (the commands that run daemon code, loaded when they run) and config/load.ts (config check); never the composition root',
      severity: 'error',
      from: { path: '^src/cli' },
      to: { path: '^src/daemon/(?!(entry|config/load)\\.ts$)' },
    },
    {
      name: 'coordinator-not-daemon',
      severity: 'error',
      from: { path: '^src/coordinator' },
      to: { path: '^src/(daemon|cli)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
}
