/**
 * Module boundaries of DESIGN.md: daemon -> coordinator, ops, p2p, agent; coordinator -> ops, p2p;
 * ops -> p2p; p2p -> nothing of ours; agent -> ops' process runner only.
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
