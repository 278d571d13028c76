/**
 * Parts of the libp2p 3.x tree (stream drains, gossipsub) call `Promise.withResolvers`, which Node 20
 * lacks; without it a node cannot even stop. A no-op on Node 22 and later.
 */
export function installPromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: unknown }
  if (typeof P.withResolvers === 'function') return
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}
