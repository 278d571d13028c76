/**
 * Wakes pull agents' long polls the moment this daemon assigns them a task,
 * instead of on their next poll; assignments made by other daemons are still
 * found by polling.
 */
export class AssignmentSignals {
  private readonly waiters = new Map<string, Set<() => void>>()

  /** Resolves when a task is assigned to the agent here, or after ms. */
  wait(agentId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(agentId)
      if (set === undefined) {
        set = new Set()
        this.waiters.set(agentId, set)
      }
      const done = (): void => {
        clearTimeout(timer)
        set.delete(done)
        if (set.size === 0) this.waiters.delete(agentId)
        resolve()
      }
      const timer = setTimeout(done, ms)
      set.add(done)
    })
  }

  /** Called by the distributor after a successful claim for a pull agent. */
  assigned(agentId: string): void {
    for (const wake of [...(this.waiters.get(agentId) ?? [])]) wake()
  }
}
