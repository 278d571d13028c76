import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'

/** sha256 of each configured file (null when it cannot be read); contents never leave the node. */
export async function configDigests(files: readonly string[]): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {}
  for (const f of files) {
    try {
      out[f] = createHash('sha256').update(await readFile(f)).digest('hex')
    } catch {
      out[f] = null
    }
  }
  return out
}
