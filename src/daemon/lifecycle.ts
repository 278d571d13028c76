/** One piece of the daemon the composition root starts and stops. */
export interface Component {
  /** Name used in logs and in start errors. */
  readonly name: string
  start(): Promise<void>
  stop(): Promise<void>
}

/** Raised when start-up fails; its message is the one line the operator sees. */
export class StartError extends Error {
  readonly code = 'ERR_START'
}

/** Starts components in order; if one fails, stops the ones already started (in reverse) and rethrows. */
export async function startAll(
  components: readonly Component[],
  onStopError: (c: Component, err: unknown) => void,
) {
  const started: Component[] = []
  try {
    for (const c of components) {
      await c.start()
      started.push(c)
    }
  } catch (err) {
    await stopAll(started, onStopError)
    throw err
  }
}

/** Stops components in reverse order; one failing to stop does not keep the others running. */
export async function stopAll(
  components: readonly Component[],
  onStopError: (c: Component, err: unknown) => void,
) {
  for (const c of [...components].reverse()) {
    try {
      await c.stop()
    } catch (err) {
      onStopError(c, err)
    }
  }
}
