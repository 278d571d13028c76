--[[
  The pull agent's next task, claimed in this call (see next_for).

  Input (KEYS[1] is the leases key and ARGV[1] the settings, tasks/includes/layout):
    (no keys of its own)
    ARGV[2] agent id
    ARGV[3] how long it will wait when there is nothing (ms; 0: it will not)
    ARGV[4] this daemon's instance id
]]
--- @include "tasks/includes/claims"
use_settings(ARGV)
return next_for(ARGV[1], tonumber(ARGV[2]), ARGV[3])
